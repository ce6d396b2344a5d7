"""After `evalkit gate` decided a logged run again: bring its verdict in MLflow up to date.

Only the verdict changed, so only the verdict tags of the parent and child runs and the
summary.json artifact are rewritten; a full `evalkit log` would upload tables and traces again.

    relog_verdict(Path("runs/20261127-101500-support-faq-1a2b"), previous_summary=before)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.trackers.mlflow import rundata as rd
from evalkit.trackers.mlflow.artifacts import log_text
from evalkit.trackers.mlflow.config import resolve_target
from evalkit.trackers.mlflow.mlflow_logger import TrackedRun, find_children, find_parent
from evalkit.trackers.mlflow.session import store_missing, tracking_client

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

VERDICT_TAGS = tuple(f"{rd.TAG_PREFIX}{name}" for name in ("verdict", "gates", "gates_failed"))
FINGERPRINT = f"{rd.TAG_PREFIX}fingerprint"


def relog_verdict(
    run_dir: Path,
    *,
    tracking_uri: str | None = None,
    previous_summary: dict[str, Any] | None = None,
) -> TrackedRun | None:
    """Rewrite the verdict of the run logged from `run_dir`; None when it was never logged.

    `previous_summary` (summary.json before the gates were decided again) tells whether MLflow
    was up to date before: then it is again, and a later `evalkit log` has nothing to do."""
    run = rd.load_run(run_dir)
    target = resolve_target(run_dir, uri=tracking_uri, suite_name=run.suite_name)
    if store_missing(target):
        return None
    with tracking_client(target) as client:
        experiment = client.get_experiment_by_name(target.experiment)
        parent = find_parent(client, experiment.experiment_id, run.run_id) if experiment else None
        if experiment is None or parent is None:
            return None
        parent_id = parent.info.run_id
        _retag(client, parent, rd.verdict_tags(run.verdict), run)
        for child in find_children(client, experiment.experiment_id, parent_id).values():
            cell = {
                key: child.data.tags.get(f"{rd.TAG_PREFIX}{key}") for key in ("variant", "model")
            }
            _retag(client, child, rd.verdict_tags(rd.cell_verdict(run.verdict, cell)), run)
        summary = json.dumps(run.redactor.value(run.summary), indent=2, default=str)
        log_text(client, parent_id, summary, "summary.json")
        logged = parent.data.tags.get(FINGERPRINT)
        if previous_summary is not None and logged == rd.summary_fingerprint(previous_summary):
            client.set_tag(parent_id, FINGERPRINT, run.fingerprint())
    return TrackedRun(
        run.run_id, target.display_uri, target.experiment, experiment.experiment_id, parent_id
    )


def _retag(client: MlflowClient, mlflow_run: Run, tags: dict[str, str], run: rd.RunData) -> None:
    """Set the verdict tags, and drop those the new verdict no longer has (gates_failed)."""
    from mlflow.entities import RunTag

    run_id = mlflow_run.info.run_id
    for name in VERDICT_TAGS:
        if name in mlflow_run.data.tags and name not in tags:
            client.delete_tag(run_id, name)
    if tags:
        batch = [RunTag(k, run.redactor.text(v)[:8000]) for k, v in tags.items()]
        client.log_batch(run_id, tags=batch)
