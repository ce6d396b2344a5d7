"""Progress reporting: done/total, rate, ETA and errors, on a rich progress bar.

The engine talks to a tiny protocol so tests and the Python API can run silently.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressSink(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def advance(self, *, error: bool, cached: bool) -> None: ...
    def stop(self) -> None: ...


class NoProgress:
    def start(self, total: int, done: int) -> None:
        return None

    def advance(self, *, error: bool, cached: bool) -> None:
        return None

    def stop(self) -> None:
        return None


class RichProgress:
    """A progress bar on stderr; rich redraws it on its own thread, 4 times a second.

    Items are counted on every call but handed to rich at most every UPDATE_S: an update costs
    tens of microseconds, more than anything else the engine does for a cached item.
    """

    UPDATE_S = 0.1

    def __init__(self, console: Console, description: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            refresh_per_second=4,
        )
        self._description = description
        self._task: Any = None
        self._errors = 0
        self._cached = 0
        self._pending = 0
        self._last = 0.0

    def start(self, total: int, done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            self._description, total=total, completed=done, rate="", status=""
        )

    def advance(self, *, error: bool, cached: bool) -> None:
        self._errors += error
        self._cached += cached
        self._pending += 1
        now = time.monotonic()
        if error or now - self._last >= self.UPDATE_S:
            self._flush(now)

    def _flush(self, now: float) -> None:
        task = self._progress.tasks[0]
        speed = task.speed
        rate = f"{speed:.1f} it/s" if speed else ""
        status = f"[red]{self._errors} errors[/red]" if self._errors else ""
        if self._cached:
            status += f" {self._cached} cached"
        self._progress.update(self._task, advance=self._pending, rate=rate, status=status)
        self._pending, self._last = 0, now

    def stop(self) -> None:
        if self._pending and self._task is not None:
            self._flush(time.monotonic())
        self._progress.stop()
