"""MLflow as a Tracker (evalkit.trackers.base): the object the run path and the gates talk to.

    tracker = create(TrackerSettings(runs_dir=Path("runs"), run_dir=run.run_dir))
    tracker.log_run(run)

mlflow itself is imported only inside the calls, never by importing this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.trackers.base import TrackedRun, TrackerSettings

if TYPE_CHECKING:
    from evalkit.results.schema import RunSummary
    from evalkit.results.store import StoredRun
    from evalkit.trackers.mlflow.mlflow_logger import TrackedRun as MlflowRun


class MlflowTracker:
    name = "mlflow"
    label = "MLflow"

    def __init__(self, settings: TrackerSettings) -> None:
        self.settings = settings

    def log_run(self, run: StoredRun, *, force: bool = False) -> TrackedRun:
        from evalkit.trackers.mlflow.mlflow_logger import track_run

        logged = track_run(
            run.run_dir,
            tracking_uri=self.settings.uri,
            experiment=self.settings.experiment,
            config=self.settings.config,
            force=force,
        )
        return _tracked(logged)

    def log_verdict(self, run: StoredRun, previous: RunSummary | None) -> TrackedRun | None:
        from evalkit.trackers.mlflow.relog import relog_verdict

        before = None if previous is None else json.loads(previous.model_dump_json())
        logged = relog_verdict(run.run_dir, tracking_uri=self.settings.uri, previous_summary=before)
        if logged is None:
            return None
        tracked = _tracked(logged)
        tracked.message = f"verdict updated in MLflow: {tracked.location}"
        return tracked

    def _baselines(self, run_dir: Path | None) -> object:
        from evalkit.trackers.mlflow.baseline_tags import MlflowBaselines, resolve_target

        folder = run_dir or self.settings.run_dir
        if folder is None:
            raise LookupError("MLflow baselines need the run whose suite names the tracking URI")
        target = resolve_target(folder, uri=self.settings.uri, config=self.settings.config)
        return MlflowBaselines(folder, target, self.settings.uri)

    def find_baseline(self, name: str) -> str | None:
        found: str | None = self._baselines(None).find_baseline(name)  # type: ignore[attr-defined]
        return found

    def mark_baseline(self, name: str, run: StoredRun) -> None:
        baselines = self._baselines(run.run_dir)
        manifest = json.loads(run.manifest.model_dump_json())
        baselines.mark_baseline(name, run.run_id, manifest)  # type: ignore[attr-defined]

    def fetch_run(self, run_id: str, runs_dir: Path) -> None:
        self._baselines(None).fetch_run(run_id, runs_dir)  # type: ignore[attr-defined]


def _tracked(logged: MlflowRun) -> TrackedRun:
    where = logged.url or f"{logged.uri} (browse with `evalkit ui`)"
    details = {
        "experiment": logged.experiment,
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
