"""MLflow tracking: a subscriber of runs, never the core (see tracker.py for the Tracker).

`track_run` logs a run directory in this process and raises on failure (tests, scripts); the
run path goes through `evalkit.trackers.base.open_trackers`, which logs in a background process
and turns failures into warnings, because the results are already safe in runs/<run_id>/.
mlflow itself is imported only when something is logged (`evalkit --help` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.trackers.mlflow.config import TrackingTarget, resolve_target

if TYPE_CHECKING:
    from evalkit.suite.schema import TrackingConfig
    from evalkit.trackers.mlflow.logger import LoggedRun

__all__ = ["TrackingTarget", "resolve_target", "track_run"]


def track_run(
    run_dir: Path,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    config: TrackingConfig | None = None,
    force: bool = False,
) -> LoggedRun:
    """Log runs/<run_id>/ to MLflow now; raises on any MLflow error."""
    from evalkit.results.store import load_run
    from evalkit.trackers.mlflow.logger import log_stored_run

    run = load_run(run_dir)
    target = resolve_target(
        run_dir,
        uri=tracking_uri,
        experiment=experiment,
        config=config,
        suite_name=run.manifest.suite.name,
    )
    return log_stored_run(run, target, force=force)
