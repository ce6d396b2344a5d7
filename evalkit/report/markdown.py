"""A Markdown summary of a run for CI: verdict, matrix, gates with statistics, regressions.

`write_markdown(summary, path)` writes it to `path` and, inside GitHub Actions (where
$GITHUB_STEP_SUMMARY names a file), appends it to the job summary page as well. With the run's
records (`ExampleRows`), each regressed example shows its input and expected value next to the
baseline's output and the current one. Text from the run is cut short and escaped (pipes,
newlines, and HTML, which GitHub would otherwise render).

    write_markdown(run.summary, Path("evalkit.md"), ExampleRows(run.manifest, run.records()))
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.report.gate_text import num, observed_text, result_text, statistics_text, verdict_line
from evalkit.results.examples import ExampleRows
from evalkit.results.schema import CellSummary, MetricStats, RunSummary, SliceStats

if TYPE_CHECKING:
    from evalkit.results.store import StoredRun

ICON = {"pass": "✅", "fail": "❌", "skip": "⏭️", "inconclusive": "❔", "not_comparable": "⚠️"}
MAX_EXAMPLE_ROWS = 10


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def markdown_report(summary: RunSummary, rows: ExampleRows | None = None) -> str:
    """The report; `rows` (the run's inputs) adds input and expected to regressed examples."""
    parts = [
        _header(summary),
        _matrix(summary),
        _slices(summary),
        _gates(summary),
        _regressed(summary, rows),
        _flaky(summary),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def write_markdown(summary: RunSummary, path: Path | None, rows: ExampleRows | None = None) -> str:
    """Write the report to `path` (if given) and append it to $GITHUB_STEP_SUMMARY (if set)."""
    text = markdown_report(summary, rows)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return text


class MarkdownReporter:
    """`--markdown PATH` / `--report markdown=PATH` (also appended to the GitHub job summary)."""

    name = "markdown"

    def write(self, run: StoredRun, path: Path, options: dict[str, Any]) -> None:
        # the records are read only when a regressed example needs its input and expected value
        rows = ExampleRows(run.manifest, run.records()) if _has_regressed(run.summary) else None
        write_markdown(run.summary, path, rows)


def _has_regressed(summary: RunSummary) -> bool:
    gates = summary.verdict.gates if summary.verdict else []
    return any(g.type == "regression" and g.examples for g in gates)


def _header(summary: RunSummary) -> str:
    line = verdict_line(summary)
    icon = (
        "✅" if line.startswith(("PASSED", "no gates")) else "⚠️" if "INCOMPLETE" in line else "❌"
    )
    counts = summary.counts
    facts = [
        f"run `{summary.run_id}`",
        f"status **{summary.status}**",
        f"{counts.done} of {counts.total} items",
        f"{counts.errors} errors",
        f"{counts.cached} cached",
    ]
    if summary.cost:
        facts.append(f"cost ${summary.cost:.4f}")
    return f"## {icon} evalkit · {summary.suite}: {line}\n\n" + " · ".join(facts)


def _matrix(summary: RunSummary) -> str:
    cells = summary.cells
    if not cells:
        return ""
    names = list(dict.fromkeys(n for c in cells for n in c.metrics))
    head = ["variant", "model", *names, "errors"]
    rows = [
        [c.variant, c.model, *(_metric(c.metrics.get(n)) for n in names), c.errors] for c in cells
    ]
    return "### Results (95% CI)\n\n" + _table(head, rows)


def _slices(summary: RunSummary) -> str:
    """One table per `group_by` column: each cell's metrics per value, with CIs."""
    columns = list(dict.fromkeys(s.column for c in summary.cells for s in c.slices))
    names = list(dict.fromkeys(n for c in summary.cells for n in c.metrics))
    blocks = []
    for column in columns:
        found = [(c, s) for c in summary.cells for s in c.slices if s.column == column]
        rows = [_slice_row(c, v, names) for c, s in found for v in s.values]
        folded = max(s.folded for _, s in found)
        note = f"\n\n(other) holds {folded} more values of {column}." if folded else ""
        head = ["variant", "model", column, "items", *names, "errors"]
        blocks.append(f"### By {column} (95% CI)\n\n" + _table(head, rows) + note)
    return "\n\n".join(blocks)


def _slice_row(c: CellSummary, v: SliceStats, names: list[str]) -> list[Any]:
    metrics = [_metric(v.metrics.get(n)) for n in names]
    return [c.variant, c.model, v.value, v.items, *metrics, v.errors]


def _metric(stats: MetricStats | None) -> str:
    if stats is None or not stats.n:
        return "–"
    pct = stats.kind == "pass_rate"

    def fmt(x: Any) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return f"{x:.0%}" if pct else f"{x:.3g}"

    text = f"{fmt(stats.mean)} [{fmt(stats.ci_low)}, {fmt(stats.ci_high)}] n={stats.n}"
    if stats.n_unscored:
        text += f", {stats.n_unscored} unscored"
    return text


def _gates(summary: RunSummary) -> str:
    verdict = summary.verdict
    if verdict is None or not verdict.gates:
        return ""
    head = ["", "gate", "observed", "threshold", "statistics", "result"]
    rows = [
        [
            ICON[g.status],
            g.name,
            observed_text(g),
            g.threshold,
            statistics_text(g),
            result_text(g),
        ]
        for g in verdict.gates
    ]
    text = "### Gates\n\n" + _table(head, rows)
    failed = [g for g in verdict.gates if g.status != "pass"]
    if failed:
        text += "\n\n**Why**\n\n" + "\n".join(
            f"- {ICON[g.status]} **{cell(g.name)}**: {cell(g.message)}" for g in failed
        )
    return text


REGRESSED_HEAD = [
    "example",
    "baseline",
    "current",
    "input",
    "expected",
    "baseline output",
    "current output",
]


def _regressed(summary: RunSummary, rows: ExampleRows | None) -> str:
    blocks = []
    for gate in summary.verdict.gates if summary.verdict else []:
        examples = gate.examples
        if gate.type != "regression" or not examples:
            continue
        lines = [_regressed_row(e, rows) for e in examples[:MAX_EXAMPLE_ROWS]]
        more = len(examples) - len(lines)
        table = _table(REGRESSED_HEAD, lines)
        note = f"\n\n…and {more} more in summary.json" if more > 0 else ""
        title = html.escape(
            f"{cell(gate.name)}: {len(examples)} examples scored lower", quote=False
        )
        blocks.append(f"<details><summary>{title}</summary>\n\n{table}{note}\n\n</details>")
    return "### Examples scored lower than the baseline\n\n" + "\n\n".join(blocks) if blocks else ""


def _regressed_row(example: dict[str, Any], rows: ExampleRows | None) -> list[str]:
    example_id = example["example_id"]
    return [
        _short(str(example_id), 40),
        num(example["baseline"]),
        num(example["current"]),
        _short(rows.input(example_id) if rows else None, 60),
        _short(rows.expected_value(example_id) if rows else None, 40),
        _short(example.get("baseline_output")),
        _short(example.get("output")),
    ]


def _short(text: Any, width: int = 80) -> str:
    """Run text for a table cell: one line, at most `width` characters, HTML escaped (GitHub
    renders tags in Markdown, so a model's "<details>" or "</table>" would break the page)."""
    if not isinstance(text, str):
        return "–"
    text = " ".join(text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return html.escape(text, quote=False)


def _flaky(summary: RunSummary) -> str:
    entries = [f for f in summary.flaky if f.flaky]
    if not entries:
        return ""
    head = ["variant", "model", "metric", "flaky", "stable pass", "stable fail", "examples"]
    rows = [
        [
            f.variant,
            f.model,
            f.metric,
            f.counts.get("flaky", 0),
            f.counts.get("stable_pass", 0),
            f.counts.get("stable_fail", 0),
            ", ".join(map(str, f.flaky[:MAX_EXAMPLE_ROWS])),
        ]
        for f in entries
    ]
    return f"### Flaky examples ({entries[0].repeats} repeats)\n\n" + _table(head, rows)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
