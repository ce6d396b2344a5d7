"""Experiments and runs in MLflow: find or create them, write values in batches."""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING

from evalkit.trackers.mlflow import rundata as rd
from evalkit.trackers.mlflow.config import TrackingTarget

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

BATCH_PARAMS_TAGS = 100  # MLflow's per-request limits
BATCH_METRICS = 1000


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
    """The MLflow run of an evalkit run, not one of its cells: a parent run of its own, a
    shard's run under its group's parent, or that group parent once a merged run holds it."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{rd.TAG_PREFIX}run_id` = '{_quote(run_id)}' "
        f"and tags.`{rd.TAG_PREFIX}cell` IS NULL",
        max_results=1,
    )
    return runs[0] if runs else None


def find_children(client: MlflowClient, experiment_id: str, parent_id: str) -> dict[str, Run]:
    """The cell runs under a parent, by "variant|model" (a group's parent also has the shard
    runs as children: they are no cells)."""
    cell = f"{rd.TAG_PREFIX}cell"
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    return {r.data.tags[cell]: r for r in runs if cell in r.data.tags}


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def epoch_ms(stamp: str | None) -> int | None:
    try:
        return calendar.timegm(time.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ")) * 1000
    except ValueError:
        return None


def log_values(
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
