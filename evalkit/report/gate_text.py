"""Gate results for people: the terminal table after a run, and the texts Markdown/JUnit reuse.

Everything reads summary.verdict (a typed VerdictDoc), so a verdict re-decided by `evalkit gate`
prints exactly like one decided at the end of `evalkit run`.
"""

from __future__ import annotations

from typing import Any

from evalkit.results.schema import GateResultDoc, RunSummary

RESULT_TEXT = {
    "pass": "PASS",
    "fail": "FAIL",
    "skip": "SKIP",
    "inconclusive": "INCONCLUSIVE",
    "not_comparable": "NOT COMPARABLE",
}
COLOR = {
    "pass": "green",
    "fail": "red",
    "skip": "yellow",
    "inconclusive": "yellow",
    "not_comparable": "yellow",
}


def result_text(gate: GateResultDoc) -> str:
    """PASS / FAIL / ..., and whether an inconclusive gate fails the run by its policy."""
    text = RESULT_TEXT[gate.status]
    if gate.status in ("inconclusive", "not_comparable"):
        text += " (fails)" if not gate.passed else " (allowed)"
    return text


def num(value: Any, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def observed_text(gate: GateResultDoc) -> str:
    value = gate.observed
    if gate.type == "regression":
        return f"diff {num(value, signed=True)}" if value is not None else "–"
    if gate.type == "cost":
        return f"${value:.4f}" if value is not None else "–"
    return num(value) if value is not None else "–"


def statistics_text(gate: GateResultDoc) -> str:
    """The evidence in one short line: interval, n, p-values."""
    s = gate.statistics
    parts = []
    if s.get("ci_low") is not None or s.get("ci_high") is not None:
        pct = round(100 * float(s.get("confidence") or 0.95))
        signed = gate.type == "regression"
        low, high = num(s.get("ci_low"), signed), num(s.get("ci_high"), signed)
        parts.append(f"{pct}% CI [{low}, {high}]")
    if s.get("p_value") is not None:
        parts.append(f"p={num(s['p_value'])}")
    if s.get("p_adjusted") is not None and s.get("p_adjusted") != s.get("p_value"):
        parts.append(f"Holm p={num(s['p_adjusted'])}")
    if s.get("n") is not None:
        parts.append(f"n={s['n']}")
    missing = s.get("missing") or {}
    if missing.get("count"):
        parts.append(_missing_text(missing))
    mismatch = s.get("mismatch") or {}
    if mismatch:
        parts.append("mismatch: " + ", ".join(f"{v['count']} {k}" for k, v in mismatch.items()))
    return " · ".join(parts)


def _missing_text(missing: dict[str, Any]) -> str:
    """ "missing 30 (30 errors; fail)": the candidate's missing results and the policy."""
    kinds = ("errors", "unscored", "absent", "changed_inputs")
    counts = [
        f"{(missing.get(k) or {}).get('count')} {k.replace('_', ' ')}"
        for k in kinds
        if (missing.get(k) or {}).get("count")
    ]
    return f"missing {missing['count']} ({', '.join(counts)}; {missing.get('policy')})"


def verdict_line(summary: RunSummary) -> str:
    """One line: PASSED / FAILED / INCOMPLETE with the failed gate count."""
    verdict = summary.verdict
    if summary.status != "complete":
        return (
            f"INCOMPLETE: the run is {summary.status}; gates are not trusted for release (exit 3)"
        )
    if verdict is None:
        return "no gates defined"
    counts = verdict.counts
    notes = [
        f"{n} {label}"
        for n, label in (
            (counts.inconclusive, "inconclusive"),
            (counts.not_comparable, "not comparable"),
        )
        if n
    ]
    note = f" ({', '.join(notes)})" if notes else ""
    if verdict.passed:
        return f"PASSED: all {counts.gates} gate checks passed{note}"
    return f"FAILED: {counts.failed} of {counts.gates} gate checks failed{note}"


def gate_table(summary: RunSummary) -> Any:
    """A rich Table: gate, observed, threshold, statistics, result (None when no gates)."""
    from rich.markup import escape
    from rich.table import Table

    verdict = summary.verdict
    if verdict is None or not verdict.gates:
        return None
    table = Table(title="gates", header_style="bold", show_lines=False)
    for header, justify in (
        ("gate", "left"),
        ("observed", "right"),
        ("threshold", "left"),
        ("p-value / CI", "left"),
        ("result", "center"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for gate in verdict.gates:
        color = "red" if not gate.passed else COLOR[gate.status]
        table.add_row(  # names hold "[variant/model]", which rich would read as markup
            escape(gate.name),
            observed_text(gate),
            escape(gate.threshold or ""),
            escape(statistics_text(gate)),
            f"[bold {color}]{result_text(gate)}[/bold {color}]",
        )
    return table


def print_verdict(console: Any, summary: RunSummary) -> None:
    """The gate table, the reason of every failed gate, and the verdict line."""
    from rich.markup import escape

    table = gate_table(summary)
    if table is None:
        return
    console.print(table)
    for gate in summary.verdict.gates if summary.verdict else []:
        if gate.status != "pass":
            mark = "[red]✗[/red]" if not gate.passed else "[yellow]-[/yellow]"
            text = escape(f"{gate.name}: {gate.message}")
            console.print(f"{mark} {text}", highlight=False)
    line = verdict_line(summary)
    color = "green" if line.startswith("PASSED") else "red"
    console.print(f"[bold {color}]{line}[/bold {color}]")
