"""JUnit XML for CI test reporters: one test case per gate check, optionally one per failed example.

CI systems (GitHub, GitLab, Jenkins) render JUnit natively, so a failed gate shows up as a failed
test whose message says why. A run that did not complete adds a "run complete" case in error.

    write_junit(summary, Path("evalkit-junit.xml"), records=store.records())
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from evalkit.report.gate_text import observed_text, statistics_text

# Characters XML 1.0 cannot hold even escaped; a model's output may contain them.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: Any) -> str:
    return _ILLEGAL.sub("\ufffd", str(text))


def junit_xml(summary: dict[str, Any], records: list[dict[str, Any]] | None = None) -> str:
    """The report as a string; `records` adds a failing case per failed example."""
    suite_name = f"evalkit.{summary.get('suite', 'suite')}"
    cases = [_run_case(summary, suite_name)]
    verdict = summary.get("verdict") or {}
    cases += [_gate_case(g, suite_name) for g in verdict.get("gates", [])]
    if records:
        cases += [_example_case(r, suite_name) for r in records if _failures(r)]
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
        timestamp=str(summary.get("finished_at", "")),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("run_id", "status"):
        ET.SubElement(props, "property", name=key, value=str(summary.get(key, "")))
    suite.extend(cases)
    root = ET.Element("testsuites", name="evalkit")
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, suite.get(attr, "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(
    summary: dict[str, Any], path: Path, records: list[dict[str, Any]] | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(summary, records), encoding="utf-8")


def _case(classname: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=_x(classname), name=_x(name), time="0")


def _run_case(summary: dict[str, Any], suite_name: str) -> ET.Element:
    case = _case(f"{suite_name}.run", "run complete")
    status = summary.get("status")
    if status != "complete":
        reason = summary.get("stopped_reason") or f"the run is {status}"
        message = _x(f"run {status}: {reason}")
        error = ET.SubElement(case, "error", message=message, type="Incomplete")
        error.text = f"resume with: evalkit run --resume {summary.get('run_id')}"
    return case


def _gate_case(gate: dict[str, Any], suite_name: str) -> ET.Element:
    case = _case(f"{suite_name}.gates", gate["name"])
    details = (
        f"observed: {observed_text(gate)}\nthreshold: {gate.get('threshold', '')}\n"
        f"statistics: {statistics_text(gate)}\n\n{gate['message']}"
    )
    if gate["status"] == "fail":
        failure = ET.SubElement(case, "failure", message=_x(gate["message"]), type="GateFailed")
        failure.text = _x(details + "\n\n" + json.dumps(gate.get("statistics"), indent=2))
    elif gate["status"] == "skip":
        ET.SubElement(case, "skipped", message=_x(gate["message"]))
    ET.SubElement(case, "system-out").text = _x(details)
    return case


def _failures(record: dict[str, Any]) -> list[str]:
    """Why an item failed: its error, or each score that did not pass."""
    if record.get("error"):
        return [f"error: {record['error']}"]
    out = []
    for name, score in (record.get("scores") or {}).items():
        if score and score.get("passed") is False:
            reason = f": {score['reason']}" if score.get("reason") else ""
            out.append(f"{name} failed (value {score.get('value')}){reason}")
    return out


def _example_case(record: dict[str, Any], suite_name: str) -> ET.Element:
    name = (
        f"{record['example_id']} [{record['variant']}/{record['model']}] repeat {record['repeat']}"
    )
    case = _case(f"{suite_name}.examples", name)
    reasons = _failures(record)
    failure = ET.SubElement(case, "failure", message=_x("; ".join(reasons)), type="ExampleFailed")
    output = record.get("output")
    failure.text = _x("\n".join(reasons) + (f"\n\noutput:\n{output}" if output else ""))
    return case
