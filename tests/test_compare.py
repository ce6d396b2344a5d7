"""`evalkit compare` and `evalkit runs list`: local run history, no MLflow involved."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MOCK_SUITE, ROWS

from evalkit.api import RunOptions, run_suite
from evalkit.cli.main import cli
from evalkit.results.compare import compare_runs, paired_p_value

# run B: "hot" now answers "cold" (contains: fail -> pass), "2+2" answers "four" (pass -> fail)
SUITE_B = MOCK_SUITE.replace('"hot": "warm"', '"hot": "cold"').replace(
    '"The answer is 4"', '"four"'
)
EXTRA_ROW = {"id": "q5", "question": "Is water wet?", "expected": "yes"}


@pytest.fixture
def two_runs(write_suite: Callable[..., Path], tmp_path: Path) -> tuple[Path, str, str]:
    runs = tmp_path / "runs"
    a = run_suite(write_suite(), RunOptions(runs_dir=runs, run_id="run-a", tracking=False))
    suite_b = write_suite(SUITE_B, rows=[*ROWS, EXTRA_ROW], name="suite_b.yaml")
    b = run_suite(suite_b, RunOptions(runs_dir=runs, run_id="run-b", tracking=False))
    return runs, a.run_id, b.run_id


def test_compare_pairs_examples_by_id(two_runs: tuple[Path, str, str]) -> None:
    runs, a, b = two_runs
    comparison = compare_runs(runs, a, b)
    diff = next(d for d in comparison.diffs if (d.variant, d.metric) == ("plain", "contains"))
    assert diff.kind == "pass_rate"
    assert {(c.example_id, c.a, c.b) for c in diff.changed} == {("q1", 1.0, 0.0), ("q4", 0.0, 1.0)}
    assert diff.only_b == ["q5"] and diff.only_a == []
    assert diff.n_pairs == 4
    # each run's own value: B also has q5, which fails (the mock echoes the question)
    assert diff.a_mean == pytest.approx(0.75) and diff.b_mean == pytest.approx(0.6)
    # the difference is paired, over q1-q4 only: one up, one down, no change (issue 10: the
    # unpaired -0.15 was a drop that no example had)
    assert diff.a_paired == pytest.approx(0.75) and diff.b_paired == pytest.approx(0.75)
    assert diff.diff == pytest.approx(0.0)
    assert diff.p_value == pytest.approx(1.0)  # one up, one down: no evidence either way
    assert any("suite file changed" in n for n in comparison.notes)
    assert any("datasets differ" in n for n in comparison.notes)


def test_compare_cli_prints_values_difference_and_changed_examples(
    two_runs: tuple[Path, str, str],
) -> None:
    runs, a, b = two_runs
    result = CliRunner().invoke(cli, ["compare", a, b, "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "A = run-a" in out and "B = run-b" in out
    assert "0.750" in out and "0.600" in out and "+0.000" in out
    assert "q1: pass -> fail" in out and "q4: fail -> pass" in out
    assert "scored only in run B (1): q5" in out
    as_json = CliRunner().invoke(cli, ["compare", a, b, "--runs-dir", str(runs), "--json"])
    data = json.loads(as_json.output)
    assert data["run_a"] == "run-a" and {d["metric"] for d in data["diffs"]} == {
        "contains",
        "length",
    }


def test_compare_unknown_run_is_a_clean_error(two_runs: tuple[Path, str, str]) -> None:
    runs, a, _ = two_runs
    result = CliRunner().invoke(cli, ["compare", a, "nope", "--runs-dir", str(runs)])
    assert result.exit_code == 2
    assert "no run 'nope'" in result.output and "Traceback" not in result.output


def test_paired_p_value() -> None:
    assert paired_p_value([], []) is None
    assert paired_p_value([1.0] * 10, [0.0] * 10) == pytest.approx(0.001953125)
    assert paired_p_value([0.2, 0.4, 0.6], [0.2, 0.4, 0.6]) == 1.0


def test_runs_list_shows_recent_runs_with_headlines(two_runs: tuple[Path, str, str]) -> None:
    runs, a, _ = two_runs
    summary_path = runs / a / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["verdict"] = {"passed": False, "gates": []}
    summary_path.write_text(json.dumps(summary))
    result = CliRunner().invoke(cli, ["runs", "list", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert "run-a" in result.output and "run-b" in result.output
    assert "mock-suite" in result.output and "complete" in result.output
    assert "contains 0.600" in result.output and "failed" in result.output
    listed = json.loads(
        CliRunner().invoke(cli, ["runs", "list", "--runs-dir", str(runs), "--json"]).output
    )
    by_id = {r["run_id"]: r for r in listed}
    assert by_id["run-a"]["verdict"] == "failed" and by_id["run-b"]["verdict"] is None
    assert by_id["run-b"]["headline"]["contains"]["value"] == pytest.approx(0.6)
    limited = CliRunner().invoke(cli, ["runs", "list", "--runs-dir", str(runs), "--limit", "1"])
    assert limited.output.count("mock-suite") == 1


def test_runs_list_empty(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", "list", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 0 and "no runs" in result.output
