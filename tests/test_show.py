"""`evalkit show RUN [EXAMPLE]`: input, expected, outputs per variant x model, scores, reasons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MOCK_SUITE

from evalkit.api import RunOptions, run_suite
from evalkit.cli.main import cli

# the sky answer carries rich markup: it must print as text; "hot" fails every call
SUITE = (
    MOCK_SUITE.replace('"It is blue"', '"[bold red]It is blue[/bold red]"')
    .replace("      responses:", "      fail_on: hot\n      responses:")
    .replace("  - type: length", '  - contains_all: ["{{ expected }}", "!"]\n  - type: length')
    + "error_budget: 1.0\n"
)


@pytest.fixture
def run_id(write_suite: Callable[..., Path], tmp_path: Path) -> str:
    options = RunOptions(runs_dir=tmp_path / "runs", run_id="show-1", tracking=False)
    return run_suite(write_suite(SUITE), options).run_id


def show(*args: str) -> object:
    return CliRunner().invoke(cli, ["show", *args])


def test_show_one_example_with_outputs_scores_and_reasons(run_id: str) -> None:
    result = show(run_id, "q1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "run show-1 · mock-suite · 1 example" in out
    assert "input    What is 2+2?" in out and "expected 4" in out
    assert "plain x mock" in out and "polite x mock" in out
    assert out.count("The answer is 4") == 2
    assert "contains pass" in out and "length fail" in out
    assert "contains_all fail: missing: '!'" in out  # the reason, beside the score
    assert "q2" not in out


def test_show_lists_examples_errors_and_keeps_markup_as_text(run_id: str) -> None:
    out = show(run_id).output
    assert "4 examples" in out
    assert [
        line.strip() for line in out.splitlines() if line.strip() in {"q1", "q2", "q3", "q4"}
    ] == [
        "q1",
        "q2",
        "q3",
        "q4",
    ]
    assert "[bold red]It is blue[/bold red]" in out  # literal, not styled away
    assert "error: mock failure on 'hot'" in out
    limited = show(run_id, "--limit", "1").output
    assert "q2" not in limited and "… 3 more (--limit 0 shows all" in limited


def test_show_failed_and_json(run_id: str) -> None:
    failed = json.loads(show(run_id, "--failed", "--json", "--limit", "0").output)
    # every example fails contains_all (no "!" anywhere); q4's calls failed
    assert failed["total"] == 4 and failed["run_id"] == "show-1"
    q4 = next(e for e in failed["examples"] if e["example_id"] == "q4")
    assert q4["input"] == {"question": "Opposite of hot?"} and q4["expected"] == {
        "expected": "cold"
    }
    errors = [r["error"] for o in q4["outputs"] for r in o["repeats"]]
    assert errors == ["mock failure on 'hot'"] * 2
    q3 = next(e for e in failed["examples"] if e["example_id"] == "q3")
    plain = next(o for o in q3["outputs"] if o["variant"] == "plain")
    assert plain["repeats"][0]["output"] == "[bold red]It is blue[/bold red]"
    assert plain["repeats"][0]["scores"]["contains_all"]["reason"] == "missing: '!'"


def test_show_unknown_example_or_run_is_one_clean_line(run_id: str) -> None:
    result = show(run_id, "q11")
    assert result.exit_code == 2 and "no example 'q11' in run show-1" in result.output
    assert "did you mean 'q1'?" in result.output and "Traceback" not in result.output
    missing = show("nope")
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output
