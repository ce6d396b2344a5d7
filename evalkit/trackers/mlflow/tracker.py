"""MLflow as a Tracker (evalkit.trackers.base): the object the run path, `log`, `ui`, the gates
and the baselines talk to.

In a run, the MLflow work happens off the critical path, in a logging process (live.py ->
worker.py) started by `on_start` while the run's providers are still being created: it imports
MLflow, opens the store, creates the runs and logs the items as they are appended to
results.jsonl; `on_finish` hands it the end and `log_run` waits for it (unless
EVALKIT_NO_WAIT_TRACKING=1, `evalkit run --no-wait-tracking`). A re-run whose inputs match a run
already logged (reruns.py) starts nothing until an item misses the cache, and logs nothing if
its results match too. Elsewhere (`evalkit log`, `baseline set`) a run is logged in-process
from its documents. mlflow itself is imported only inside the calls, never by this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.trackers.base import TrackedRun, TrackerSettings
from evalkit.trackers.mlflow import reruns
from evalkit.trackers.mlflow.config import TrackingTarget, resolve_target

if TYPE_CHECKING:
    from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
    from evalkit.results.store import StoredRun
    from evalkit.trackers.mlflow.live import LiveLogging
    from evalkit.trackers.mlflow.logger import LoggedRun


def no_wait() -> bool:
    return os.environ.get("EVALKIT_NO_WAIT_TRACKING", "").strip().lower() in ("1", "true", "yes")


class MlflowTracker:
    name = "mlflow"
    label = "MLflow"

    def __init__(self, settings: TrackerSettings) -> None:
        self.settings = settings
        self.live: LiveLogging | None = None
        self.manifest: RunManifest | None = None
        self.same_as: dict[str, Any] | None = None  # a logged run with the same inputs

    def target(self, run_dir: Path | None = None, suite_name: str | None = None) -> TrackingTarget:
        folder = run_dir or self.settings.run_dir
        if folder is None:
            raise LookupError("MLflow needs the run whose suite names the tracking URI")
        return resolve_target(
            folder,
            uri=self.settings.uri,
            experiment=self.settings.experiment,
            config=self.settings.config,
            suite_name=suite_name,
        )

    # --- a run as it goes ----------------------------------------------------------------------

    def on_start(self, manifest: RunManifest) -> None:
        self.manifest = manifest
        target = self.target(suite_name=manifest.suite.name)
        key = reruns.target_key(target.display_uri, target.experiment)
        if not manifest.options.no_cache and _store_exists(target):
            self.same_as = reruns.find(self.settings.runs_dir, key, manifest)
        if self.same_as is None:
            self._start()

    def on_records(self, batch: Sequence[ResultRecord]) -> None:
        if self.same_as is not None and self.live is None and any(not r.cached for r in batch):
            self._start()  # not a cached re-run after all: log it, late but still overlapping

    def on_finish(self, summary: RunSummary) -> None:
        if self.live is None and self.same_as is not None:
            if self.same_as.get("results") == reruns.results_fingerprint(summary):
                return  # the same results as a logged run: nothing to log
            self._start()
        if self.live is not None:
            self.live.finish()

    def _start(self) -> None:
        from evalkit.trackers.mlflow.live import LiveLogging

        assert self.manifest is not None and self.settings.run_dir is not None
        target = self.target(suite_name=self.manifest.suite.name)
        self.live = LiveLogging.start(target, self.settings.runs_dir)
        self.live.begin(self.settings.run_dir)
        self.same_as = None

    # --- the Tracker protocol ------------------------------------------------------------------

    def log_run(self, run: StoredRun, *, force: bool = False) -> TrackedRun:
        if self.manifest is not None and self.manifest.run_id == run.run_id and not force:
            return self._live_result(run)
        from evalkit.trackers.mlflow.auth import plain_refusals
        from evalkit.trackers.mlflow.logger import log_stored_run

        target = self.target(run.run_dir, run.manifest.suite.name)
        with plain_refusals(target.display_uri):
            return tracked(log_stored_run(run, target, force))

    def _live_result(self, run: StoredRun) -> TrackedRun:
        if self.live is None:  # on_finish found the same results logged already
            same = dict(self.same_as or {})
            where = self.target(run.run_dir, run.manifest.suite.name)
            message = (
                f"unchanged since run {same.get('run_id')}, already in MLflow experiment"
                f" '{where.experiment}'; not logged again (`evalkit log {run.run_id}` logs it)"
            )
            return TrackedRun(
                "mlflow", run.run_id, where.display_uri, skipped=True, message=message
            )
        if no_wait():
            process = f"pid {self.live.pid}, log {self.live.log_path}"
            message = f"logging to MLflow in the background ({process})"
            return TrackedRun("mlflow", run.run_id, "", message=message)
        outcome = self.live.result()
        if outcome.get("event") != "done":
            raise RuntimeError(outcome.get("message") or "the logging process failed")
        from evalkit.trackers.mlflow.logger import LoggedRun

        result = tracked(LoggedRun(**outcome["logged"]))
        result.details["logging_peak_mb"] = outcome.get("peak_mb")
        return result

    def log_verdict(self, run: StoredRun, previous: RunSummary | None) -> TrackedRun | None:
        from evalkit.trackers.mlflow.auth import plain_refusals
        from evalkit.trackers.mlflow.relog import relog_verdict

        target = self.target(run.run_dir, run.manifest.suite.name)
        with plain_refusals(target.display_uri):
            logged = relog_verdict(run, target, previous)
        if logged is None:
            return None
        result = tracked(logged)
        result.message = f"verdict updated in MLflow: {result.location}"
        return result

    def _baselines(self, run_dir: Path | None) -> Any:
        from evalkit.trackers.mlflow.baseline_tags import MlflowBaselines

        folder = run_dir or self.settings.run_dir
        if folder is None:
            raise LookupError("MLflow baselines need the run whose suite names the tracking URI")
        return MlflowBaselines(folder, self.target(folder))

    def find_baseline(self, name: str) -> str | None:
        found: str | None = self._baselines(None).find_baseline(name)
        return found

    def mark_baseline(self, name: str, run: StoredRun) -> None:
        self._baselines(run.run_dir).mark_baseline(name, run)

    def fetch_run(self, run_id: str, runs_dir: Path) -> None:
        self._baselines(None).fetch_run(run_id, runs_dir)

    # --- browsing ------------------------------------------------------------------------------

    def serve(self, host: str, port: int) -> None:
        """Serve the MLflow UI on this tracker's store (`evalkit ui`); a server is named."""
        from evalkit.trackers.mlflow.ui import serve

        serve(self.settings.runs_dir, self.settings.uri, host, port)


def _store_exists(target: TrackingTarget) -> bool:
    from evalkit.trackers.mlflow.localstore import sqlite_path

    db = sqlite_path(target.uri)
    return db is None or db.is_file()


def tracked(logged: LoggedRun) -> TrackedRun:
    where = logged.url or f"{logged.uri} (browse with `evalkit ui`)"
    details = {
        "experiment": logged.experiment,
        "experiment_id": logged.experiment_id,
        "mlflow_run_id": logged.mlflow_run_id,
        "children": len(logged.children),
        "traces": logged.traces,
        "seconds": logged.seconds,
    }
    verb = "already logged to" if logged.skipped else "logged to"
    message = f"{verb} MLflow experiment '{logged.experiment}': {where}"
    return TrackedRun(
        "mlflow", logged.run_id, where, skipped=logged.skipped, message=message, details=details
    )


def create(settings: TrackerSettings) -> MlflowTracker:
    return MlflowTracker(settings)
