"""runs/<run_id>/: the local source of truth for a run, written and read as typed documents.

- run.json       RunManifest: what was run (suite, dataset digest, variants, models, options)
- suite.yaml     a copy of the suite file as it was
- results.jsonl  one ResultRecord per finished item, appended and flushed as items finish, so a
                 crash or Ctrl-C loses nothing; a resumed run appends, and the last record of a
                 key wins (an item that failed can be retried)
- summary.json   RunSummary, written at the end (also when a run is interrupted)

This module and results/schema.py are the only code that touches these files' bytes.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from pydantic import BaseModel, ValidationError

from evalkit.errors import SuiteError
from evalkit.results.schema import (
    ResultRecord,
    RunManifest,
    RunSummary,
    SchemaVersionError,
    Versioned,
)

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
MANIFEST = "run.json"
SUITE_COPY = "suite.yaml"
D = TypeVar("D", bound=BaseModel)


def read_lines(path: Path, model: type[D]) -> Iterator[D]:
    """The documents of a JSON-lines file the run appends to; a torn or foreign line is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                doc = model.model_validate_json(line)
            except ValidationError:
                continue
            if isinstance(doc, Versioned):
                doc.check_version(str(path))
            yield doc


def new_run_id(suite_name: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in suite_name)[:40]
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def default_runs_dir() -> Path:
    return Path(os.environ.get("EVALKIT_RUNS_DIR", "runs"))


class RunStore:
    def __init__(self, runs_dir: Path, run_id: str) -> None:
        self.run_id = run_id
        self.runs_dir = runs_dir
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

    def create(self, manifest: RunManifest, suite_text: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_doc(MANIFEST, manifest)
        (self.dir / SUITE_COPY).write_text(suite_text, encoding="utf-8")

    # --- results.jsonl ----------------------------------------------------------------------

    def append(self, record: ResultRecord) -> None:
        """Write one result line and hand it to the OS at once (flush), so Ctrl-C keeps it."""
        if self._results is None:
            self._results = open(self.dir / RESULTS, "a", encoding="utf-8")  # noqa: SIM115
        self._results.write(record.model_dump_json() + "\n")
        self._results.flush()

    def append_docs(self, name: str, docs: Iterable[BaseModel]) -> None:
        """Append documents to another JSON-lines file of the run (a merged pairwise.jsonl)."""
        with open(self.dir / name, "a", encoding="utf-8") as handle:
            handle.writelines(doc.model_dump_json() + "\n" for doc in docs)

    def close(self) -> None:
        if self._results is not None:
            self._results.close()
            self._results = None

    def iter_records(self) -> Iterator[ResultRecord]:
        """Every line as written; a torn last line (killed mid-write) is skipped."""
        return read_lines(self.dir / RESULTS, ResultRecord)

    def records(self, drop: tuple[str, ...] = ()) -> list[ResultRecord]:
        """The latest record of every item key, in first-seen order.

        `drop` empties fields (the summary needs no "messages" or "output"): a big run's
        records then fit in a fraction of the memory.
        """
        latest: dict[str, ResultRecord] = {}
        for record in self.iter_records():
            for name in drop:
                setattr(record, name, None)
            latest[record.key] = record
        return list(latest.values())

    def done_keys(self) -> set[str]:
        """Items that finished without error; resume skips them and retries the rest."""
        return {r.key for r in self.records(drop=("messages", "output", "inputs")) if r.ok}

    # --- run.json and summary.json ----------------------------------------------------------

    def write_doc(self, name: str, doc: BaseModel) -> None:
        """Write a document atomically (a reader never sees half a file)."""
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(doc.model_dump_json(indent=2), "utf-8")
        tmp.replace(self.dir / name)

    def read_doc(self, name: str, model: type[D]) -> D:
        path = self.dir / name
        try:
            doc = model.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, SchemaVersionError) as exc:
            raise SuiteError(
                f"{path} is not a readable evalkit {name}: {_first_error(exc)}",
                file=str(path),
                hint="the run folder was edited or written by another tool; re-run the suite",
            ) from None
        if isinstance(doc, Versioned):
            try:
                doc.check_version(str(path))
            except SchemaVersionError as exc:
                raise SuiteError(str(exc), file=str(path)) from None
        return doc

    def manifest(self) -> RunManifest:
        return self.read_doc(MANIFEST, RunManifest)

    def summary(self) -> RunSummary | None:
        return self.read_doc(SUMMARY, RunSummary) if (self.dir / SUMMARY).exists() else None

    def write_summary(self, summary: RunSummary) -> None:
        self.write_doc(SUMMARY, summary)

    def suite_text(self) -> str:
        path = self.dir / SUITE_COPY
        return path.read_text("utf-8") if path.exists() else ""


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else str(err["msg"])
    return str(exc)


@dataclass
class StoredRun:
    """A finished (or interrupted) run: what reporters and trackers receive.

    Within a run the summary is the in-memory one; the records are read from results.jsonl
    only when a reader asks for them (a reporter listing examples), then kept."""

    run_dir: Path
    manifest: RunManifest
    summary: RunSummary
    loaded_records: list[ResultRecord] | None = None  # None: read results.jsonl when asked
    suite_text: str = ""

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    def records(self) -> list[ResultRecord]:
        """The latest record of every item, in full (messages and outputs included)."""
        if self.loaded_records is None:
            store = RunStore(self.run_dir.parent, self.run_dir.name)
            self.loaded_records = store.records()
        return self.loaded_records


def load_run(run_dir: Path) -> StoredRun:
    """Read runs/<run_id>/; a run without summary.json (killed hard) reads as incomplete."""
    store = RunStore(run_dir.parent, run_dir.name)
    if not (run_dir / MANIFEST).is_file():
        raise SuiteError(f"{run_dir} is not an evalkit run (no {MANIFEST})")
    manifest = store.manifest()
    summary = store.summary() or RunSummary(run_id=manifest.run_id, suite=manifest.suite.name)
    return StoredRun(run_dir, manifest, summary, suite_text=store.suite_text())
