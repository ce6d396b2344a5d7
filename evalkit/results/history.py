"""The local run history: runs/*/run.json + summary.json, newest first. No mlflow needed.

for info in recent_runs(Path("runs"), limit=5):
    print(info.run_id, info.status, info.headline)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.results.store import MANIFEST, SUMMARY


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
    manifest = _read(run_dir / MANIFEST)
    if manifest is None:
        return None
    summary = _read(run_dir / SUMMARY) or {}
    counts = summary.get("counts") or {}
    verdict = summary.get("verdict")
    return RunInfo(
        run_id=str(manifest.get("run_id", run_dir.name)),
        suite=str((manifest.get("suite") or {}).get("name", "?")),
        created_at=str(manifest.get("created_at", "")),
        status=str(summary.get("status", "running or killed")),
        done=counts.get("done"),
        total=counts.get("total", manifest.get("total")),
        errors=counts.get("errors"),
        verdict=bool(verdict.get("passed")) if isinstance(verdict, dict) else None,
        headline=headline_metrics(summary.get("cells") or []),
    )


def headline_metrics(cells: list[dict[str, Any]]) -> dict[str, tuple[float, str]]:
    """Each metric's best cell mean and which variant x model reached it."""
    best: dict[str, tuple[float, str]] = {}
    for cell in cells:
        label = f"{cell['variant']} x {cell['model']}"
        for name, stats in (cell.get("metrics") or {}).items():
            mean = stats.get("mean")
            if mean is not None and (name not in best or mean > best[name][0]):
                best[name] = (float(mean), label)
    return best


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
