"""Log a run directory to MLflow: a parent run per evalkit run, a child per variant x model.

MLflow is a subscriber: this reads runs/<run_id>/ after the run (finished or interrupted) and
never touches it. Logging is idempotent by evalkit run id (tag `evalkit.run_id`): logging the
same run again skips it when nothing changed, and updates the same MLflow runs when the results
did (a resumed run). Params, metrics and tags go up with `log_batch`; per-example data goes up
as one table artifact per run and one batched span upload, so a 10,000-row run adds seconds.

    tracked = track_run(Path("runs/20261127-101500-support-faq-1a2b"))
    print(tracked.url)
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.suite.schema import TrackingConfig
from evalkit.trackers.mlflow import rundata as rd
from evalkit.trackers.mlflow.artifacts import (
    log_dataset,
    log_parent_artifacts,
    log_table,
    log_text,
    variant_text,
)
from evalkit.trackers.mlflow.config import TrackingTarget, resolve_target
from evalkit.trackers.mlflow.session import check_reachable, mlflow_session
from evalkit.trackers.mlflow.tables import results_frame

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

STATUS = {"complete": "FINISHED", "interrupted": "KILLED"}  # anything else: FAILED
BATCH_PARAMS_TAGS = 100  # MLflow's per-request limits
BATCH_METRICS = 1000


@dataclass
class TrackedRun:
    """Where a run was logged."""

    run_id: str
    uri: str
    experiment: str
    experiment_id: str
    mlflow_run_id: str
    children: dict[str, str] = field(default_factory=dict)  # "variant x model" -> run id
    prompts: dict[str, str] = field(default_factory=dict)  # variant -> prompts:/name/version
    traces: int = 0
    skipped: bool = False  # already logged with the same results
    seconds: float = 0.0

    @property
    def url(self) -> str | None:
        """The run's page in the UI (servers only; a local store is browsed with `evalkit ui`)."""
        if not self.uri.startswith(("http://", "https://")):
            return None
        return (
            f"{self.uri.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.mlflow_run_id}"
        )


def track_run(
    run_dir: Path,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    config: TrackingConfig | None = None,
    force: bool = False,
) -> TrackedRun:
    """Log the run in `run_dir`; raises on any MLflow error (callers decide how to warn)."""
    started = time.perf_counter()
    run = rd.load_run(run_dir)
    target = resolve_target(
        run_dir, uri=tracking_uri, experiment=experiment, config=config, suite_name=run.suite_name
    )
    check_reachable(target)
    with mlflow_session(target.uri):
        from mlflow import MlflowClient

        client = MlflowClient(target.uri)
        tracked = _log(client, target, run, force)
    tracked.seconds = time.perf_counter() - started
    return tracked


def _log(client: MlflowClient, target: TrackingTarget, run: rd.RunData, force: bool) -> TrackedRun:
    experiment_id = ensure_experiment(client, target)
    existing = find_parent(client, experiment_id, run.run_id)
    fingerprint = run.fingerprint()
    tracked = TrackedRun(run.run_id, target.display_uri, target.experiment, experiment_id, "")
    logged = existing.data.tags.get(f"{rd.TAG_PREFIX}fingerprint") if existing else None
    if logged == fingerprint and existing and not force:
        tracked.mlflow_run_id, tracked.skipped = existing.info.run_id, True
        return tracked
    parent = existing or _create_run(client, experiment_id, run, run.run_id, {})
    tracked.mlflow_run_id = parent.info.run_id
    fresh = existing is None
    _log_values(client, parent, rd.parent_params(run), rd.parent_metrics(run), rd.parent_tags(run))
    tracked.children = _log_cells(client, experiment_id, run, parent.info.run_id, fresh)
    log_parent_artifacts(client, parent.info.run_id, run, fresh)
    log_dataset(client, [parent.info.run_id, *tracked.children.values()], run)
    if target.register_prompts:
        tracked.prompts = _register_prompts(client, run, parent.info.run_id, tracked.children)
    tracked.traces = _log_traces(client, experiment_id, run, tracked.children, target, fresh)
    # the fingerprint goes last: a logging attempt that failed half-way is redone next time
    _end_runs(client, run, [parent.info.run_id, *tracked.children.values()])
    client.set_tag(parent.info.run_id, f"{rd.TAG_PREFIX}fingerprint", fingerprint)
    return tracked


# --- experiments and runs --------------------------------------------------------------------


def ensure_experiment(client: MlflowClient, target: TrackingTarget) -> str:
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(target.experiment)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    try:
        return str(
            client.create_experiment(
                target.experiment,
                artifact_location=target.artifact_location,
                tags={"evalkit.suite": target.experiment},
            )
        )
    except MlflowException:  # created concurrently by another job: use theirs
        found = client.get_experiment_by_name(target.experiment)
        if found is None:
            raise
        return str(found.experiment_id)


