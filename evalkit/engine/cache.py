"""The response cache: SQLite, keyed by provider, model, params, messages and repeat index.

Reads go straight to SQLite (a local B-tree lookup costs microseconds); writes are buffered and
committed in batches, because one commit per call would dominate a fast run. Results.jsonl is
the source of truth, so a cache entry lost in a crash only costs a repeated call.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evalkit.records import Generation, Message, stable_hash
from evalkit.results.redaction import Redactor

_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT, created REAL)"


def cache_key(
    identity: dict[str, Any], params: dict[str, Any], messages: list[Message], repeat: int
) -> str:
    """The key covers everything that changes a model's answer, and the repeat index."""
    return stable_hash(
        {"id": identity, "params": params, "messages": messages, "repeat": repeat}, length=40
    )


def cached_keys(path: Path, keys: Iterable[str]) -> set[str]:
    """Which of `keys` the cache file at `path` holds; opened read-only, never created."""
    if not path.is_file():
        return set()
    found: set[str] = set()
    wanted = list(keys)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        for start in range(0, len(wanted), 500):  # SQLite caps the number of parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(f"SELECT key FROM responses WHERE key IN ({marks})", chunk)
            found.update(row[0] for row in rows)
    except sqlite3.DatabaseError:  # not a cache (or an older layout): nothing is cached
        return set()
    finally:
        db.close()
    return found


class ResponseCache:
    """Entries are written through `redactor`: a reply that repeats a known secret is cached
    with *** in its place (a later hit returns that text; scores of the fresh call saw the
    original)."""

    def __init__(
        self, path: Path, *, flush_every: int = 256, redactor: Redactor | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.redactor = redactor or Redactor.from_env()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._pending: list[tuple[str, str, float]] = []
        self._flush_every = flush_every
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Generation | None:
        row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return Generation.from_cache(json.loads(row[0]))

    def put(self, key: str, generation: Generation) -> None:
        """Only successful generations are cached: a failure must be retried next time."""
        if generation.error is not None:
            return
        value = json.dumps(generation.to_cache(), ensure_ascii=False)
        if self.redactor.found(value):
            value = json.dumps(self.redactor.strings(generation.to_cache()), ensure_ascii=False)
        self._pending.append((key, value, time.time()))
        if len(self._pending) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
                self._pending,
            )
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()


class NullCache:
    """Used with --no-cache: never hits, still counts."""

    hits = 0
    misses = 0

    def get(self, key: str) -> Generation | None:
        self.misses += 1
        return None

    def put(self, key: str, generation: Generation) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
