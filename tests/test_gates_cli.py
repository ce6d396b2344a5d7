"""End to end through the CLI with the mock provider: gates pass (exit 0), a changed prompt
regresses against a baseline (exit 1), and the JUnit and Markdown files say why."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.cli.main import cli
from evalkit.providers.mock import MockProvider

ROWS = [{"id": f"q{i}", "question": f"Question {i}?", "expected": f"answer-{i}"} for i in range(8)]

# The mock provider echoes the user message, so the prompt decides whether `expected` appears.
SUITE = """\
name: release-suite
dataset: data.jsonl
prompts:
  main: "{prompt}"
models:
  - id: mock
    provider: mock
metrics:
  - contains: "{{{{ expected }}}}"
gates:
  - metric: contains
    min: 0.75
  - max_error_rate: 0.0
  - regression: {{baseline: main, metric: contains, max_drop: 0.0, if_missing: skip}}
"""
GOOD = "{{ question }} Answer: {{ expected }}"
BAD = "{{ question }}"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def suite_with(write_suite, prompt: str) -> Path:
    return write_suite(SUITE.format(prompt=prompt), rows=ROWS)


def test_passing_gates_exit_0_and_reports_say_so(write_suite, tmp_path):
    suite = suite_with(write_suite, GOOD)
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    result = invoke(
        "run", str(suite), "-q", "--run-id", "r1", "--junit", str(junit), "--markdown", str(md)
    )
    assert result.exit_code == 0, result.output
    assert "PASSED: all 3 gate checks passed" in result.output
    assert "SKIP" in result.output  # no baseline yet: the regression gate is skipped
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and root.get("skipped") == "1"
    assert md.read_text().startswith("## ✅ evalkit · release-suite: PASSED")


def test_regressed_prompt_exits_1_and_reports_say_why(write_suite, tmp_path, runs):
    assert invoke("run", str(suite_with(write_suite, GOOD)), "-q", "--run-id", "r1").exit_code == 0
    set_result = invoke("baseline", "set", "r1", "--name", "main")
    assert set_result.exit_code == 0 and "baseline 'main' -> r1" in set_result.output
    assert json.loads((runs / "baselines.json").read_text())["main"]["run_id"] == "r1"

    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    bad = suite_with(write_suite, BAD)
    result = invoke(
        "run", str(bad), "-q", "--run-id", "r2", "--junit", str(junit), "--markdown", str(md)
    )
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "REGRESSED" in result.output

    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["contains vs baseline 'main' (max drop 0) [main/mock]"].find("failure")
    assert failure is not None and "REGRESSED: contains 1 -> 0" in failure.get("message", "")
    assert "p=0.003906" in failure.get("message", "")  # 8 pass -> fail pairs: 1/256
    assert cases["contains mean >= 0.75 [main/mock]"].find("failure") is not None

    text = md.read_text()
    assert text.startswith("## ❌ evalkit · release-suite: FAILED: 2 of 3 gate checks failed")
    assert "### Examples scored lower than the baseline" in text
    # input, expected, the baseline's output and the current one (the mock echoes the prompt)
    assert (
        "| q0 | 1 | 0 | Question 0? | answer-0 | Question 0? Answer: answer-0 | Question 0? |"
        in text
    )

    summary = json.loads((runs / "r2" / "summary.json").read_text())
    assert summary["verdict"]["passed"] is False


def test_gate_command_redecides_without_calling_a_model(write_suite, tmp_path, runs):
    invoke("run", str(suite_with(write_suite, GOOD)), "-q", "--run-id", "r1")
    invoke("baseline", "set", "r1")
    invoke("run", str(suite_with(write_suite, BAD)), "-q", "--run-id", "r2")
    calls = sum(MockProvider.CALLS.values())

    failed = invoke("gate", "r2", "--junit", str(tmp_path / "j.xml"), "--junit-examples")
    assert failed.exit_code == 1 and "REGRESSED" in failed.output
    examples = [
        c
        for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
        if c.get("classname", "").endswith(".examples")
    ]
    assert len(examples) == 8

    # the baseline gated against itself would show no change whatever it did (issue 10): an
    # error that says so, not a silent pass
    itself = invoke("gate", "r1")
    assert itself.exit_code == 1 and "is this run (r1)" in itself.output
    assert invoke("gate", "r2", "--baseline", "r2").exit_code == 1
    verdict = json.loads((runs / "r2" / "summary.json").read_text())["verdict"]
    assert "is this run (r2)" in verdict["gates"][2]["message"]
    # against the baseline again, as the suite says: the regression is back
    assert invoke("gate", "r2", "--baseline", "r1").exit_code == 1
    verdict = json.loads((runs / "r2" / "summary.json").read_text())["verdict"]
    assert verdict["gates"][2]["statistics"]["baseline_run_id"] == "r1"

    lenient = write_suite(
        SUITE.format(prompt=BAD)
        .replace("min: 0.75", "min: 0.0")
        .replace("max_drop: 0.0", "max_drop: 1.0"),
        rows=ROWS,
        name="l.yaml",
    )
    assert invoke("gate", "r2", "--suite", str(lenient)).exit_code == 0
    assert sum(MockProvider.CALLS.values()) == calls  # no model was called


def test_incomplete_run_exits_3_whatever_the_gates(write_suite):
    text = (
        SUITE.format(prompt=GOOD).replace(
            "    provider: mock\n", "    provider: mock\n    options: {fail_on: 'Question 1?'}\n"
        )
        + "error_budget: 0.0\n"
    )
    result = invoke("run", str(write_suite(text, rows=ROWS)), "-q", "--run-id", "r3")
    assert result.exit_code == 3, result.output
    assert "INCOMPLETE" in result.output


def test_unknown_gate_metric_is_invalid_input(write_suite):
    text = SUITE.format(prompt=GOOD).replace("  - metric: contains\n", "  - metric: contain\n")
    result = invoke("run", str(write_suite(text, rows=ROWS)), "-q")
    assert result.exit_code == 2
    assert (
        "unknown metric 'contain'" in result.output and "did you mean 'contains'" in result.output
    )


def test_gate_and_baseline_errors_are_exit_2(runs):
    result = invoke("gate", "nope")
    assert result.exit_code == 2 and "no run 'nope'" in result.output
    assert invoke("baseline", "set", "nope").exit_code == 2
    assert "no baselines yet" in invoke("baseline", "list").output


def test_validate_checks_gates_too(write_suite):
    text = SUITE.format(prompt=GOOD).replace(
        "    min: 0.75\n", "    min: 0.75\n    variant: nope\n"
    )
    result = invoke("validate", str(write_suite(text, rows=ROWS)))
    assert result.exit_code == 2
    assert (
        "unknown variant 'nope'" in result.output and "suite.yaml:13" in result.output
    )  # the key itself
