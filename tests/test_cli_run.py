"""`evalkit run` through the CLI: table, exit codes, clean errors, Ctrl-C and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from evalkit.cli.main import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_prints_comparison_table(write_suite):
    result = invoke("run", str(write_suite()), "--quiet")
    assert result.exit_code == 0, result.output
    assert "plain" in result.output and "polite" in result.output
    assert "contains" in result.output and "n=4" in result.output
    assert "results:" in result.output


def test_rerun_says_it_was_served_from_cache(write_suite):
    suite = str(write_suite())
    invoke("run", suite, "-q")
    again = invoke("run", suite, "-q")
    assert "served from the cache" in again.output


def test_bad_inputs_exit_2_without_traceback(write_suite, tmp_path):
    cases = {
        "malformed": "name: x\nprompts: [unclosed\n",
        "unknown key": Path(write_suite()).read_text() + "promts: {}\n",
        "missing dataset": Path(write_suite()).read_text().replace("data.jsonl", "nope.jsonl"),
        "missing variable": Path(write_suite())
        .read_text()
        .replace("{{ question }}", "{{ qestion }}"),
        "unknown provider": Path(write_suite())
        .read_text()
        .replace("provider: mock", "provider: mok"),
        "unknown metric": Path(write_suite()).read_text().replace("contains:", "containz:"),
    }
    for name, text in cases.items():
        suite = write_suite(text, name=f"{name.replace(' ', '_')}.yaml")
        result = CliRunner().invoke(cli, ["run", str(suite), "-q"])
        assert result.exit_code == 2, (name, result.output)
        assert "Traceback" not in result.output, name
        assert "error" in result.output.lower(), name


def test_ctrl_c_keeps_results_and_resume_repeats_no_call(write_suite, tmp_path):
    calls = tmp_path / "calls.log"
    rows = [{"id": f"r{i}", "question": f"question {i}?", "expected": "x"} for i in range(30)]
    text = (
        Path(write_suite())
        .read_text()
        .replace(
            "    options:\n", f"    options:\n      latency_ms: 100\n      calls_log: {calls}\n"
        )
        + "concurrency: 2\n"
    )
    suite = write_suite(text, rows=rows)
    runs = tmp_path / "runs"
    env = {**os.environ, "EVALKIT_RUNS_DIR": str(runs)}
    cmd = [sys.executable, "-m", "evalkit", "run", str(suite), "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = _wait_for_results(runs, min_lines=6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    run_id = results.parent.name
    done = {json.loads(line)["key"] for line in results.read_text().splitlines()}
    assert 6 <= len(done) < 60
    called_before = calls.read_text().splitlines()

    resumed = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", "--resume", run_id, "-q", "--no-cache"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    new_calls = calls.read_text().splitlines()[len(called_before) :]
    done_calls = {"|".join(k.split("|")[i] for i in (0, 1, 3)) for k in done}
    assert not done_calls & set(new_calls)  # nothing finished before is called again
    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    assert len(set(keys)) == 60 and len(keys) == 60


def _wait_for_results(runs: Path, min_lines: int) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in runs.glob("*/results.jsonl"):
            if len(path.read_text().splitlines()) >= min_lines:
                return path
        time.sleep(0.05)
    raise AssertionError("the run wrote no results")
