"""Per-example assertions: a row's own metrics and graders (tests:, an assert column, templates).

A row that does not carry an assertion is not scored by it: n counts only the rows that do, a
gate leaves the others out (not unscored), and every row gets the `assertions` verdict, which
is unscored (never a pass) on a row with no assertion at all.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import evalkit
from evalkit.cli.main import cli
from evalkit.errors import SuiteError
from evalkit.results.schema import ResultRecord

PASS_JSON = '{"reasoning": "r", "score": "pass"}'
FAIL_JSON = '{"reasoning": "r", "score": "fail"}'

TESTS_SUITE = """\
name: per-test
prompts:
  plain: "{{ question }}"
models:
  - id: mock
    provider: mock
    options:
      responses: {"France": "Paris", "Spain": "Lisbon", "2+2": "4", "sky": "blue"}
metrics:
  - type: length
    max_words: 3
tests:
  - vars: {question: "Capital of France?"}
    assert:
      - contains: Paris
  - vars: {question: "Capital of Spain?"}
    assert:
      - contains: Madrid
      - {type: icontains, value: lisbon, name: wrong_city}
  - vars: {question: "What is 2+2?"}
    assert:
      - {template: number}
  - vars: {question: "Color of the sky?"}
assertion_templates:
  number: {type: regex, pattern: '^\\d+$'}
"""


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(path: Path, **options: Any) -> evalkit.RunResult:
    return evalkit.run(path, runs_dir=path.parent / "runs", tracking=False, **options)


def by_question(result: evalkit.RunResult) -> dict[str, ResultRecord]:
    return {str((r.inputs or {}).get("question")): r for r in result.records()}


def test_a_rows_own_assertion_scores_only_the_rows_that_carry_it(tmp_path: Path) -> None:
    result = run(write(tmp_path, TESTS_SUITE))
    (cell,) = result.summary.cells
    contains = cell.metrics["contains"]
    # two rows carry `contains`: one passes, one fails; the other two are not asserted
    assert (contains.n, contains.mean, contains.n_unscored) == (2, 0.5, 0)
    assert (contains.not_asserted, contains.skipped) == (2, 0)
    assert cell.metrics["wrong_city"].n == 1 and cell.metrics["wrong_city"].mean == 1.0
    assert cell.metrics["number"].n == 1 and cell.metrics["number"].mean == 1.0
    assert cell.metrics["length"].n == 4  # the suite's metric scores every row
    records = by_question(result)
    assert set(records["Capital of France?"].scores) == {"length", "contains", "assertions"}
    assert "contains" not in records["What is 2+2?"].scores


def test_the_row_verdict_is_never_a_silent_pass(tmp_path: Path) -> None:
    text = TESTS_SUITE.replace("metrics:\n  - type: length\n    max_words: 3\n", "")
    result = run(write(tmp_path, text))
    records = by_question(result)
    verdict = {q: r.scores["assertions"] for q, r in records.items()}
    assert verdict["Capital of France?"].passed is True
    assert verdict["Capital of Spain?"].passed is False
    assert "contains" in (verdict["Capital of Spain?"].reason or "")
    assert verdict["What is 2+2?"].passed is True
    # the row without any assertion: unscored with the reason, not a pass
    sky = verdict["Color of the sky?"]
    assert sky.value is None and sky.reason == "no pass/fail assertion on this row"
    stats = result.summary.cells[0].metrics["assertions"]
    assert (stats.n, stats.mean, stats.n_unscored) == (3, pytest.approx(2 / 3), 1)


def test_gates_count_only_the_rows_that_carry_the_assertion(tmp_path: Path) -> None:
    text = TESTS_SUITE + textwrap.dedent("""\
        gates:
          - {metric: wrong_city, min: 1.0}
          - {metric: contains, stat: pass_rate, min: 0.5}
          - {max_unscored_rate: 0.0, metric: contains}
          - {metric: assertions, min: 0.9}
        """)
    result = run(write(tmp_path, text))
    gates = {g.name: g for g in result.summary.verdict.gates}
    assert [g.status for g in gates.values()] == ["pass", "pass", "pass", "fail"]
    contains = next(g for g in gates.values() if g.metric == "contains" and g.type == "threshold")
    assert contains.statistics["n"] == 2 and contains.statistics["n_unscored"] == 0
    rate = next(g for g in gates.values() if g.type == "unscored_rate")
    assert rate.statistics["n"] == 2  # not 4: two rows do not carry `contains`
    assert result.exit_code == 1


def test_the_naive_workaround_and_per_row_assertions_disagree(tmp_path: Path) -> None:
    """The issue's story: an empty expected value passed rows without the assertion (50%)."""
    rows = [
        {"id": "a", "question": "Capital of Spain?", "assert": [{"contains": "Madrid"}]},
        {"id": "b", "question": "Color of the sky?"},
    ]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = TESTS_SUITE.split("metrics:")[0] + "dataset: data.jsonl\n"
    result = run(write(tmp_path, suite))
    contains = result.summary.cells[0].metrics["contains"]
    assert (contains.n, contains.mean) == (1, 0.0)  # promptfoo's 0%, not 50%


