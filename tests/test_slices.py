"""Slices: `group_by:` / --group-by give per-slice numbers with CIs, a "(missing)" slice and a
cap; `per:` gates decide per cell x slice value; bad columns fail validation with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from gates_support import rec

from evalkit.cli.main import cli
from evalkit.results.schema import RunSummary
from evalkit.results.slices import MAX_SLICE_VALUES, MISSING, OTHER, slice_value, with_slices
from evalkit.results.summary import aggregate

# billing: 2 of 4 answered right; shipping: 4 of 4; two rows without a category: both right.
# Overall 8 of 10 (80%) clears `min: 0.75`; billing alone (50%) does not.
ROWS = [
    {"id": f"b{i}", "question": f"bill {i}", "expected": "yes", "answer": a, "category": "billing"}
    for i, a in enumerate(["yes", "yes", "no", "no"])
] + [
    {"id": f"s{i}", "question": f"ship {i}", "expected": "yes", "answer": "yes", "category": "ship"}
    for i in range(4)
]
ROWS += [
    {"id": "m0", "question": "q", "expected": "yes", "answer": "yes"},
    {"id": "m1", "question": "q", "expected": "yes", "answer": "yes", "category": None},
]

SUITE = """\
name: slices
dataset: data.jsonl
prompts:
  main: "{{{{ question }}}}"
models:
  - id: mock
    provider: mock
    options: {{response: "{{row[answer]}}"}}
