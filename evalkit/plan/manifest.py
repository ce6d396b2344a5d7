"""run.json for a plan: what was run, enough to resume it and to log it to a tracker later."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.results.schema import (
    MetricInfo,
    ModelInfo,
    RunManifest,
    RunOptionsInfo,
    SuiteInfo,
    VariantInfo,
)

if TYPE_CHECKING:
    from evalkit.plan import Plan


def build_manifest(plan: Plan, run_id: str, options: RunOptionsInfo) -> RunManifest:
    import json
    import platform
    import time

    from evalkit import __version__
    from evalkit.graders.summary import grader_manifest
    from evalkit.results.redaction import Redactor

    suite, redactor = plan.suite, Redactor.from_env()
    return RunManifest(
        run_id=run_id,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        evalkit_version=__version__,
        python=platform.python_version(),
        git_commit=git_commit(plan.loaded.base_dir),
        suite=SuiteInfo(
            name=suite.name,
            description=suite.description,
            path=str(plan.loaded.path),
            hash=plan.loaded.hash,
            tags=dict(suite.tags),
        ),
        dataset=plan.dataset_info(),
        variants={
            name: VariantInfo(
                hash=v.hash,
                template=v.template_text,
                messages=[
                    {"role": m.role, "content": m.source, **({"name": m.name} if m.name else {})}
                    for m in v.messages
                ],
            )
            for name, v in plan.variants.items()
            if name in plan.variant_names
        },
        # options may hold an interpolated ${SECRET}: run.json must never carry it
        models=[
            ModelInfo.model_validate(redactor.mapping(m.model_dump(mode="json")))
            for m in suite.models
            if m.id in plan.model_ids
        ],
        metrics=[
            MetricInfo(name=m.name, type=m.type, args=json.loads(json.dumps(m.args, default=str)))
            for m in [*plan.metrics, *plan.row_metrics]
        ],
        graders=grader_manifest(plan.graders),
        repeats=plan.repeats,
        total=plan.total,
        options=options,
    )


def git_commit(folder: Path) -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
