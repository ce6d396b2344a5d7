"""Real processes: kill -9 mid-run, a torn tail, and two resumes of one run at the same time.

Slow tier: each test starts `evalkit run` subprocesses on the mock provider with a latency.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROWS = 40
SUITE = """\
name: crash
dataset: data.jsonl
prompts:
  p: "{{ question }}"
models:
  - id: m
    provider: mock
    options: {response: "x", latency_ms: LATENCY, calls_log: CALLS}
metrics:
  - contains: x
concurrency: 4
"""


def write(tmp_path: Path, latency: int) -> Path:
    rows = [{"id": f"r{i}", "question": f"q{i}"} for i in range(ROWS)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = SUITE.replace("LATENCY", str(latency)).replace("CALLS", str(tmp_path / "calls.log"))
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def evalkit(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "EVALKIT_RUNS_DIR": str(tmp_path / "runs"), "EVALKIT_NO_TRACKING": "1"}
    cmd = [sys.executable, "-m", "evalkit", "run", "-q", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def lines(run_dir: Path) -> list[str]:
    path = run_dir / "results.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def keys(run_dir: Path) -> Counter[str]:
    return Counter(json.loads(line)["key"] for line in lines(run_dir))


def test_kill_9_then_a_torn_tail_then_resume_does_each_item_once(tmp_path: Path) -> None:
    suite = write(tmp_path, latency=100)
    first = evalkit(tmp_path, str(suite), "--run-id", "k1")
    run_dir = tmp_path / "runs" / "k1"
    wait_for(lambda: len(lines(run_dir)) >= 8)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert (run_dir / "run.lock").exists()  # left behind: the kernel released its flock
    done = len(lines(run_dir))
    with open(run_dir / "results.jsonl", "ab") as handle:  # a write cut short by the kill
        handle.write(b'{"schema_version": 2, "run_id": "k1", "key": "r39|p|m|0", "exam')
    resumed = evalkit(tmp_path, "--resume", "k1")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    text = " ".join(err.split())
    assert "took over the lock of pid" in text and "torn line" in text
    counted = keys(run_dir)
    assert len(counted) == ROWS and set(counted.values()) == {1}  # every item exactly once
    assert len(list(run_dir.glob("results.jsonl.torn-*"))) == 1
    calls = (tmp_path / "calls.log").read_text().splitlines()
    # the resume repeats only what was in flight when the first process died (<= concurrency)
    assert ROWS <= len(calls) <= ROWS + 4, (done, len(calls))


def test_two_resumes_at_once_one_is_refused(tmp_path: Path) -> None:
    suite = write(tmp_path, latency=100)
    first = evalkit(tmp_path, str(suite), "--run-id", "c1")
    run_dir = tmp_path / "runs" / "c1"
    wait_for(lambda: len(lines(run_dir)) >= 4)
    first.send_signal(signal.SIGINT)  # interrupted: resumable
    assert first.wait(timeout=30) == 130
    a = evalkit(tmp_path, "--resume", "c1")
    wait_for(lambda: (run_dir / "run.lock").exists() and (run_dir / "run.lock").read_text())
    b = evalkit(tmp_path, "--resume", "c1")
    _, err_b = b.communicate(timeout=60)
    assert b.returncode == 2, err_b
    assert f"run c1 is in progress, pid {a.pid}" in " ".join(err_b.split())
    _, err_a = a.communicate(timeout=120)
    assert a.returncode == 0, err_a
    counted = keys(run_dir)
    assert len(counted) == ROWS and set(counted.values()) == {1}
    assert not (run_dir / "run.lock").exists()
