"""After `evalkit gate` decided a logged run again: bring its verdict in MLflow up to date.

Only the verdict changed, so only the verdict tags of the parent and child runs and the
summary.json artifact are rewritten; a full `evalkit log` would upload tables and traces again.

    relog_verdict(load_run(run_dir), target, previous=summary_before)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.trackers.mlflow import rundata as rd
from evalkit.trackers.mlflow.artifacts import log_text
from evalkit.trackers.mlflow.config import TrackingTarget
from evalkit.trackers.mlflow.localstore import sqlite_path
from evalkit.trackers.mlflow.logger import FINGERPRINT, LoggedRun
from evalkit.trackers.mlflow.runs import find_children, find_parent
from evalkit.trackers.mlflow.session import tracking_client

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from evalkit.results.schema import RunSummary
    from evalkit.results.store import StoredRun

VERDICT_TAGS = tuple(f"{rd.TAG_PREFIX}{name}" for name in ("verdict", "gates", "gates_failed"))


def relog_verdict(
    run: StoredRun, target: TrackingTarget, previous: RunSummary | None = None
) -> LoggedRun | None:
    """Rewrite the verdict of the run logged from `run`; None when it was never logged.

    `previous` (the summary before the gates were decided again) tells whether MLflow was up
    to date before: then it is again, and a later `evalkit log` has nothing to do."""
    db = sqlite_path(target.uri)
    if db is not None and not db.is_file():
        return None  # nothing was ever logged here: no MLflow to update
    docs = rd.RunDocs(run.manifest, run.summary, run.suite_text)
    with tracking_client(target) as client:
        experiment = client.get_experiment_by_name(target.experiment)
        parent = find_parent(client, experiment.experiment_id, run.run_id) if experiment else None
        if experiment is None or parent is None:
            return None
        parent_id = parent.info.run_id
        verdict = run.summary.verdict
        _retag(client, parent, rd.verdict_tags(verdict), docs)
        for child in find_children(client, experiment.experiment_id, parent_id).values():
            variant = child.data.tags.get(f"{rd.TAG_PREFIX}variant", "")
            model = child.data.tags.get(f"{rd.TAG_PREFIX}model", "")
            cell = rd.cell_verdict(verdict, variant, model)
            _retag(client, child, rd.verdict_tags(cell), docs)
        summary = docs.redactor.text(run.summary.model_dump_json(indent=2))
        log_text(client, parent_id, summary, "summary.json")
        logged = parent.data.tags.get(FINGERPRINT)
        if previous is not None and logged == rd.summary_fingerprint(previous):
            client.set_tag(parent_id, FINGERPRINT, docs.fingerprint())
    return LoggedRun(
        run.run_id, target.display_uri, target.experiment, experiment.experiment_id, parent_id
    )


def _retag(client: MlflowClient, mlflow_run: Run, tags: dict[str, str], docs: rd.RunDocs) -> None:
    """Set the verdict tags, and drop those the new verdict no longer has (gates_failed)."""
    from mlflow.entities import RunTag

    run_id = mlflow_run.info.run_id
    for name in VERDICT_TAGS:
        if name in mlflow_run.data.tags and name not in tags:
            client.delete_tag(run_id, name)
    if tags:
        batch = [RunTag(k, docs.redactor.text(v)[:8000]) for k, v in tags.items()]
        client.log_batch(run_id, tags=batch)