def test_an_assert_column_in_jsonl_and_csv(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(
        "id,question,assert\n"
        'f,Capital of France?,"[{contains: Paris}, {type: starts_with, value: P}]"\n'
        "s,Capital of Spain?,icontains: madrid\n"
        "k,Color of the sky?,\n",
        encoding="utf-8",
    )
    suite = TESTS_SUITE.split("tests:")[0] + "dataset: data.csv\n"
    result = run(write(tmp_path, suite))
    metrics = result.summary.cells[0].metrics
    assert metrics["contains"].n == 1 and metrics["starts_with"].n == 1
    assert metrics["icontains"].n == 1 and metrics["icontains"].mean == 0.0
    # the suite's `length` is an assertion of every row: the row without its own still counts
    assert metrics["assertions"].n == 3 and metrics["assertions"].mean == pytest.approx(2 / 3)


def test_a_rows_own_grader_judges_only_its_rows(tmp_path: Path) -> None:
    text = TESTS_SUITE + textwrap.dedent(f"""\
        judges:
          - id: judge
            provider: mock
            options: {{responses: {{"Spoken like a pirate": '{FAIL_JSON}', "": '{PASS_JSON}'}}}}
        """)
    text = text.replace(
        "      - contains: Paris\n",
        "      - contains: Paris\n"
        "      - {type: rubric, name: pirate, judge: judge, rubric: Spoken like a pirate}\n"
        "      - {type: rubric, name: polite, judge: judge, rubric: Polite}\n",
    )
    text = text.replace(
        "      - {template: number}\n",
        "      - {template: number}\n"
        "      - {type: rubric, name: polite, judge: judge, rubric: Polite}\n",
    )
    result = run(write(tmp_path, text))
    records = by_question(result)
    france = records["Capital of France?"].scores
    assert france["pirate"].passed is False and france["polite"].passed is True
    assert france["assertions"].passed is False
    assert "polite" in records["What is 2+2?"].scores
    assert "pirate" not in records["What is 2+2?"].scores
    assert "polite" not in records["Capital of Spain?"].scores
    metrics = result.summary.cells[0].metrics
    assert metrics["pirate"].n == 1 and metrics["polite"].n == 2
    # the same grader on two rows is bound once, and run.json lists it
    manifest = json.loads((result.run_dir / "run.json").read_text())
    assert sorted(g["name"] for g in manifest["graders"]) == ["pirate", "polite"]
    assert result.summary.judging is not None and result.summary.judging.calls == 3


def test_run_json_records_the_rows_own_metrics(tmp_path: Path) -> None:
    result = run(write(tmp_path, TESTS_SUITE))
    manifest = json.loads((result.run_dir / "run.json").read_text())
    listed = [(m["name"], m["args"].get("value")) for m in manifest["metrics"]]
    assert ("contains", "Paris") in listed and ("contains", "Madrid") in listed
    assert manifest["dataset"]["name"] == "tests" and manifest["dataset"]["rows"] == 4


def test_the_table_and_mlflow_show_the_rows_own_metrics(tmp_path: Path) -> None:
    from evalkit.report.table import comparison_table
    from evalkit.trackers.mlflow.rundata import cell_metrics, interval_text

    result = run(write(tmp_path, TESTS_SUITE))
    table = comparison_table(result.summary)
    headers = [c.header for c in table.columns]
    assert {"contains", "wrong_city", "number", "assertions"} <= set(headers)
    cell = result.summary.cells[0]
    logged = cell_metrics(cell)  # MLflow: the mean as the metric, n with its interval tag
    assert logged["contains"] == 0.5
    assert "n=2" in (interval_text(cell.metrics["contains"]) or "")


def test_compare_pairs_only_the_rows_that_carry_the_assertion(tmp_path: Path) -> None:
    path = write(tmp_path, TESTS_SUITE)
    first = run(path)
    second = run(write(tmp_path, TESTS_SUITE.replace('"Lisbon"', '"Madrid"'), "suite2.yaml"))
    comparison = evalkit.compare(first.run_id, second.run_id, runs_dir=tmp_path / "runs")
    diff = next(d for d in comparison.diffs if d.metric == "contains")
    assert diff.n_pairs == 2 and diff.only_a == [] and diff.only_b == []
    assert (diff.a_paired, diff.b_paired) == (0.5, 1.0)


# --- mistakes, with file:line -------------------------------------------------------------------


def error_of(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        evalkit.validate(path)
    return info.value


def test_a_name_used_twice_on_a_row_points_at_the_assertion(tmp_path: Path) -> None:
    text = TESTS_SUITE.replace("      - contains: Madrid\n", "      - {length: {max_words: 2}}\n")
    err = error_of(write(tmp_path, text))
    assert "'length' is already a suite metric" in err.message
    assert err.file is not None and err.file.endswith("suite.yaml") and err.line == 18
    assert "name:" in (err.hint or "")


def test_an_unknown_template_suggests_the_right_one(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, TESTS_SUITE.replace("{template: number}", "{template: numbr}")))
    assert "unknown assertion template 'numbr'" in err.message and err.line == 22
    assert "number" in (err.hint or "")


def test_a_bad_pattern_in_a_row_points_at_the_data_file_line(tmp_path: Path) -> None:
    rows = [{"q": "a"}, {"q": "b", "assert": [{"type": "regex", "pattern": "(unclosed"}]}]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = TESTS_SUITE.split("metrics:")[0].replace("question", "q") + "dataset: data.jsonl\n"
    err = error_of(write(tmp_path, suite))
    assert err.file is not None and err.file.endswith("data.jsonl") and err.line == 2


def test_a_missing_variable_in_a_tests_own_assertion(tmp_path: Path) -> None:
    text = TESTS_SUITE.replace("contains: Paris", 'contains: "{{ city }}"')
    err = error_of(write(tmp_path, text))
    assert "{{ city }}" in err.message and err.line == 15


def test_an_unknown_argument_in_a_template_points_at_the_template(tmp_path: Path) -> None:
    text = TESTS_SUITE.replace("pattern: '^\\d+$'", "patern: x")
    err = error_of(write(tmp_path, text))
    assert "no argument 'patern'" in err.message and err.line == 25


def test_a_pairwise_grader_cannot_be_a_rows_own(tmp_path: Path) -> None:
    text = TESTS_SUITE.replace(
        "      - contains: Paris\n",
        "      - {type: pairwise, judge: mock, variants: [plain, other]}\n",
    )
    err = error_of(write(tmp_path, text))
    assert "pairwise" in err.message and err.line == 15


def test_a_gate_may_name_a_rows_own_metric_but_not_a_typo(tmp_path: Path) -> None:
    evalkit.validate(write(tmp_path, TESTS_SUITE + "gates: [{metric: wrong_city, min: 1}]\n"))
    err = error_of(write(tmp_path, TESTS_SUITE + "gates: [{metric: wrong_cty, min: 1}]\n"))
    assert "unknown metric 'wrong_cty'" in err.message and "wrong_city" in (err.hint or "")


def test_a_suite_needs_rows_from_somewhere(tmp_path: Path) -> None:
    text = TESTS_SUITE.split("tests:")[0]
    err = error_of(write(tmp_path, text))
    assert "dataset: (a file or rows) or tests:" in err.message


def test_duplicate_test_ids_are_refused(tmp_path: Path) -> None:
    text = TESTS_SUITE.replace(
        '  - vars: {question: "What', '  - id: x\n    vars: {question: "What'
    )
    text = text.replace('  - vars: {question: "Color', '  - id: x\n    vars: {question: "Color')
    err = error_of(write(tmp_path, text))
    assert "'x' is already used" in err.message and err.line == 24


def test_validate_and_the_cli_gate_know_the_rows_own_scores(tmp_path: Path) -> None:
    path = write(tmp_path, TESTS_SUITE + "gates: [{metric: wrong_city, min: 1}]\n")
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 0, out.output
    assert "per row   contains, wrong_city, number" in out.output
    result = run(path)
    gated = evalkit.gate(result.run_id, runs_dir=tmp_path / "runs", suite=path)
    assert gated.verdict is not None and gated.verdict.passed


def test_a_schema_dump_of_tests_loads_again(tmp_path: Path) -> None:
    """A Suite built in Python (adopted) keeps tests: and templates through its YAML copy."""
    data = yaml.safe_load(textwrap.dedent(TESTS_SUITE))
    suite = evalkit.load_suite(write(tmp_path, TESTS_SUITE)).suite
    result = evalkit.run(suite, runs_dir=tmp_path / "runs", tracking=False, base_dir=tmp_path)
    assert result.summary.cells[0].metrics["contains"].n == 2
    kept = yaml.safe_load((result.run_dir / "suite.yaml").read_text())
    assert kept["tests"][1]["assert"] == data["tests"][1]["assert"]


def test_the_porting_docs_example_runs(tmp_path: Path) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "porting.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Per-example assertions") :]
    block = section[
        section.index("```yaml\n") + 8 : section.index("```", section.index("```yaml") + 7)
    ]
    result = run(write(tmp_path, block))
    metrics = result.summary.cells[0].metrics
    assert metrics["contains"].n == 2 and metrics["contains"].mean == 0.5
    assert metrics["one_word"].n == 1 and metrics["one_word"].mean == 1.0
    assert metrics["assertions"].mean == 0.5
