"""Tracking: log finished runs to MLflow. A subscriber, never the core.

`track_run` logs a run directory and raises on failure (for `evalkit log`); `track_after_run` is
what `evalkit run` calls: it honours EVALKIT_NO_TRACKING and the suite's `tracking.enabled`, and
turns any failure into a warning, because the results are already safe in runs/<run_id>/.
`relog_verdict_after_gate` is what `evalkit gate` calls to update the verdict of a logged run.
mlflow itself is imported only when something is logged (`evalkit --help` stays fast).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.trackers.mlflow.config import (
    TrackingTarget,
    resolve_target,
    suite_tracking_config,
    tracking_disabled_by_env,
)

if TYPE_CHECKING:
    from evalkit.suite.schema import TrackingConfig
    from evalkit.trackers.mlflow.mlflow_logger import TrackedRun


def _escape(text: str) -> str:
    """Text for a rich console: an error's "[Errno 111]" or a "[/tmp]" path is not markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


_USERINFO = re.compile(r"(\w+://)[^/\s@]+@")

__all__ = [
    "TrackingTarget",
    "one_line_error",
    "relog_verdict_after_gate",
    "resolve_target",
    "track_after_run",
    "track_run",
]


def track_run(run_dir: Path, **kwargs: Any) -> TrackedRun:
    """Log runs/<run_id>/ to MLflow (see mlflow_logger.track_run); raises on failure."""
    from evalkit.trackers.mlflow.mlflow_logger import track_run as _track

    return _track(run_dir, **kwargs)


def track_after_run(
    run_dir: Path,
    *,
    tracking_uri: str | None = None,
    config: TrackingConfig | None = None,
    console: Any = None,
) -> TrackedRun | None:
    """Log a run that just ended; never raises. Returns None when off or when logging failed."""
    if tracking_disabled_by_env() or (config is not None and not config.enabled):
        return None
    err = console or _stderr_console()
    try:
        tracked = track_run(run_dir, tracking_uri=tracking_uri, config=config)
    except Exception as exc:  # any tracker failure must leave the run's outcome untouched
        err.print(
            f"[yellow]MLflow logging failed:[/yellow] {_escape(one_line_error(exc))}; results"
            f" are in {_escape(str(run_dir))}/; upload later with `evalkit log {run_dir.name}`",
            highlight=False,
        )
        return None
    where = tracked.url or f"{tracked.uri} (browse with `evalkit ui`)"
    verb = "already logged to" if tracked.skipped else "logged to"
    err.print(
        f"[dim]{verb} MLflow experiment '{tracked.experiment}': {where}[/dim]", highlight=False
    )
    return tracked


def relog_verdict_after_gate(
    run_dir: Path,
    *,
    tracking_uri: str | None = None,
    previous_summary: dict[str, Any] | None = None,
    console: Any = None,
) -> None:
    """Update the verdict of a logged run after its gates were decided again; never raises."""
    if tracking_disabled_by_env() or not suite_tracking_config(run_dir).enabled:
        return
    from evalkit.trackers.mlflow.relog import relog_verdict
    from evalkit.trackers.mlflow.session import store_missing

    if store_missing(resolve_target(run_dir, uri=tracking_uri)):
        return  # nothing was ever logged here: no MLflow to update
    err = console or _stderr_console()
    try:
        tracked = relog_verdict(
            run_dir, tracking_uri=tracking_uri, previous_summary=previous_summary
        )
    except Exception as exc:  # the verdict is in summary.json whatever MLflow says
        err.print(
            f"[yellow]MLflow verdict update failed:[/yellow] {_escape(one_line_error(exc))}; the"
            f" verdict is in {_escape(str(run_dir))}/summary.json; update MLflow later with"
            f" `evalkit log {run_dir.name}`",
            highlight=False,
        )
        return
    if tracked is None:
        err.print(
            f"[dim]run {run_dir.name} is not in MLflow; log it with `evalkit log {run_dir.name}`"
            "[/dim]",
            highlight=False,
        )
        return
    where = tracked.url or f"{tracked.uri} (browse with `evalkit ui`)"
    err.print(f"[dim]verdict updated in MLflow: {where}[/dim]", highlight=False)


def one_line_error(exc: BaseException) -> str:
    """An exception as one short line, without credentials embedded in URLs."""
    # an error may quote the server URL, credentials included
    text = _USERINFO.sub(r"\1", " ".join(str(exc).split())) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