metrics:
  - contains: "{{{{ expected }}}}"
{extra}
"""


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(write_suite, extra: str) -> Path:
    return write_suite(SUITE.format(extra=extra), rows=ROWS)


def summary_of(tmp_path: Path, run_id: str) -> RunSummary:
    text = (tmp_path / "runs" / run_id / "summary.json").read_text()
    return RunSummary.model_validate_json(text)


def test_group_by_gives_slices_with_cis_and_a_missing_slice(write_suite, tmp_path):
    suite = write(write_suite, "group_by: category")  # a single string is accepted
    result = invoke("run", str(suite), "-q", "--run-id", "r1")
    assert result.exit_code == 0, result.output
    (column,) = summary_of(tmp_path, "r1").cells[0].slices
    assert column.column == "category" and column.distinct == 3 and column.folded == 0
    by_value = {s.value: s for s in column.values}
    assert list(by_value) == ["billing", "ship", MISSING]  # sorted, "(missing)" last
    billing = by_value["billing"].metrics["contains"]
    assert (billing.mean, billing.n, billing.kind) == (0.5, 4, "pass_rate")
    assert billing.ci_low is not None and billing.ci_low < 0.5 < billing.ci_high
    assert by_value[MISSING].items == 2 and by_value[MISSING].metrics["contains"].mean == 1.0
    assert "category" in result.output and "billing" in result.output  # the terminal block


def test_cli_group_by_adds_to_the_suite_and_is_kept_for_resume(write_suite, tmp_path):
    suite = write(write_suite, "group_by: [category]")
    result = invoke("run", str(suite), "-q", "--run-id", "r1", "--group-by", "answer")
    assert result.exit_code == 0, result.output
    cell = summary_of(tmp_path, "r1").cells[0]
    assert [c.column for c in cell.slices] == ["category", "answer"]
    manifest = json.loads((tmp_path / "runs" / "r1" / "run.json").read_text())
    assert manifest["options"]["group_by"] == ["answer"]


def test_per_slice_gate_fails_on_one_slice_while_the_cell_passes(write_suite, tmp_path):
    gates = (
        "gates:\n  - {metric: contains, min: 0.75}\n"
        "  - {metric: contains, min: 0.75, per: category}"
    )
    suite = write(write_suite, gates)
    result = invoke("run", str(suite), "-q", "--run-id", "r1")
    assert result.exit_code == 1, result.output
    verdict = summary_of(tmp_path, "r1").verdict
    assert verdict is not None
    by_name = {g.name: g for g in verdict.gates}
    assert by_name["contains mean >= 0.75 [main/mock]"].status == "pass"
    billing = by_name["contains mean >= 0.75 [main/mock · category=billing]"]
    assert billing.status == "fail" and billing.observed == 0.5
    assert (billing.slice_column, billing.slice_value) == ("category", "billing")
    assert by_name["contains mean >= 0.75 [main/mock · category=(missing)]"].status == "pass"
    assert len(verdict.gates) == 4 and verdict.counts.failed == 1
    assert "category=billing" in result.output


@pytest.mark.parametrize(
    ("extra", "message", "hint", "line"),
    [
        ("group_by: [categroy]", "no dataset row has a column 'categroy'", "'category'", 11),
        (
            "gates:\n  - {metric: contains, min: 0.5, per: categry}",
            "gates[0].per: no dataset row has a column 'categry'",
            "'category'",
            12,
        ),
        (
            "gates:\n  - regression: {baseline: main, metric: contains}\n    per: categori",
            "gates[0].per: no dataset row has a column 'categori'",
            "'category'",
            13,
        ),
        (
            "gates:\n  - {max_cost: 1.0, per: category}",
            "per: is not supported on cost gates",
            "variant:/model:",
            12,
        ),
    ],
)
def test_validate_refuses_bad_slice_columns_with_file_line(write_suite, extra, message, hint, line):
    suite = write(write_suite, extra)
    result = CliRunner().invoke(cli, ["validate", str(suite)])
    assert result.exit_code == 2, result.output
    assert message in result.output and hint in result.output
    assert f"suite.yaml:{line}" in result.output
    assert "Traceback" not in result.output


def test_unknown_cli_group_by_is_a_clear_error(write_suite):
    suite = write(write_suite, "")
    result = CliRunner().invoke(cli, ["run", str(suite), "-q", "--group-by", "categori"])
    assert result.exit_code == 2, result.output
    assert "--group-by: no dataset row has a column 'categori'" in result.output
    assert "did you mean 'category'?" in result.output


def test_per_slice_gate_on_a_column_with_too_many_values_is_refused(write_suite):
    suite = write(write_suite, "gates:\n  - {metric: contains, min: 0.5, per: id}")
    ok = CliRunner().invoke(cli, ["validate", str(suite)])
    assert ok.exit_code == 0, ok.output  # 10 values are fine
    many = [{**ROWS[0], "id": f"x{i}", "question": f"q{i}"} for i in range(60)]
    write_suite(SUITE.format(extra="gates:\n  - {metric: contains, min: 0.5, per: id}"), rows=many)
    refused = CliRunner().invoke(cli, ["validate", str(suite)])
    assert refused.exit_code == 2 and "has 60 values" in refused.output


def test_a_column_with_many_values_is_capped_and_folded_into_other():
    records = [rec(f"e{i}", {"ok": i % 2 == 0}, inputs={"q": f"text {i}"}) for i in range(50)]
    records += [rec("dup", {"ok": True}, inputs={"q": "text 0"})]
    cells = with_slices(aggregate(records, ["v"], ["m"]), records, ["q"])
    (column,) = cells[0].slices
    assert column.distinct == 50 and len(column.values) == MAX_SLICE_VALUES + 1
    assert column.values[-1].value == OTHER and column.folded == 50 - MAX_SLICE_VALUES
    assert sum(s.items for s in column.values) == 51  # nothing dropped
    assert "text 0" in {s.value for s in column.values}  # the most frequent value is kept


def test_slice_values_as_text():
    assert slice_value({"c": None}, "c") == slice_value({}, "c") == MISSING
    assert slice_value({"c": " "}, "c") == MISSING
    assert slice_value({"c": True}, "c") == "true"
    assert slice_value({"c": 3}, "c") == "3"
    assert slice_value({"c": ["b", "a"]}, "c") == '["b", "a"]'
    assert len(slice_value({"c": "x" * 500}, "c")) == 80


def test_older_summaries_without_slices_still_load():
    doc = {"run_id": "r", "cells": [{"variant": "v", "model": "m", "items": 1}]}
    assert RunSummary.model_validate(doc).cells[0].slices == []


def test_markdown_and_html_reports_carry_the_slice_tables(write_suite, tmp_path):
    suite = write(write_suite, "group_by: [category]")
    md, page = tmp_path / "r.md", tmp_path / "r.html"
    args = ["run", str(suite), "-q", "--run-id", "r1", "--markdown", str(md), "--html", str(page)]
    assert invoke(*args).exit_code == 0
    text = md.read_text()
    assert "### By category (95% CI)" in text
    assert (
        "| main | mock | billing | 4 | 50% [" in text and "| main | mock | (missing) | 2 |" in text
    )
    html = page.read_text()
    section = html[html.index('<section id="slice-stats">') :]
    section = section[: section.index("</section>")]
    assert "<h3>by category</h3>" in section and "<th>billing</th>" in section
    assert "<b>50%</b> [" in section and 'class="errbar"' in section
    assert "<th>(missing)</th>" in section


def test_mlflow_slice_metric_names_are_sanitised_unique_and_bounded():
    from evalkit.trackers.mlflow.rundata import key
    from evalkit.trackers.mlflow.slice_metrics import MAX_SLICE_METRICS, name_part, slice_values

    assert name_part("Settings > Billing/Invoices") == "Settings _ Billing_Invoices"
    assert name_part(MISSING) == "_missing" and name_part(OTHER) == "_other"
    assert name_part("..") == "_" and len(name_part("x" * 500)) == 60
    values = ["a/b", "a?b", "Settings > Billing", None, "x/../y", "é"]
    records = [rec(f"e{i}", {"ok": True}, inputs={"c": v}) for i, v in enumerate(values)]
    (cell,) = with_slices(aggregate(records, ["v"], ["m"]), records, ["c"])
    metrics, tags = slice_values(cell)
    assert len(metrics) == len(values)  # "a/b" and "a?b" both sanitise to "a_b": kept apart
    assert "slice.c._missing.ok" in metrics and "slice.c.Settings _ Billing.ok" in metrics
    for name in metrics:
        assert key(name) == name and "/" not in name and ".." not in name.split(".")
    assert "evalkit.ci.slice.c._missing.ok" in tags

    wide = [rec(f"e{i}", {f"m{j}": True for j in range(10)}, inputs={"c": i}) for i in range(20)]
    (cell,) = with_slices(aggregate(wide, ["v"], ["m"]), wide, ["c"])
    metrics, tags = slice_values(cell)
    assert len(metrics) == MAX_SLICE_METRICS
    assert tags["evalkit.slices_truncated"].startswith(f"{MAX_SLICE_METRICS} of 200 ")


def test_per_slice_error_rate_gate_decides_each_cell_and_value():
    from evalkit.gates.evaluate import decide
    from evalkit.suite.gates import parse_gates

    records = []
    for variant in ("a", "b"):
        records += [rec("e1", {"ok": True}, variant=variant, inputs={"lang": "en"})]
        records += [rec("e2", {"ok": True}, variant=variant, inputs={"lang": "de"})]
        records += [rec("e3", variant=variant, inputs={"lang": "de"}, error="boom")]
    gates = parse_gates([{"max_error_rate": 0.0, "per": "lang", "variant": "b"}])
    verdict = decide(gates, records)
    assert [(g.name, g.status) for g in verdict.gates] == [
        ("error rate <= 0 [b/m · lang=de]", "fail"),
        ("error rate <= 0 [b/m · lang=en]", "pass"),
    ]
    assert verdict.gates[0].observed == 0.5 and verdict.gates[0].index == 0


def test_json_schema_accepts_group_by_as_a_list_or_one_column():
    import jsonschema

    from evalkit.suite.jsonschema import suite_json_schema

    validator = jsonschema.Draft202012Validator(suite_json_schema())
    base = {"name": "s", "dataset": "d.jsonl", "prompts": {"p": "x"}, "models": [{"id": "m"}]}
    assert validator.is_valid({**base, "group_by": ["category"]})
    assert validator.is_valid({**base, "group_by": "category"})
    assert not validator.is_valid({**base, "group_by": 3})
    gate = {"metric": "contains", "min": 0.8, "per": "category"}
    assert validator.is_valid({**base, "gates": [gate]})
