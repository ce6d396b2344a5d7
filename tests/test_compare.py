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


def test_compare_shows_changed_examples_side_by_side(two_runs: tuple[Path, str, str]) -> None:
    runs, a, b = two_runs
    comparison = compare_runs(runs, a, b)
    plain = [p for p in comparison.examples if p.variant == "plain"]
    # q1: "The answer is 4" -> "four" (contains pass -> fail, length fail -> pass); q4: the
    # other way for contains; q2 and q3 did not change; q5 is unpaired, not side by side
    assert [p.example_id for p in plain] == ["q1", "q4"]
    q1 = plain[0]
    assert q1.input == {"question": "What is 2+2?"} and q1.expected == {"expected": "4"}
    assert [x.output for x in q1.a] == ["The answer is 4"] and [x.output for x in q1.b] == ["four"]
    assert q1.changes == {"contains": (1.0, 0.0), "length": (0.0, 1.0)}
    assert q1.a[0].scores["contains"].passed is True and q1.b[0].scores["contains"].passed is False

    result = CliRunner().invoke(cli, ["compare", a, b, "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "plain x mock · changed examples, side by side" in out
    assert "q1  contains: pass -> fail, length: fail -> pass" in out
    assert "What is 2+2?" in out and "expected 4" in out
    assert "A run-a" in out and "B run-b" in out
    row = next(line for line in out.splitlines() if "The answer is 4" in line)
    assert row.index("The answer is 4") < row.index("four")  # A's output, then B's, one row
    assert "contains pass" in out and "contains fail" in out


def test_compare_json_carries_the_side_by_side_examples(two_runs: tuple[Path, str, str]) -> None:
    runs, a, b = two_runs
    args = ["compare", a, b, "--runs-dir", str(runs), "--json"]
    data = json.loads(CliRunner().invoke(cli, args).output)
    q1 = next(e for e in data["examples"] if (e["example_id"], e["variant"]) == ("q1", "plain"))
    assert q1["input"] == {"question": "What is 2+2?"} and q1["expected"] == {"expected": "4"}
    assert q1["a"][0]["output"] == "The answer is 4" and q1["b"][0]["output"] == "four"
    assert q1["b"][0]["scores"]["contains"]["passed"] is False
    assert q1["changes"]["contains"] == {"a": 1.0, "b": 0.0}
    assert len(data["examples"]) == 4 and data["examples_left_out"] == 0  # q1, q4 x 2 variants
    capped = json.loads(CliRunner().invoke(cli, [*args, "--examples", "1"]).output)
    assert [(e["variant"], e["example_id"]) for e in capped["examples"]] == [
        ("plain", "q1"),
        ("polite", "q1"),
    ]
    assert capped["examples_left_out"] == 2
    text = CliRunner().invoke(cli, [*args[:-1], "--examples", "1"]).output
    assert "… 2 more changed examples" in text


def test_paired_examples_show_run_a_input_when_the_dataset_row_changed() -> None:
    from gates_support import rec

    from evalkit.results.examples import paired_examples
    from evalkit.results.schema import RunManifest, SuiteInfo

    manifest = RunManifest(run_id="b", suite=SuiteInfo(name="s"))
    before = rec("q1", {"ok": True}, inputs={"id": "q1", "q": "old", "answer": "x"}, output="x")
    after = rec("q1", {"ok": False}, inputs={"id": "q1", "q": "new", "answer": "x"}, output="y")
    [pair] = paired_examples(manifest, [before], [after], {("q1", "v", "m"): {"ok": (1.0, 0.0)}})
    assert pair.input == {"q": "new"} and pair.input_a == {"q": "old"}
    assert pair.expected == {"answer": "x"}  # the usual name, no metric names a column
