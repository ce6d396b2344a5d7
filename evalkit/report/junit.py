"""JUnit XML for CI test reporters: one test case per gate check, optionally one per failed example.

CI systems (GitHub, GitLab, Jenkins) render JUnit natively, so a failed gate shows up as a failed
test whose message says why. A run that did not complete adds a "run complete" case in error.

    write_junit(summary, Path("evalkit-junit.xml"), records=store.records())

A failed example's case holds why it failed, its output and its expected value: the dataset
columns the run's metrics compare with (`expected_keys`, as the reporter finds them from the
manifest), else the row's column named the usual way ("expected", "answer", "reference", ...).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.report.gate_text import observed_text, statistics_text
from evalkit.results.examples import expected_keys, fields_text, row_keys, split_row, usual_expected
from evalkit.results.schema import GateResultDoc, ResultRecord, RunSummary

if TYPE_CHECKING:
    from evalkit.results.store import StoredRun

# Characters XML 1.0 cannot hold even escaped; a model's output may contain them.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: Any) -> str:
    return _ILLEGAL.sub("\ufffd", str(text))


def junit_xml(
    summary: RunSummary,
    records: list[ResultRecord] | None = None,
    expected: list[str] | None = None,
) -> str:
    """The report as a string; `records` adds a failing case per failed example, and
    `expected` names the dataset columns shown as its expected value (default: the usual name)."""
    suite_name = f"evalkit.{summary.suite or 'suite'}"
    cases = [_run_case(summary, suite_name)]
    gates = summary.verdict.gates if summary.verdict else []
    cases += [_gate_case(g, suite_name) for g in gates]
    if records:
        cases += [_example_case(r, suite_name, expected) for r in records if _failures(r)]
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
        timestamp=summary.finished_at,
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", summary.run_id), ("status", summary.status)):
        ET.SubElement(props, "property", name=key, value=value)
    suite.extend(cases)
    root = ET.Element("testsuites", name="evalkit")
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, suite.get(attr, "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(
    summary: RunSummary,
    path: Path,
    records: list[ResultRecord] | None = None,
    expected: list[str] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(summary, records, expected), encoding="utf-8")


class JUnitReporter:
    """`--junit PATH` / `--report junit=PATH`; option `examples: true` adds failed examples."""

    name = "junit"

    def write(self, run: StoredRun, path: Path, options: dict[str, Any]) -> None:
        if not options.get("examples"):
            write_junit(run.summary, path)
            return
        records = run.records()
        write_junit(run.summary, path, records, expected_keys(run.manifest, row_keys(records)))


def _case(classname: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=_x(classname), name=_x(name), time="0")


def _run_case(summary: RunSummary, suite_name: str) -> ET.Element:
    case = _case(f"{suite_name}.run", "run complete")
    status = summary.status
    if status != "complete":
        reason = summary.stopped_reason or f"the run is {status}"
        message = _x(f"run {status}: {reason}")
        error = ET.SubElement(case, "error", message=message, type="Incomplete")
        error.text = f"resume with: evalkit run --resume {summary.run_id}"
    return case


def _gate_case(gate: GateResultDoc, suite_name: str) -> ET.Element:
    case = _case(f"{suite_name}.gates", gate.name)
    details = (
        f"observed: {observed_text(gate)}\nthreshold: {gate.threshold}\n"
        f"statistics: {statistics_text(gate)}\n\n{gate.message}"
    )
    if not gate.passed:  # a failed gate, or an inconclusive one whose policy fails the run
        failure = ET.SubElement(case, "failure", message=_x(gate.message), type="GateFailed")
        failure.text = _x(details + "\n\n" + json.dumps(gate.statistics, indent=2, default=str))
    elif gate.status != "pass":
        ET.SubElement(case, "skipped", message=_x(gate.message))
    ET.SubElement(case, "system-out").text = _x(details)
    return case


def _failures(record: ResultRecord) -> list[str]:
    """Why an item failed: its error, or each score that did not pass."""
    if record.error:
        return [f"error: {record.error}"]
    out = []
    for name, score in record.scores.items():
        if score.passed is False:
            reason = f": {score.reason}" if score.reason else ""
            out.append(f"{name} failed (value {score.value}){reason}")
    return out


def _example_case(
    record: ResultRecord, suite_name: str, expected_keys: list[str] | None
) -> ET.Element:
    name = f"{record.example_id} [{record.variant}/{record.model}] repeat {record.repeat}"
    case = _case(f"{suite_name}.examples", name)
    reasons = _failures(record)
    failure = ET.SubElement(case, "failure", message=_x("; ".join(reasons)), type="ExampleFailed")
    text = "\n".join(reasons)
    if record.output:
        text += f"\n\noutput:\n{record.output}"
    expected = _expected(record, expected_keys)
    if expected is not None:
        text += f"\n\nexpected:\n{expected}"
    failure.text = _x(text)
    return case


def _expected(record: ResultRecord, keys: list[str] | None) -> str | None:
    """The row's expected value(s): text as is, other values as JSON ("name: value" lines
    when several columns are expected); None when the row has none. Without `keys`, the
    row's own column named the usual way."""
    if keys is None:
        keys = usual_expected(record.inputs or {})
    _, wanted = split_row(record.inputs, keys)
    return fields_text(wanted) if wanted else None
