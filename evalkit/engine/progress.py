"""Progress reporting: done/total, rate, ETA and errors, on a rich progress bar.

The engine talks to a tiny protocol so tests and the Python API can run silently.
"""

from __future__ import annotations

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
    """A progress bar on stderr; updates are cheap (rich redraws on its own thread)."""

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

    def start(self, total: int, done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            self._description, total=total, completed=done, rate="", status=""
        )

    def advance(self, *, error: bool, cached: bool) -> None:
        self._errors += error
        self._cached += cached
        task = self._progress.tasks[0]
        speed = task.speed
        rate = f"{speed:.1f} it/s" if speed else ""
        status = f"[red]{self._errors} errors[/red]" if self._errors else ""
        if self._cached:
            status += f" {self._cached} cached"
        self._progress.update(self._task, advance=1, rate=rate, status=status)

    def stop(self) -> None:
        self._progress.stop()
