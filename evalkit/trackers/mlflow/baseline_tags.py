"""Named baselines in MLflow, so a baseline set on one machine gates CI runs on another.

The plug-in that evalkit.gates.baselines looks for. With tracking on, `evalkit baseline set RUN_ID
--name main` makes sure the run is logged (with its results.jsonl), then tags its parent run
`evalkit.baseline.main = true` (untagging the run that was `main` before) and its experiment
`evalkit.baseline.main = RUN_ID`. A regression gate on a machine whose runs folder lacks the
baseline (a fresh CI runner) finds the name in the experiment of the run being gated, and
downloads the files a gate reads (run.json, results.jsonl, summary.json, suite.yaml) into
runs/<run_id>/, where they look like any local run.

    baselines = MlflowBaselines(run_dir, resolve_target(run_dir))
    baselines.find_baseline("main")   # "20261120-090000-support-faq-9f9f", or None
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from evalkit.results.redaction import Redactor
from evalkit.results.store import MANIFEST
from evalkit.trackers.mlflow.artifacts import RECORD_FILES, write_record_files
from evalkit.trackers.mlflow.auth import explain
from evalkit.trackers.mlflow.config import TrackingTarget
from evalkit.trackers.mlflow.session import store_missing, tracking_client

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from evalkit.results.store import StoredRun

P = ParamSpec("P")
R = TypeVar("R")

BASELINE_TAG = "evalkit.baseline."
FETCHED = (MANIFEST, "results.jsonl", "summary.json", "suite.yaml")
REQUIRED = (MANIFEST, "results.jsonl")


class TrackerError(RuntimeError):
    """MLflow could not answer; one line, without credentials (it ends up in gate reports)."""


def baseline_tag(name: str) -> str:
    return f"{BASELINE_TAG}{name}"


def _one_line_errors(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # MLflow raises many kinds; callers need one clear line
            target: TrackingTarget = args[0].target  # type: ignore[attr-defined]
            raise TrackerError(explain(exc, target.display_uri)) from exc

    return wrapper


class MlflowBaselines:
    """`run_dir`: the run being marked (mark_baseline) or gated (find_baseline, fetch_run);
    its suite decides the tracking URI and the experiment, as for logging."""

    def __init__(self, run_dir: Path, target: TrackingTarget) -> None:
        self.run_dir = run_dir
        self.target = target

    @_one_line_errors
    def mark_baseline(self, name: str, run: StoredRun) -> None:
        """Log the run unless it is (idempotent), then move the baseline tags to it."""
        from evalkit.trackers.mlflow.logger import log_stored_run

        logged = log_stored_run(run, self.target)
        with tracking_client(self.target) as client:
            _ensure_records(client, logged.mlflow_run_id, run.run_dir)
            _move_tag(client, logged.experiment_id, name, run.run_id, logged.mlflow_run_id)

    @_one_line_errors
    def find_baseline(self, name: str) -> str | None:
        """The run id the experiment tags as `name`, else `name` itself if it is a logged run."""
        if store_missing(self.target):
            return None
        with tracking_client(self.target) as client:
            experiment = client.get_experiment_by_name(self.target.experiment)
            if experiment is None:
                return None
            tagged = experiment.tags.get(baseline_tag(name))
            if tagged:
                return str(tagged)
            found = _parent_id(client, experiment.experiment_id, name)  # a run id, not a name
            return name if found is not None else None

    @_one_line_errors
    def fetch_run(self, run_id: str, runs_dir: Path) -> None:
        """Download the logged run's files into runs_dir/run_id (atomically)."""
        with tracking_client(self.target) as client:
            experiment = client.get_experiment_by_name(self.target.experiment)
            found = _parent_id(client, experiment.experiment_id, run_id) if experiment else None
            if found is None:
                raise LookupError(
                    f"run {run_id} is not in MLflow experiment '{self.target.experiment}'"
                    f" at {self.target.display_uri}"
                )
            _download(client, found, run_id, runs_dir)


def _parent_id(client: MlflowClient, experiment_id: str, run_id: str) -> str | None:
    from evalkit.trackers.mlflow.runs import find_parent

    parent = find_parent(client, experiment_id, run_id)
    return None if parent is None else str(parent.info.run_id)


def _ensure_records(client: MlflowClient, parent_id: str, run_dir: Path) -> None:
    """Upload results.jsonl (and pairwise.jsonl) if the run was logged without them (logged
    by an earlier evalkit, and unchanged since, so logging it again skipped it)."""
    present = {artifact.path for artifact in client.list_artifacts(parent_id)}
    missing = tuple(name for name in RECORD_FILES if name not in present)
    if not missing:
        return
    with tempfile.TemporaryDirectory() as tmp:
        if write_record_files(run_dir, Redactor.from_env(), Path(tmp), missing):
            client.log_artifacts(parent_id, tmp)


def _move_tag(
    client: MlflowClient, experiment_id: str, name: str, run_id: str, parent_id: str
) -> None:
    """One run of the experiment carries the name: untag the others, tag this one."""
    tag = baseline_tag(name)
    tagged = client.search_runs([experiment_id], filter_string=f"tags.`{tag}` = 'true'")
    for other in tagged:
        if other.info.run_id != parent_id:
            client.delete_tag(other.info.run_id, tag)
    client.set_tag(parent_id, tag, "true")
    client.set_experiment_tag(experiment_id, tag, run_id)


def _download(client: MlflowClient, parent_id: str, run_id: str, runs_dir: Path) -> None:
    present = {artifact.path for artifact in client.list_artifacts(parent_id)}
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise LookupError(
            f"its MLflow run has no {' or '.join(missing)} (logged by an earlier evalkit); log"
            f" it again where its run folder is: evalkit log {run_id} --force"
        )
    runs_dir.mkdir(parents=True, exist_ok=True)
    # into a hidden sibling first, then one rename: a half-downloaded run is never seen
    staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=runs_dir))
    try:
        for name in FETCHED:
            if name in present:
                client.download_artifacts(parent_id, name, str(staging))
        _check_manifest(staging, run_id)
        try:
            staging.rename(runs_dir / run_id)
        except OSError:
            if not (runs_dir / run_id / MANIFEST).is_file():  # another job won the race: fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_manifest(folder: Path, run_id: str) -> None:
    from evalkit.results.schema import RunManifest

    logged = RunManifest.model_validate_json((folder / MANIFEST).read_text("utf-8")).run_id
    if logged != run_id:
        raise LookupError(f"the MLflow run tagged {run_id} holds run {logged}")
