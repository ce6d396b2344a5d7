"""runs/<run_id>/: the local source of truth for a run, written and read as typed documents.

- run.json       RunManifest: what was run (suite, dataset digest, variants, models, options)
- suite.yaml     a copy of the suite file as it was
- results.jsonl  one ResultRecord per finished item, appended and flushed as items finish, so a
                 crash or Ctrl-C loses nothing; a resumed run appends, and the last record of a
                 key wins (an item that failed can be retried)
- summary.json   RunSummary, written at the end (also when a run is interrupted)
- run.lock       while a process writes the run: its pid and host (a second writer is refused)

Crash safety: a line is written and flushed in one call, so a kill leaves at most a torn last
line; before a resumed run appends, `repair_tail` cuts the file back to its last newline and
keeps the fragment beside it (results.jsonl.torn-<time>), so the next record starts on a line
of its own. This module and results/schema.py are the only code that touches these files'
bytes.
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
from evalkit.results.redaction import Redactor
from evalkit.results.runlock import RunLock, repair_tail
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
LOCK = "run.lock"
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
    """One run folder. Everything written goes through `redactor` (records, documents, the
    suite copy): a known secret never reaches the disk, so neither reports nor trackers."""

    def __init__(self, runs_dir: Path, run_id: str, redactor: Redactor | None = None) -> None:
        self.run_id = run_id
        self.runs_dir = runs_dir
        self.dir = runs_dir / run_id
        self.redactor = redactor or Redactor.from_env()
        self._handles: dict[str, IO[str]] = {}
        self._lock: RunLock | None = None

    @classmethod
    def open_existing(
        cls, runs_dir: Path, run_id: str, redactor: Redactor | None = None
    ) -> RunStore:
        store = cls(runs_dir, run_id, redactor)
        if not (store.dir / MANIFEST).is_file():
            known = ", ".join(sorted(p.name for p in runs_dir.glob("*/") if p.is_dir())[-5:])
            raise SuiteError(
                f"no run '{run_id}' in {runs_dir}/",
                hint=f"recent runs: {known}" if known else "run `evalkit runs list`",
            )
        return store

    def create(self, manifest: RunManifest, suite_text: str) -> str | None:
        """Make the run folder (never an existing one), lock it, and write run.json."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.dir.mkdir()
        except FileExistsError:
            raise self.exists_error() from None
        note = self.lock()
        self.write_doc(MANIFEST, manifest)
        (self.dir / SUITE_COPY).write_text(self.redactor.text(suite_text), encoding="utf-8")
        return note

    def exists_error(self) -> SuiteError:
        return SuiteError(
            f"run '{self.run_id}' already exists in {self.runs_dir}/",
            hint=f"finish it with: evalkit run --resume {self.run_id}; or choose another --run-id",
        )

    def discard(self) -> None:
        """Remove a run folder this process made that holds no result (nothing half made)."""
        import shutil

        self.close()
        self.unlock()
        shutil.rmtree(self.dir, ignore_errors=True)

    def has_results(self) -> bool:
        path = self.dir / RESULTS
        return path.exists() and path.stat().st_size > 0

    # --- the writer's lock and crash repair -------------------------------------------------

    def lock(self) -> str | None:
        """Become the run's only writer; a note when a dead writer's lock was taken over."""
        if self._lock is None:
            lock = RunLock(self.dir / LOCK, self.run_id)
            note = lock.acquire()
            self._lock = lock
            return note
        return None

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def repair(self) -> list[str]:
        """Cut torn last lines (a kill mid-write) before appending; notes for the user."""
        notes = []
        for name in (RESULTS, "pairwise.jsonl"):
            kept = repair_tail(self.dir / name)
            if kept is not None:
                notes.append(
                    f"{name} ended in a torn line (a crash mid-write); it was cut off"
                    f" and kept in {kept.name}"
                )
        return notes

    # --- results.jsonl ----------------------------------------------------------------------

    def append(self, record: ResultRecord) -> None:
        """Write one result line and hand it to the OS at once (flush), so Ctrl-C keeps it."""
        self.append_doc(RESULTS, record)

    def append_doc(self, name: str, doc: BaseModel) -> None:
        """One JSON line appended to `name` (results.jsonl, pairwise.jsonl), in one write."""
        handle = self._handles.get(name)
        if handle is None:
            repair_tail(self.dir / name)  # a torn last line must not swallow this one
            handle = self._handles[name] = open(self.dir / name, "a", encoding="utf-8")  # noqa: SIM115
        handle.write(self.redactor.json_line(doc) + "\n")
        handle.flush()

    def append_docs(self, name: str, docs: Iterable[BaseModel]) -> None:
        """Append documents to another JSON-lines file of the run (a merged pairwise.jsonl)."""
        with open(self.dir / name, "a", encoding="utf-8") as handle:
            handle.writelines(doc.model_dump_json() + "\n" for doc in docs)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

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
        tmp.write_text(self.redactor.doc(doc).model_dump_json(indent=2), "utf-8")
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
