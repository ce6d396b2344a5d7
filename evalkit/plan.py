"""Everything a run needs, prepared and checked before the first model call.

`prepare()` loads the suite and dataset, compiles prompt variants, checks every template
against every row, checks providers and model configs, binds metrics and graders and checks the
gates; any user error surfaces here, as a SuiteError with file:line, before anything is spent.
`evalkit validate` is `prepare()` plus a report; nothing here imports a provider's SDK or a
user's module. `work_items()` then yields the matrix lazily.

    plan = prepare("suites/support.yaml", limit=5)
    print(plan.summary_line())
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.data.loaders import dataset_digest, dataset_name, dataset_source, load_dataset
from evalkit.data.shards import Shard, group_id, shard_examples
from evalkit.errors import SuiteError
from evalkit.gates.apply import check_gates
from evalkit.graders.bind import BoundGrader, bind_graders
from evalkit.metrics.bind import BoundMetric, bind_metrics
from evalkit.prompts.variants import CompiledVariant, check_variables, compile_loaded
from evalkit.records import Example, WorkItem
from evalkit.results.schema import (
    DatasetInfo,
    MetricInfo,
    ModelInfo,
    RunManifest,
    RunOptionsInfo,
    ShardInfo,
    SuiteInfo,
    VariantInfo,
)
from evalkit.suite.loader import LoadedSuite, load_suite
from evalkit.suite.schema import MetricConfig, Suite

SuiteSource = str | Path | Suite | LoadedSuite


@dataclass
class Plan:
    loaded: LoadedSuite
    examples: list[Example]
    variants: dict[str, CompiledVariant]
    metrics: list[BoundMetric]
    variant_names: list[str]
    model_ids: list[str]
    graders: list[BoundGrader] = field(default_factory=list)
    shard: Shard | None = None
    dataset: list[Example] | None = None  # every example, when `examples` is a shard's slice

    @property
    def suite(self) -> Suite:
        return self.loaded.suite

    @property
    def total(self) -> int:
        return len(self.examples) * len(self.variant_names) * len(self.model_ids) * self.repeats

    @property
    def repeats(self) -> int:
        return int(self.loaded.suite.repeats)

    @property
    def judge_ids(self) -> list[str]:
        """Every judge the graders name (their runtimes are created with the models')."""
        return list(dict.fromkeys(j for g in self.graders for j in g.judge_ids))

    def work_items(self, skip: set[str] | None = None) -> Iterator[WorkItem]:
        """Example-major order, so early results already cover every variant and model."""
        skip = skip or set()
        for example in self.examples:
            for repeat in range(self.repeats):
                for variant in self.variant_names:
                    for model in self.model_ids:
                        item = WorkItem(example, variant, model, repeat)
                        if item.key not in skip:
                            yield item

    def dataset_info(self) -> DatasetInfo:
        """The whole dataset (also in a shard run: shards of the same data compare equal)."""
        examples = self.dataset if self.dataset is not None else self.examples
        return DatasetInfo(
            name=dataset_name(self.suite.dataset),
            digest=dataset_digest(examples),
            rows=len(examples),
            path=self.suite.dataset.path,
        )

    def manifest(
        self, run_id: str, options: RunOptionsInfo, group: str | None = None
    ) -> RunManifest:
        """run.json: what was run, enough to resume it and to log it to a tracker later."""
        manifest = build_manifest(self, run_id, options)
        if self.shard is not None:
            mine = {e.id for e in self.examples}
            positions = {e.id: k for k, e in enumerate(self.dataset or []) if e.id in mine}
            manifest.shard = ShardInfo(
                index=self.shard.index,
                count=self.shard.count,
                examples=len(self.examples),
                positions=positions,
            )
        if group is not None or self.shard is not None:
            manifest.group = group_id(manifest.suite.hash, manifest.dataset.digest, group)
        return manifest

    def summary_line(self) -> str:
        return (
            f"suite '{self.suite.name}': {_n(len(self.examples), 'example')} x "
            f"{_n(len(self.variant_names), 'variant')} x {_n(len(self.model_ids), 'model')} x "
            f"{_n(self.repeats, 'repeat')} = {_n(self.total, 'call')}"
        )


def prepare(
    suite: SuiteSource,
    *,
    limit: int | None = None,
    variants: list[str] | None = None,
    models: list[str] | None = None,
    base_dir: Path | None = None,
    shard: Shard | None = None,
) -> Plan:
    """Load (a path) or adopt (a Suite built in Python) a suite and check all of it.

    With `shard`, the plan runs that slice of the examples (after `limit`); every check still
    covers every row, so each shard of a suite fails or passes validation alike."""
    loaded = _loaded(suite, base_dir)
    examples = load_dataset(loaded)
    if limit is not None:
        examples = examples[:limit]
    source = dataset_source(loaded.suite.dataset, loaded.base_dir)
    compiled = compile_loaded(loaded)
    check_variables(compiled, examples, source=source)
    check_providers(loaded)
    metrics = bind_metrics(
        list(loaded.suite.metrics), loaded.base_dir, file=loaded.file, locate=loaded.line_of
    )
    check_metric_templates(loaded, examples, source)
    metric_names = [m.display_name for m in loaded.suite.metrics]
    graders = bind_graders(loaded, examples, source, metric_names)
    check_gates(loaded.suite, loaded.file, loaded.line_of)
    check_reporters(loaded)
    return Plan(
        loaded=loaded,
        examples=shard_examples(examples, shard) if shard is not None else examples,
        dataset=examples if shard is not None else None,
        shard=shard,
        variants=compiled,
        metrics=metrics,
        variant_names=_select("prompt variant", list(compiled), variants),
        model_ids=_select("model", [m.id for m in loaded.suite.models], models),
        graders=graders,
    )


def _loaded(suite: SuiteSource, base_dir: Path | None) -> LoadedSuite:
    from evalkit.suite.loader import adopt_suite

    if isinstance(suite, LoadedSuite):
        return suite
    if isinstance(suite, Suite):
        return adopt_suite(suite, base_dir or Path.cwd())
    return load_suite(suite)


def check_providers(loaded: LoadedSuite) -> None:
    """Every model names a registered provider (the registry is read; nothing is imported)."""
    from evalkit.plugins.registry import registry

    reg = registry()
    entries = [("models", i, m) for i, m in enumerate(loaded.suite.models)]
    entries += [("judges", i, m) for i, m in enumerate(loaded.suite.judges)]
    for section, index, model in entries:
        if not reg.has("provider", model.provider):
            error = reg.unknown("provider", model.provider)
            error.message = f"model '{model.id}': {error.message}"
            error.file, error.line = loaded.file, loaded.line_of((section, index, "provider"))
            raise error


def check_reporters(loaded: LoadedSuite) -> None:
    """Every report names a registered reporter (a typo fails before the run, not after)."""
    from evalkit.plugins.registry import registry

    for index, report in enumerate(loaded.suite.reports):
        if not registry().has("reporter", report.type):
            error = registry().unknown("reporter", report.type)
            error.file, error.line = loaded.file, loaded.line_of(("reports", index, "type"))
            raise error


def check_metric_templates(loaded: LoadedSuite, examples: list[Example], source: str) -> None:
    """Templated metric arguments (`contains: "{{ expected }}"`) find their columns in every row."""
    from evalkit.prompts.variants import check_template_variables

    for index, config in enumerate(loaded.suite.metrics):
        variables, try_render = _metric_templates(config, loaded.file)
        if variables:
            label = f"metric '{config.display_name}'"
            try:
                check_template_variables(label, variables, try_render, examples, source=source)
            except SuiteError as exc:
                exc.file = exc.file or loaded.file
                exc.line = exc.line or loaded.line_of(("metrics", index))
                raise


def _metric_templates(config: MetricConfig, file: str) -> tuple[set[str], Any]:
    from evalkit.prompts.render import compile_template, render, template_variables

    sources = [v for v in _strings(config.args) if "{{" in v or "{%" in v]
    origin = f"metric {config.display_name}"
    templates = [compile_template(s, origin) for s in sources]
    variables = set().union(*(template_variables(s) for s in sources)) if sources else set()

    def try_render(example: Example) -> None:
        for template in templates:
            render(template, example.row, example_id=example.id, origin=file, line=example.line)

    return variables, try_render


def _strings(args: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for value in args.values():
        items = value if isinstance(value, list) else [value]
        found.extend(v for v in items if isinstance(v, str))
    return found


def _select(what: str, available: list[str], wanted: list[str] | None) -> list[str]:
    """--variant / --model filters; an unknown name is an error, never silently ignored."""
    if not wanted:
        return available
    unknown = [w for w in wanted if w not in available]
    if unknown:
        raise SuiteError(
            f"unknown {what} '{unknown[0]}'", hint=f"the suite has: {', '.join(available)}"
        )
    return [a for a in available if a in wanted]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


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
                messages=[{"role": m.role, "content": m.source} for m in v.messages],
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
            for m in plan.metrics
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
