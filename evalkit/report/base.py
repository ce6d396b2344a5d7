"""The Reporter protocol: a file written from a finished run (JUnit, Markdown, HTML, ...).

A reporter is registered by name (`registry.add_reporter("junit", factory)`) and chosen on the
command line (`--report junit=out.xml`, or the shorthands `--junit`, `--markdown`) or in the
suite (`reports: [{type: junit, path: out.xml}]`). It reads typed documents only.

    class CsvReporter:
        name = "csv"
        def write(self, run: StoredRun, path: Path, options: dict) -> None:
            path.write_text(...)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from evalkit.results.store import StoredRun


@runtime_checkable
class Reporter(Protocol):
    name: str

    def write(self, run: StoredRun, path: Path, options: dict[str, Any]) -> None:
        """Write the report for `run` to `path`; `options` are the reporter's own settings."""
        ...


ReporterFactory = Callable[[], Reporter]


def write_reports(run: StoredRun, requests: list[tuple[str, Path, dict[str, Any]]]) -> None:
    """Write every requested report (name, path, options) with its registered reporter."""
    from evalkit.plugins.registry import registry

    for name, path, options in requests:
        factory: ReporterFactory = registry().get("reporter", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        factory().write(run, path, options)
