"""The Tracker protocol: a subscriber that receives finished runs, and a safe fan-out over them.

A tracker logs a run somewhere people browse it (MLflow is the built-in one), may update its
verdict after `evalkit gate`, and may keep named baselines so a gate on another machine finds
them. Local results stay the source of truth: a tracker's failure is a warning, never a lost
result and never a changed exit code.

    trackers = open_trackers(TrackerSettings(runs_dir=Path("runs"), run_dir=run.run_dir))
    trackers.on_start(manifest)           # the run starts (its folder may not exist yet)
    trackers.on_records(batch)            # items as they finish
    trackers.on_finish(summary)           # summary.json is written
    trackers.log_run(run)                 # every tracker; failures become warnings
    trackers.find_baseline("main")        # the first tracker that knows the name

`on_start`, `on_records` and `on_finish` are optional (a tracker without them is told only
`log_run`): they let a tracker do its work while the run goes, off the critical path. They
must return at once (no network, no waiting); `log_run` may wait for what they started.

A tracker is registered by name (`registry.add_tracker("mlflow", factory)`); a suite chooses
them with `tracking: {backends: [mlflow, ...]}` (default: mlflow).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
    from evalkit.results.store import StoredRun
    from evalkit.suite.schema import TrackingConfig


@dataclass
class TrackedRun:
    """Where a tracker put a run, for the one line printed after it."""

    tracker: str
    run_id: str
    location: str  # a URL to open, or a store and how to browse it
    skipped: bool = False  # already logged, unchanged
    message: str = ""  # one line for people: "logged to MLflow experiment 'faq': <url>"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackerSettings:
    """What a tracker factory gets: the run, the suite's `tracking:` and the command line."""

    runs_dir: Path
    run_dir: Path | None = None
    uri: str | None = None  # --tracking-uri
    experiment: str | None = None
    config: TrackingConfig | None = None  # None: read the suite copy in run_dir


@runtime_checkable
class Tracker(Protocol):
    name: str  # the registered name (suite: tracking.backends)
    label: str  # for people: "MLflow"

    def log_run(self, run: StoredRun, *, force: bool = False) -> TrackedRun:
        """Log (or update) the run; idempotent by evalkit run id. Raises on failure."""
        ...

    def log_verdict(self, run: StoredRun, previous: RunSummary | None) -> TrackedRun | None:
        """Update a logged run's verdict after its gates were decided again (None: not logged)."""
        ...

    def find_baseline(self, name: str) -> str | None:
        """The evalkit run id a baseline name points at, or None. Raises when unreachable."""
        ...

    def mark_baseline(self, name: str, run: StoredRun) -> None:
        """Record that `run` is baseline `name`."""
        ...

    def fetch_run(self, run_id: str, runs_dir: Path) -> None:
        """Download a run's files into runs_dir/run_id (a baseline on a fresh CI runner)."""
        ...


@runtime_checkable
class RunListener(Protocol):
    """The optional live part of a tracker: told of a run while it goes; each call is quick."""

    def on_start(self, manifest: RunManifest) -> None: ...

    def on_records(self, batch: Sequence[ResultRecord]) -> None: ...

    def on_finish(self, summary: RunSummary) -> None: ...


TrackerFactory = Callable[[TrackerSettings], "Tracker | None"]
Warn = Callable[[str], None]


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


