"""The local run history: runs/*/run.json + summary.json, newest first. No mlflow needed.

for info in recent_runs(Path("runs"), limit=5):
    print(info.run_id, info.status, info.headline)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.results.schema import CellSummary
from evalkit.results.store import MANIFEST, RunStore


@dataclass
class RunInfo:
    run_id: str
    suite: str
    created_at: str
    status: str
    done: int | None = None
    total: int | None = None
    errors: int | None = None
    verdict: bool | None = None  # None: no gates decided
    headline: dict[str, tuple[float, str]] = field(default_factory=dict)  # metric -> (best, cell)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "created_at": self.created_at,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "errors": self.errors,
            "verdict": None if self.verdict is None else ("passed" if self.verdict else "failed"),
            "headline": {k: {"value": v, "cell": c} for k, (v, c) in self.headline.items()},
        }


def recent_runs(runs_dir: Path, limit: int | None = 20, suite: str | None = None) -> list[RunInfo]:
    """Runs in `runs_dir`, newest first; folders that are not runs are ignored."""
    infos = [info for path in _run_dirs(runs_dir) if (info := read_info(path)) is not None]
    if suite is not None:
        infos = [i for i in infos if i.suite == suite]
    infos.sort(key=lambda i: (i.created_at, i.run_id), reverse=True)
    return infos if limit is None else infos[:limit]


def _run_dirs(runs_dir: Path) -> list[Path]:
    if not runs_dir.is_dir():
        return []
    return [p for p in runs_dir.iterdir() if (p / MANIFEST).is_file()]


def read_info(run_dir: Path) -> RunInfo | None:
    """A run's line in the history; folders that are not readable runs give None."""
    store = RunStore(run_dir.parent, run_dir.name)
    try:
        manifest = store.manifest()
        summary = store.summary()
    except EvalkitError:
        return None
    return RunInfo(
        run_id=manifest.run_id,
        suite=manifest.suite.name,
        created_at=manifest.created_at,
        status=summary.status if summary else "running or killed",
        done=summary.counts.done if summary else None,
        total=summary.counts.total if summary else manifest.total,
        errors=summary.counts.errors if summary else None,
        verdict=summary.verdict.passed if summary and summary.verdict else None,
        headline=headline_metrics(summary.cells if summary else []),
    )


def headline_metrics(cells: list[CellSummary]) -> dict[str, tuple[float, str]]:
    """Each metric's best cell mean and which variant x model reached it."""
    best: dict[str, tuple[float, str]] = {}
    for cell in cells:
        for name, stats in cell.metrics.items():
            mean = stats.mean
            if mean is not None and (name not in best or mean > best[name][0]):
                best[name] = (float(mean), cell.label)
    return best
