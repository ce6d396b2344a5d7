"""The HTML report's "Slices by column" section: the summary's own slices (`group_by:`), one
table per column with each cell's value, n, every metric and its interval as an error bar.

These are the numbers of summary.json (computed with the cells' statistics, capped at
evalkit.results.slices.MAX_SLICE_VALUES values with the rest in "(other)"); the "Slices"
section beside it regroups the examples of any short column in the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.report.html_parts import Bar, Scale, errbar, esc, num

if TYPE_CHECKING:
    from evalkit.results.schema import (
        CellSummary,
        ColumnSlices,
        MetricStats,
        RunSummary,
        SliceStats,
    )


def slice_stats(summary: RunSummary) -> str:
    """The section, or "" when the run has no `group_by`."""
    columns = list(dict.fromkeys(s.column for c in summary.cells for s in c.slices))
    if not columns:
        return ""
    names = list(dict.fromkeys(n for c in summary.cells for n in c.metrics))
    tables = "".join(_table(summary.cells, column, names) for column in columns)
    return (
        '<section id="slice-stats"><h2>Slices by column</h2><p class="note">Each value of a'
        " <code>group_by</code> column, per variant x model: dots are the values, lines their"
        f" 95% confidence intervals.</p>{tables}</section>"
    )


def _table(cells: list[CellSummary], column: str, names: list[str]) -> str:
    found = [(c, s) for c in cells for s in c.slices if s.column == column]
    scales = {n: _scale([s for _, col in found for s in col.values], n) for n in names}
    rows = "".join(_rows(cell, col, names, scales) for cell, col in found)
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    folded = max(col.folded for _, col in found)
    note = (
        f'<p class="note">(other) holds {folded} more values of {esc(column)}.</p>'
        if folded
        else ""
    )
    return (
        f'<h3>by {esc(column)}</h3><table class="cells slice-stats" data-column="{esc(column)}">'
        f"<thead><tr><th>variant x model</th><th>{esc(column)}</th><th>n</th><th>errors</th>"
        f"{head}</tr></thead><tbody>{rows}</tbody></table>{note}"
    )


def _rows(cell: CellSummary, col: ColumnSlices, names: list[str], scales: dict[str, Scale]) -> str:
    out = []
    for value in col.values:
        metrics = "".join(_metric(value.metrics.get(n), scales[n], n) for n in names)
        out.append(
            f"<tr><td>{esc(cell.label)}</td><th>{esc(value.value)}</th><td>{value.items}</td>"
            f"<td>{value.errors}</td>{metrics}</tr>"
        )
    return "".join(out)


def _scale(values: list[SliceStats], name: str) -> Scale:
    """One scale per metric across the column's rows, so the bars compare."""
    stats = [m for v in values if (m := v.metrics.get(name)) is not None]
    bars = [Bar(s.mean, s.ci_low, s.ci_high) for s in stats]
    return Scale.of(bars, rate=any(s.kind == "pass_rate" for s in stats))


def _metric(stats: MetricStats | None, scale: Scale, name: str) -> str:
    if stats is None or stats.mean is None:
        return '<td><span class="none">–</span></td>'
    pct = stats.kind == "pass_rate"
    low, high = num(stats.ci_low, pct), num(stats.ci_high, pct)
    text = f"<b>{num(stats.mean, pct)}</b> [{low}, {high}] <small>n={stats.n}</small>"
    title = f"{name}: {num(stats.mean, pct)} ({low} to {high})"
    bar = errbar([Bar(stats.mean, stats.ci_low, stats.ci_high)], scale, title)
    return f'<td class="metric">{text}<br>{bar}</td>'
