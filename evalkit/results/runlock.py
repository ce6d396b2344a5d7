"""Crash safety of a run folder: one writer at a time, and torn last lines repaired.

lock = RunLock(run_dir / "run.lock", run_id)
note = lock.acquire()          # RunLockedError while another live process holds it
kept = repair_tail(run_dir / "results.jsonl")   # the fragment's copy, or None
lock.release()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import IO

from evalkit.errors import SuiteError


class RunLockedError(SuiteError):
    """Another process is writing this run (exit 2: nothing was run)."""


def repair_tail(path: Path) -> Path | None:
    """Truncate `path` to its last newline; the fragment goes to `<name>.torn-<time>`."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return None
        end = _last_newline(handle, size)
        handle.seek(end)
        fragment = handle.read()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept = path.with_name(f"{path.name}.torn-{stamp}-{os.getpid()}")
        kept.write_bytes(fragment)
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
    return kept


def _last_newline(handle: IO[bytes], size: int, chunk: int = 65_536) -> int:
    """The offset just after the last b"\\n" (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - chunk)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


class RunLock:
    """runs/<id>/run.lock: an advisory lock (flock) holding the writer's pid and host.

    The kernel drops a flock when its process dies, however it dies, so a lock left by a
    killed run is stale by construction: the next writer takes it over and says so. Where
    flock does not exist, a lock naming a dead pid on this host is taken over instead."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._fd: int | None = None

    def acquire(self) -> str | None:
        for _ in range(5):  # the file may be replaced between open and flock: try again
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not self._flock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise self._busy(owner)
            if self._same_file(fd):
                previous = _read_owner(fd)
                self._fd = fd
                self._write_owner(fd)
                return self._takeover_note(previous)
            os.close(fd)
        raise self._busy({})

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still locked: a waiting writer re-checks the inode
        os.close(self._fd)
        self._fd = None

    def _flock(self, fd: int) -> bool:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): the pid in the file decides
            owner = _read_owner(fd)
            return not owner or not _alive(owner)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _same_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def _write_owner(self, fd: int) -> None:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)

    def _busy(self, owner: dict[str, object]) -> RunLockedError:
        pid, host = owner.get("pid", "?"), owner.get("host") or "this host"
        return RunLockedError(
            f"run {self.run_id} is in progress, pid {pid} on {host}",
            hint="wait for it to finish; two writers would repeat calls and lines"
            f" (if that process is gone, delete {self.path})",
        )

    def _takeover_note(self, previous: dict[str, object]) -> str | None:
        if not previous or previous.get("pid") == os.getpid():
            return None
        return (
            f"run {self.run_id}: took over the lock of pid {previous.get('pid')} on"
            f" {previous.get('host')}, which ended without releasing it"
        )


def _read_owner(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(owner: dict[str, object]) -> bool:
    pid = owner.get("pid")
    if owner.get("host") not in (None, socket.gethostname()) or not isinstance(pid, int):
        return True  # another host's process cannot be checked from here: assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
