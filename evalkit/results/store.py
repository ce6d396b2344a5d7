"""runs/<run_id>/: the local source of truth for a run.

- run.json      what was run (suite, dataset digest, variants, models, options), written first
- suite.yaml    a copy of the suite file as it was
- results.jsonl one JSON object per finished item, appended and flushed as items finish, so a
                crash or Ctrl-C loses nothing; a resumed run appends, and the last record of a
                key wins (an item that failed can be retried)
- summary.json  aggregates, written at the end (also when a run is interrupted)
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from evalkit.errors import SuiteError
from evalkit.results.schema import ResultRecord, RunManifest, RunSummary

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
MANIFEST = "run.json"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSON-lines file that the run appends to; a torn line is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def new_run_id(suite_name: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in suite_name)[:40]
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def default_runs_dir() -> Path:
    return Path(os.environ.get("EVALKIT_RUNS_DIR", "runs"))


class RunStore:
    def __init__(self, runs_dir: Path, run_id: str) -> None:
        self.run_id = run_id
        self.dir = runs_dir / run_id
        self._results: IO[str] | None = None

    @classmethod
    def open_existing(cls, runs_dir: Path, run_id: str) -> RunStore:
        store = cls(runs_dir, run_id)
        if not (store.dir / MANIFEST).is_file():
            known = ", ".join(sorted(p.name for p in runs_dir.glob("*/") if p.is_dir())[-5:])
            raise SuiteError(
                f"no run '{run_id}' in {runs_dir}/",
                hint=f"recent runs: {known}" if known else "run `evalkit runs list`",
            )
        return store

    def create(self, manifest: dict[str, Any], suite_text: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_json(MANIFEST, manifest)
        (self.dir / "suite.yaml").write_text(suite_text, encoding="utf-8")

    def manifest(self) -> dict[str, Any]:
        return self.read_json(MANIFEST)

    def append(self, record: dict[str, Any]) -> None:
        """Write one result line and hand it to the OS at once (flush), so Ctrl-C keeps it."""
        if self._results is None:
            self._results = open(self.dir / RESULTS, "a", encoding="utf-8")  # noqa: SIM115
        self._results.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._results.flush()

    def close(self) -> None:
        if self._results is not None:
            self._results.close()
            self._results = None

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every line as written; a torn last line (killed mid-write) is skipped."""
        return read_jsonl(self.dir / RESULTS)

    def records(self, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The latest record of every item key, in first-seen order.

        `drop` leaves fields out (the summary needs no "messages" or "output"): a big run's
        records then fit in a fraction of the memory.
        """
        latest: dict[str, dict[str, Any]] = {}
        for record in self.iter_records():
            for name in drop:
                record.pop(name, None)
            latest[record["key"]] = record
        return list(latest.values())

    def done_keys(self) -> set[str]:
        """Items that finished without error; resume skips them and retries the rest."""
        return {r["key"] for r in self.records() if r.get("error") is None}

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), "utf-8")
        tmp.replace(self.dir / name)

    def read_json(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / name).read_text(encoding="utf-8"))
        return data

    def summary(self) -> dict[str, Any] | None:
        path = self.dir / SUMMARY
        return self.read_json(SUMMARY) if path.exists() else None


@dataclass
class StoredRun:
    """A finished (or interrupted) run read back: what reporters and trackers receive."""

    run_dir: Path
    manifest: RunManifest
    summary: RunSummary
    records: list[ResultRecord]
    suite_text: str = ""

    @property
    def run_id(self) -> str:
        return self.manifest.run_id