def find_parent(client: MlflowClient, experiment_id: str, run_id: str) -> Run | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{rd.TAG_PREFIX}run_id` = '{_quote(run_id)}' "
        "and tags.`mlflow.parentRunId` IS NULL",
        max_results=1,
    )
    return runs[0] if runs else None


def find_children(client: MlflowClient, experiment_id: str, parent_id: str) -> dict[str, Run]:
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    return {r.data.tags.get(f"{rd.TAG_PREFIX}cell", ""): r for r in runs}


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def _create_run(
    client: MlflowClient, experiment_id: str, run: rd.RunData, name: str, tags: dict[str, str]
) -> Run:
    # the MLflow run starts when the evalkit run started, so the UI's dates are the run's
    start = _epoch_ms(run.manifest.get("created_at"))
    return client.create_run(experiment_id, start_time=start, tags=tags, run_name=name)


def _epoch_ms(stamp: Any) -> int | None:
    try:
        return calendar.timegm(time.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ")) * 1000
    except ValueError:
        return None


def _log_values(
    client: MlflowClient,
    mlflow_run: Run,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> None:
    """Params (only new ones: MLflow params are immutable), metrics and tags, in batches."""
    from mlflow.entities import Metric, Param, RunTag

    run_id = mlflow_run.info.run_id
    known = mlflow_run.data.params
    new_params = [Param(k, v) for k, v in params.items() if k not in known]
    now = int(time.time() * 1000)
    metric_list = [Metric(k, v, now, 0) for k, v in metrics.items()]
    tag_list = [RunTag(k, v) for k, v in tags.items()]
    for start in range(0, len(new_params), BATCH_PARAMS_TAGS):
        client.log_batch(run_id, params=new_params[start : start + BATCH_PARAMS_TAGS])
    for start in range(0, len(tag_list), BATCH_PARAMS_TAGS):
        client.log_batch(run_id, tags=tag_list[start : start + BATCH_PARAMS_TAGS])
    for start in range(0, len(metric_list), BATCH_METRICS):
        client.log_batch(run_id, metrics=metric_list[start : start + BATCH_METRICS])


def _log_cells(
    client: MlflowClient, experiment_id: str, run: rd.RunData, parent_id: str, fresh: bool
) -> dict[str, str]:
    existing = {} if fresh else find_children(client, experiment_id, parent_id)
    children = {}
    for cell in run.summary.get("cells", []):
        tags = rd.cell_tags(run, cell, parent_id)
        child = existing.get(tags[f"{rd.TAG_PREFIX}cell"]) or _create_run(
            client, experiment_id, run, rd.cell_run_name(run, cell), tags
        )
        _log_values(client, child, rd.cell_params(run, cell), rd.cell_metrics(cell), tags)
        records = run.cell_records(cell["variant"], cell["model"])
        log_table(client, child.info.run_id, results_frame(records, run.redactor), fresh)
        log_text(client, child.info.run_id, variant_text(run, cell["variant"]), "prompt.txt")
        children[rd.cell_name(cell)] = child.info.run_id
    return children


def _end_runs(client: MlflowClient, run: rd.RunData, run_ids: list[str]) -> None:
    status = STATUS.get(run.status, "FAILED")
    end = _epoch_ms(run.summary.get("finished_at"))
    for run_id in run_ids:
        client.set_terminated(run_id, status=status, end_time=end)


# --- prompts and traces ----------------------------------------------------------------------


def _register_prompts(
    client: MlflowClient, run: rd.RunData, parent_id: str, children: dict[str, str]
) -> dict[str, str]:
    from evalkit.trackers.mlflow.prompts import register_variants

    versions = register_variants(client, run)
    for name, version in versions.items():
        client.link_prompt_version_to_run(parent_id, version)
        for cell in run.summary.get("cells", []):
            if cell["variant"] == name and rd.cell_name(cell) in children:
                client.link_prompt_version_to_run(children[rd.cell_name(cell)], version)
    return {name: version.uri for name, version in versions.items()}


def _log_traces(
    client: MlflowClient,
    experiment_id: str,
    run: rd.RunData,
    children: dict[str, str],
    target: TrackingTarget,
    fresh: bool,
) -> int:
    from evalkit.trackers.mlflow.traces import delete_run_traces, log_traces

    if target.traces <= 0:
        return 0
    if not fresh:
        delete_run_traces(client, experiment_id, run.run_id)
    cell_runs = {
        (c["variant"], c["model"]): children[rd.cell_name(c)]
        for c in run.summary.get("cells", [])
        if rd.cell_name(c) in children
    }
    concurrent = not target.uri.startswith("sqlite:")
    return log_traces(client, experiment_id, run, cell_runs, target.traces, concurrent)