class Trackers:
    """Several trackers behind one object; each call survives any one tracker's failure."""

    def __init__(self, trackers: list[Tracker], warn: Warn = _warn) -> None:
        self.trackers = trackers
        self.warn = warn
        self.listening: list[Tracker] | None = None  # those with the optional live methods

    def __bool__(self) -> bool:
        return bool(self.trackers)

    # --- a run as it goes (optional methods; a failure warns and stops that tracker's part) ---

    def on_start(self, manifest: RunManifest) -> None:
        self._tell("on_start", manifest)

    def on_records(self, batch: Sequence[ResultRecord]) -> None:
        for tracker in self._listening:
            try:
                tracker.on_records(batch)  # type: ignore[attr-defined]
            except Exception as exc:
                self._stop_listening(tracker, exc)

    def on_finish(self, summary: RunSummary) -> None:
        self._tell("on_finish", summary)

    @property
    def _listening(self) -> list[Tracker]:
        if self.listening is None:
            self.listening = [t for t in self.trackers if isinstance(t, RunListener)]
        return self.listening

    def _tell(self, method: str, value: object) -> None:
        for tracker in list(self._listening):
            try:
                getattr(tracker, method)(value)
            except Exception as exc:
                self._stop_listening(tracker, exc)

    def _stop_listening(self, tracker: Tracker, exc: Exception) -> None:
        self._listening.remove(tracker)
        self.warn(f"{tracker.label} live logging stopped: {one_line(exc)}")

    def log_run(self, run: StoredRun, *, force: bool = False) -> list[TrackedRun]:
        done = []
        for tracker in self.trackers:
            try:
                done.append(tracker.log_run(run, force=force))
            except Exception as exc:  # a subscriber: the run's outcome is already on disk
                self.warn(
                    f"{tracker.label} logging failed: {one_line(exc)}; results are in"
                    f" {run.run_dir}/; upload later with `evalkit log {run.run_id}`"
                )
        return done

    def log_verdict(self, run: StoredRun, previous: RunSummary | None) -> list[TrackedRun]:
        done = []
        for tracker in self.trackers:
            try:
                found = tracker.log_verdict(run, previous)
            except Exception as exc:
                self.warn(
                    f"{tracker.label} verdict update failed: {one_line(exc)}; the verdict is in"
                    f" {run.run_dir}/summary.json; update later with `evalkit log {run.run_id}`"
                )
                continue
            if found is not None:
                done.append(found)
        return done

    def find_baseline(self, name: str) -> str | None:
        """The first tracker's answer; raises (BaselineUnavailable) only if none could answer."""
        errors = []
        for tracker in self.trackers:
            try:
                found = tracker.find_baseline(name)
            except Exception as exc:
                errors.append(f"{tracker.name}: {one_line(exc)}")
                continue
            if found:
                return found
        if errors and len(errors) == len(self.trackers):
            raise LookupError("; ".join(errors))
        return None

    def mark_baseline(self, name: str, run: StoredRun) -> list[str]:
        """Mark in every tracker; the errors (one line each) of those that could not."""
        errors = []
        for tracker in self.trackers:
            try:
                tracker.mark_baseline(name, run)
            except Exception as exc:
                errors.append(f"{tracker.name}: {one_line(exc)}")
        return errors

    def fetch_run(self, run_id: str, runs_dir: Path) -> None:
        errors = []
        for tracker in self.trackers:
            try:
                tracker.fetch_run(run_id, runs_dir)
                return
            except Exception as exc:
                errors.append(f"{tracker.name}: {one_line(exc)}")
        raise LookupError("; ".join(errors) or "no tracker is configured")


def open_trackers(
    settings: TrackerSettings,
    *,
    enabled: bool = True,
    warn: Warn = _warn,
    force_enabled: bool = False,
) -> Trackers:
    """The trackers the suite asks for (default: mlflow), unless tracking is off.

    Off: `enabled=False` (--no-tracking), EVALKIT_NO_TRACKING=1, or `tracking: false`;
    `force_enabled` ignores all three (`evalkit log`: the user asked for this logging).
    """
    from evalkit.plugins.registry import registry

    config = settings.config if settings.config is not None else _suite_config(settings)
    off = not enabled or tracking_disabled_by_env() or not config.enabled
    if off and not force_enabled:
        return Trackers([], warn)
    settings = TrackerSettings(
        settings.runs_dir, settings.run_dir, settings.uri, settings.experiment, config
    )
    found: list[Tracker] = []
    for name in config.backends:
        factory: TrackerFactory = registry().get("tracker", name)
        try:
            tracker = factory(settings)
        except Exception as exc:
            warn(f"tracker {name} unavailable: {one_line(exc)}")
            continue
        if tracker is not None:
            found.append(tracker)
    return Trackers(found, warn)


def tracking_disabled_by_env() -> bool:
    import os

    return os.environ.get("EVALKIT_NO_TRACKING", "").strip().lower() in ("1", "true", "yes")


def _suite_config(settings: TrackerSettings) -> TrackingConfig:
    from evalkit.suite.schema import TrackingConfig

    if settings.run_dir is None:
        return TrackingConfig()
    from evalkit.trackers.mlflow.config import suite_tracking_config

    return suite_tracking_config(settings.run_dir)


def one_line(exc: BaseException) -> str:
    """An exception as one short line, without credentials embedded in URLs."""
    import re

    text = re.sub(r"(\w+://)[^/\s@]+@", r"\1", " ".join(str(exc).split()))
    text = text or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
