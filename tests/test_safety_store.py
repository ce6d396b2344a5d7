"""Crash-safe run folders: torn tails repaired, one writer at a time, ids kept inside runs/.

In-process (CliRunner and the API): the kill -9 and concurrent-resume tests with real
processes are in test_safety_crash.py (slow tier).
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.api import run
from evalkit.cli.main import cli
from evalkit.engine.runner import Engine
from evalkit.records import WorkItem
from evalkit.results.runlock import RunLock, repair_tail
from evalkit.results.store import LOCK, RESULTS

SUITE = """\
name: crash
dataset: data.jsonl
prompts:
  p: "{{ question }}"
models:
  - id: m
    provider: mock
    options: {response: "x", calls_log: CALLS}
metrics:
  - contains: x
"""


def write(tmp_path: Path, text: str = SUITE, rows: int = 8) -> Path:
    data = [{"id": f"r{i}", "question": f"q{i}", "n": i} for i in range(rows)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    path = tmp_path / "suite.yaml"
    path.write_text(text.replace("CALLS", str(tmp_path / "calls.log")))
    return path


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


def keys_of(run_dir: Path) -> list[str]:
    lines = (run_dir / RESULTS).read_text().splitlines()
    return [json.loads(line)["key"] for line in lines]  # every line is whole JSON


def test_repair_tail_cuts_to_the_last_newline_and_keeps_the_fragment(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    kept = repair_tail(path)
    assert path.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert kept is not None and kept.read_bytes() == b'{"c": '
    assert kept.name.startswith("results.jsonl.torn-")
    assert repair_tail(path) is None  # a whole file is left alone
    path.write_bytes(b"no newline at all")
    assert repair_tail(path) is not None and path.read_bytes() == b""


def test_torn_tail_then_resume_does_every_item_once(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = invoke("run", write(tmp_path), "-q", "--runs-dir", runs, "--run-id", "r1")
    assert first.exit_code == 0, first.output
    run_dir = runs / "r1"
    lines = (run_dir / RESULTS).read_bytes().splitlines(keepends=True)
    # a kill -9 during the 6th write: five whole lines and half of the sixth, no summary
    (run_dir / RESULTS).write_bytes(b"".join(lines[:5]) + lines[5][: len(lines[5]) // 2])
    (run_dir / "summary.json").unlink()
    resumed = invoke("run", "--resume", "r1", "--runs-dir", runs, "-q")
    assert resumed.exit_code == 0, resumed.output
    assert "torn line" in resumed.output
    keys = keys_of(run_dir)
    assert len(keys) == 8 and len(set(keys)) == 8  # each item exactly once
    torn = list(run_dir.glob("results.jsonl.torn-*"))
    assert len(torn) == 1 and torn[0].read_bytes() == lines[5][: len(lines[5]) // 2]
    assert not (run_dir / LOCK).exists()


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert invoke("run", write(tmp_path), "-q", "--runs-dir", runs, "--run-id", "r1").exit_code == 0
    lock = RunLock(runs / "r1" / LOCK, "r1")
    assert lock.acquire() is None  # this process now writes the run
    try:
        result = invoke("run", "--resume", "r1", "--runs-dir", runs, "-q")
        assert result.exit_code == 2, result.output
        import os

        assert f"run r1 is in progress, pid {os.getpid()}" in result.output
        assert "Traceback" not in result.output
    finally:
        lock.release()
    assert invoke("run", "--resume", "r1", "--runs-dir", runs, "-q").exit_code == 0


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert invoke("run", write(tmp_path), "-q", "--runs-dir", runs, "--run-id", "r1").exit_code == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = {"pid": dead.pid, "host": socket.gethostname(), "since": 0}
    (runs / "r1" / LOCK).write_text(json.dumps(owner))  # left by a killed run: no flock held
    result = invoke("run", "--resume", "r1", "--runs-dir", runs, "-q")
    assert result.exit_code == 0, result.output
    assert f"took over the lock of pid {dead.pid}" in result.output
    assert not (runs / "r1" / LOCK).exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--run-id", "../../x"),
        ("--run-id", "a/b"),
        ("--run-id", ".."),
        ("--resume", "../x"),
        ("--resume", "/etc"),
    ],
)
def test_run_ids_stay_inside_the_runs_folder(tmp_path: Path, args: tuple[str, str]) -> None:
    runs = tmp_path / "deep" / "runs"
    suite = write(tmp_path)
    result = invoke("run", suite, "-q", "--runs-dir", runs, *args)
    assert result.exit_code == 2, result.output
    assert "invalid run id" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "deep" / "x").exists()


def test_an_existing_run_id_is_not_overwritten(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    suite = write(tmp_path)
    assert invoke("run", suite, "-q", "--runs-dir", runs, "--run-id", "r1").exit_code == 0
    before = (runs / "r1" / RESULTS).read_bytes()
    again = invoke("run", suite, "-q", "--runs-dir", runs, "--run-id", "r1")
    assert again.exit_code == 2 and "already exists" in again.output
    assert "--resume r1" in again.output
    assert (runs / "r1" / RESULTS).read_bytes() == before


def test_a_run_that_fails_while_rendering_leaves_no_folder(tmp_path: Path) -> None:
    # every row has the same shape, so validate renders only the first; run renders all
    text = SUITE.replace('"{{ question }}"', '"{{ question }} {{ 10 // (n - 1) }}"')
    runs = tmp_path / "runs"
    result = invoke("run", write(tmp_path, text), "-q", "--runs-dir", runs, "--run-id", "bad")
    assert result.exit_code == 2, result.output
    assert "ZeroDivisionError" in result.output and "Traceback" not in result.output
    assert not (runs / "bad").exists()


def test_the_lock_is_released_however_the_run_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    text = SUITE.replace('response: "x"', 'response: "x", fail_on: q3') + "error_budget: 0\n"
    result = run(write(tmp_path, text), runs_dir=runs, run_id="r1", concurrency=1, tracking=False)
    assert result.exit_code == 3  # stopped by the error budget
    assert not (runs / "r1" / LOCK).exists()
    process = Engine.process

    async def crash_on_the_fourth(self: Engine, item: WorkItem) -> object:
        if item.example.id == "r3" or self.run_id == "r3":
            raise RuntimeError("a bug in the middle of a run")
        return await process(self, item)

    monkeypatch.setattr(Engine, "process", crash_on_the_fourth)
    with pytest.raises(RuntimeError):
        run(write(tmp_path), runs_dir=runs, run_id="r2", concurrency=1, tracking=False)
    assert len(keys_of(runs / "r2")) == 3  # what was done is kept, the lock is not
    assert not (runs / "r2" / LOCK).exists()
    with pytest.raises(RuntimeError):  # before its first result: no half-made folder
        run(write(tmp_path, rows=4), runs_dir=runs, run_id="r3", concurrency=1, tracking=False)
    assert not (runs / "r3").exists()
