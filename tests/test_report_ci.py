"""CI outputs: JUnit XML and the Markdown summary (and $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gates_support import flips, pass_fail, rec

from evalkit.gates.evaluate import decide
from evalkit.gates.regression import BaselineRun
from evalkit.report.junit import junit_xml, write_junit
from evalkit.report.markdown import markdown_report, write_markdown
from evalkit.results.schema import RunSummary
from evalkit.results.summary import aggregate
from evalkit.suite.gates import parse_gates


def summary_for(records, gates, baseline=None, status="complete"):
    verdict = decide(parse_gates(gates), records, baselines=lambda _: baseline)
    return RunSummary.model_validate(
        {
            "run_id": "run-2",
            "suite": "faq",
            "status": status,
            "stopped_reason": None if status == "complete" else "error budget spent",
            "finished_at": "2026-11-27T10:00:00Z",
            "counts": {"total": len(records), "done": len(records), "errors": 0, "cached": 0},
            "cost": 0.0,
            "cells": aggregate(records, ["v"], ["m"]),
            "verdict": verdict.to_doc(),
            "flaky": verdict.flaky,
        }
    )


def regressed_summary(**kw):
    base = flips(20, 20)
    now = dict(base) | {f"e{i:03d}": False for i in range(6)}
    records = pass_fail(now)
    gates = [
        {"metric": "ok", "min": 0.5},
        {"regression": {"baseline": "main", "metric": "ok"}},
    ]
    return summary_for(records, gates, BaselineRun("run-1", pass_fail(base)), **kw), records


def test_junit_has_one_case_per_gate_and_says_why():
    summary, _ = regressed_summary()
    root = ET.fromstring(junit_xml(summary))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "evalkit.faq"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "run complete",
        "ok mean >= 0.5 [v/m]",
        "ok vs baseline 'main' (max drop 0) [v/m]",
    ]
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    failure = cases[2].find("failure")
    assert failure is not None
    assert "REGRESSED" in failure.get("message", "") and "run-1" in failure.get("message", "")
    assert "p=0.01562" in (failure.text or "")  # b=6, c=0: 1/64
    assert cases[1].find("failure") is None


def test_junit_failed_examples_and_incomplete_run(tmp_path):
    summary, records = regressed_summary(status="incomplete")
    records[0].output = "bad \x00 byte"
    path = tmp_path / "out" / "junit.xml"
    write_junit(summary, path, records=records)
    root = ET.parse(path).getroot()  # parses: the NUL byte was replaced
    cases = root.iter("testcase")
    by_class: dict[str, list[ET.Element]] = {}
    for case in cases:
        by_class.setdefault(case.get("classname", ""), []).append(case)
    examples = by_class["evalkit.faq.examples"]
    assert len(examples) == 6
    assert examples[0].get("name") == "e000 [v/m] repeat 0"
    assert "ok failed" in examples[0].find("failure").get("message", "")
    run = by_class["evalkit.faq.run"][0]
    assert run.find("error") is not None
    assert "error budget spent" in run.find("error").get("message", "")


def test_markdown_has_verdict_matrix_gates_and_regressed_examples():
    summary, _ = regressed_summary()
    text = markdown_report(summary)
    assert text.startswith("## ❌ evalkit · faq: FAILED: 1 of 2 gate checks failed")
    assert "### Results (95% CI)" in text and "| v | m | 70% [" in text
    assert "### Gates" in text and "| ❌ | ok vs baseline 'main' (max drop 0) [v/m] |" in text
    assert "Holm" not in text.split("### Gates")[0]
    assert "**Why**" in text and "REGRESSED: ok 1 -> 0.7" in text
    assert "### Examples scored lower than the baseline" in text
    # without the run's records only the outputs are known (input and expected: "–")
    assert (
        "| example | baseline | current | input | expected | baseline output | current output |"
        in text
    )
    assert "| e000 | 1 | 0 | – | – | out | out |" in text


def test_markdown_passing_run_and_table_escaping():
    records = [rec("a|b", {"ok": True}, output="x | y")]
    summary = summary_for(records, [{"metric": "ok", "min": 0.5, "name": "ok | rate"}])
    text = markdown_report(summary)
    assert text.startswith("## ✅ evalkit · faq: PASSED")
    assert "ok \\| rate" in text


def test_markdown_lists_flaky_examples():
    records = [rec("a", {"ok": r == 0}, repeat=r) for r in range(3)]
    records += [rec("b", {"ok": True}, repeat=r) for r in range(3)]
    verdict = decide(parse_gates([{"metric": "ok", "max_flaky": 0}]), records, repeats=3)
    summary = summary_for(records, []).model_copy(
        update={"verdict": verdict.to_doc(), "flaky": verdict.flaky}
    )
    text = markdown_report(summary)
    assert "### Flaky examples (3 repeats)" in text
    assert "| v | m | ok | 1 | 1 | 0 | a |" in text


def test_write_markdown_appends_to_github_step_summary(tmp_path, monkeypatch):
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    summary, _ = regressed_summary()
    write_markdown(summary, tmp_path / "report.md")
    write_markdown(summary, None)  # only the job summary
    assert (tmp_path / "report.md").read_text().startswith("## ❌")
    content = step.read_text()
    assert content.startswith("earlier step\n") and content.count("## ❌ evalkit") == 2


def test_example_github_workflow_keeps_the_cache_and_uses_the_reports():
    import yaml

    path = Path(__file__).parent.parent / "examples" / "github-actions.yml"
    workflow = yaml.safe_load(path.read_text())
    steps = workflow["jobs"]["evaluate"]["steps"]
    # The example runs evalkit through the repository's action (action.yml), which keeps the
    # response cache and writes the reports; the workflow reads the JUnit path it outputs.
    evalkit = next(s for s in steps if s.get("uses", "").endswith("/evalkit@main"))
    action = yaml.safe_load((path.parent.parent / "action.yml").read_text())
    saved = next(s for s in action["runs"]["steps"] if s.get("name") == "Save the response cache")
    assert saved["uses"].startswith("actions/cache/save@") and "always()" in saved["if"]
    run_sh = (path.parent.parent / "action" / "run.sh").read_text()
    assert 'cache.sqlite" ]; then out response-cache' in run_sh
    assert '--junit "$reports/junit.xml" --markdown "$reports/summary.md"' in run_sh
    report = next(s for s in steps if "junit-report" in s.get("uses", ""))
    assert report["with"]["report_paths"] == f"${{{{ steps.{evalkit['id']}.outputs.junit }}}}"
    assert any("evalkit baseline set" in s.get("run", "") for s in steps)


def _regressed_with_text():
    """q1 regressed; its input and output hold Markdown/HTML that must not break the page."""
    row = {"id": "q1", "question": "Is <b>x</b> | y?\nsecond line", "expected": "yes", "n": 2}
    base = [rec("q1", {"ok": True}, inputs=row, output="yes, it is"), rec("q2", {"ok": True})]
    now = [
        rec("q1", {"ok": False}, inputs=row, output="<details>no</details> " + "z" * 200),
        rec("q2", {"ok": True}),
    ]
    gates = [{"regression": {"baseline": "main", "metric": "ok"}}]
    return summary_for(now, gates, BaselineRun("run-1", base)), now


def test_markdown_regressed_examples_show_input_expected_and_both_outputs():
    from evalkit.results.examples import ExampleRows
    from evalkit.results.schema import RunManifest, SuiteInfo

    summary, records = _regressed_with_text()
    rows = ExampleRows(RunManifest(run_id="run-2", suite=SuiteInfo(name="faq")), records)
    text = markdown_report(summary, rows)
    line = next(x for x in text.splitlines() if x.startswith("| q1 |"))
    cells = [c.strip() for c in line.strip("|").split(" | ")]
    assert cells[:3] == ["q1", "1", "0"]
    # several input columns as "name: value"; the pipe escaped, the tag shown as text
    assert cells[3] == "question: Is &lt;b&gt;x&lt;/b&gt; \\| y? second line; n: 2"
    assert cells[4] == "yes"
    assert cells[5] == "yes, it is"
    assert cells[6].startswith("&lt;details&gt;no&lt;/details&gt; zzz") and cells[6].endswith("…")
    assert len(cells[6].replace("&lt;", "<").replace("&gt;", ">")) == 80
    assert "<details>no" not in text  # no tag from the run reaches the page


def test_markdown_reporter_reads_the_records_for_regressed_examples(tmp_path):
    from evalkit.report.markdown import MarkdownReporter
    from evalkit.results.schema import RunManifest, SuiteInfo
    from evalkit.results.store import StoredRun

    summary, records = _regressed_with_text()
    manifest = RunManifest(run_id="run-2", suite=SuiteInfo(name="faq"))
    run = StoredRun(tmp_path, manifest, summary, loaded_records=records)
    path = tmp_path / "summary.md"
    MarkdownReporter().write(run, path, {})
    assert "| q1 | 1 | 0 | question: Is &lt;b&gt;" in path.read_text()


def test_junit_example_failures_include_the_expected_value(tmp_path):
    from evalkit.report.junit import JUnitReporter
    from evalkit.results.schema import MetricInfo, RunManifest, SuiteInfo, VariantInfo
    from evalkit.results.store import StoredRun

    records = [
        rec("a", {"ok": False}, inputs={"id": "a", "q": "2+2?", "answer": "4"}, output="5"),
        rec("b", {"ok": False}, inputs={"id": "b", "q": "x", "expected": ["p", 1]}),
        rec("c", {"ok": False}, inputs={"id": "c", "q": "y", "gold": "G", "label": "math"}),
        rec("d", {"ok": False}, inputs={"id": "d", "q": "z"}),
    ]
    summary = summary_for(records, [])

    def texts(xml: str) -> dict[str, str]:
        cases = ET.fromstring(xml).iter("testcase")
        return {
            c.get("name", "")[0]: c.find("failure").text or ""
            for c in cases
            if c.find("failure") is not None
        }

    # without a manifest: the usual names; a list is JSON, not a Python repr
    usual = texts(junit_xml(summary, records))
    assert usual["a"] == "ok failed (value 0.0)\n\noutput:\n5\n\nexpected:\n4"
    assert usual["b"].endswith('expected:\n["p", 1]')
    assert usual["c"].endswith("expected:\nmath")  # a guess: the only usual name there
    assert "expected:" not in usual["d"]
    # the reporter reads the manifest: the metric compares with {{ gold }}, the prompt uses q
    manifest = RunManifest(
        run_id="run-2",
        suite=SuiteInfo(name="faq"),
        variants={"v": VariantInfo(hash="h", template="[user]\n{{ q }} ({{ label }})")},
        metrics=[MetricInfo(name="ok", type="equals", args={"value": "{{ gold }}"})],
    )
    run = StoredRun(tmp_path, manifest, summary, loaded_records=records)
    JUnitReporter().write(run, tmp_path / "junit.xml", {"examples": True})
    named = texts((tmp_path / "junit.xml").read_text())
    assert named["c"].endswith("expected:\nG")
    assert "expected:" not in named["a"] and "expected:" not in named["d"]


def test_html_option_asks_the_html_reporter_with_the_runs_baseline(tmp_path):
    from evalkit.cli.options import report_requests

    path = tmp_path / "r.html"
    assert report_requests({"html": path, "baseline": "main"}) == [
        ("html", path, {"baseline": "main", "if_missing": "skip"})
    ]
    assert report_requests({"html": None, "baseline": "main"}) == []


def test_run_and_gate_write_the_html_report_vs_the_baseline(write_suite, tmp_path):
    from click.testing import CliRunner
    from conftest import MOCK_SUITE

    from evalkit.cli.main import cli

    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--no-tracking"], catch_exceptions=False)

    first = tmp_path / "first.html"
    # no baseline named "main" yet: the run still passes and gets its report, uncompared
    result = invoke(
        "run",
        str(write_suite()),
        "-q",
        "--run-id",
        "r1",
        "--html",
        str(first),
        "--baseline",
        "main",
    )
    assert result.exit_code == 0, result.output
    page = first.read_text()
    assert page.startswith("<!DOCTYPE html>") and "r1" in page
    assert 'id="baseline"' not in page
    assert invoke("baseline", "set", "r1", "--name", "main").exit_code == 0

    changed = write_suite(MOCK_SUITE.replace('"hot": "warm"', '"hot": "cold"'), name="b.yaml")
    second = tmp_path / "out" / "second.html"
    result = invoke(
        "run", str(changed), "-q", "--run-id", "r2", "--html", str(second), "--baseline", "main"
    )
    assert result.exit_code == 0, result.output
    page = second.read_text()
    assert "compared with baseline run <code>r1</code>" in page
    assert "warm" in page and "cold" in page  # the changed example, the baseline's and this run's

    gated = tmp_path / "gate.html"
    result = invoke("gate", "r2", "--html", str(gated), "--baseline", "r1")
    assert result.exit_code == 0, result.output
    assert "compared with baseline run <code>r1</code>" in gated.read_text()
