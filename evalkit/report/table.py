"""The comparison table printed at the end of a run: one row per variant x model.

Each metric column shows the mean (or pass rate) with its 95% confidence interval and n; the
best row of each metric is bold so a PO sees at a glance which variant wins, and the interval
shows whether the win is more than noise. With `group_by`, `slice_tables` gives one more table
per column: each cell's numbers per value of it.
"""

from __future__ import annotations

import math

from rich.markup import escape
from rich.table import Table

from evalkit.results.schema import CellSummary, MetricStats, RunSummary


def comparison_table(summary: RunSummary, title: str | None = None) -> Table:
    cells = summary.cells
    metric_names = _metric_names(cells)
    table = Table(title=title, show_lines=False, header_style="bold")
    table.add_column("variant")
    table.add_column("model")
    for name in metric_names:
        table.add_column(name, justify="right", no_wrap=True)
    for header in ("latency ms", "tokens in/out", "cost $", "errors"):
        table.add_column(header, justify="right")
    best = {name: _best(cells, name) for name in metric_names}
    for cell in cells:
        row = [cell.variant, cell.model]
        for name in metric_names:
            row.append(_metric_text(cell.metrics.get(name), best[name]))
        row.extend(_perf_texts(cell))
        table.add_row(*row)
    return table


def _metric_names(cells: list[CellSummary]) -> list[str]:
    names: dict[str, None] = {}
    for cell in cells:
        names.update(dict.fromkeys(cell.metrics))
    return list(names)


def _best(cells: list[CellSummary], name: str) -> float | None:
    means = [c.metrics[name].mean for c in cells if name in c.metrics]
    found = [m for m in means if m is not None and not math.isnan(m)]
    return max(found) if len(found) > 1 else None


def _metric_text(stats: MetricStats | None, best: float | None) -> str:
    skipped = f" [dim]{stats.skipped} skipped[/dim]" if stats and stats.skipped else ""
    if stats is None or stats.n == 0 or stats.mean is None:
        unscored = stats.n_unscored if stats else 0
        text = f"[dim]–[/dim] ({unscored} unscored)" if unscored else "[dim]–[/dim]"
        return text + skipped  # a grader's only_if skips are counted, not hidden
    mean, low, high = stats.mean, stats.ci_low, stats.ci_high
    text = _fmt(mean, stats.kind)
    if low is not None and high is not None and not math.isnan(low):
        text += f" [dim][{_fmt(low, stats.kind)}–{_fmt(high, stats.kind)}][/dim]"
    text += f" [dim]n={stats.n}[/dim]"
    if stats.n_unscored:
        text += f" [yellow]{stats.n_unscored} unscored[/yellow]"
    text += skipped
    if best is not None and mean == best:
        text = f"[bold green]{text}[/bold green]"
    return text


def _fmt(value: float, kind: str) -> str:
    return f"{value:.0%}" if kind == "pass_rate" else f"{value:.3g}"


def _perf_texts(cell: CellSummary) -> list[str]:
    latency = cell.latency_ms.mean
    tokens = cell.tokens
    if cell.items and cell.errors == cell.items:
        latency_text = "[dim]–[/dim]"  # every call failed: nothing was served, not even a cache
    elif latency is None:
        latency_text = "[dim]cached[/dim]"
    else:
        latency_text = f"{latency:.0f}"
    return [
        latency_text,
        f"{tokens.mean_input:.0f}/{tokens.mean_output:.0f}",
        f"{cell.cost.total:.4f}" if cell.cost else "–",
        f"[red]{cell.errors}[/red]" if cell.errors else "0",
    ]


def slice_tables(summary: RunSummary) -> list[Table]:
    """One table per `group_by` column: every cell's numbers per value (with CIs and n)."""
    columns = list(dict.fromkeys(s.column for c in summary.cells for s in c.slices))
    return [_slice_table(summary.cells, column) for column in columns]


def _slice_table(cells: list[CellSummary], column: str) -> Table:
    metric_names = _metric_names(cells)
    table = Table(title=f"by {column}", header_style="bold")
    for header in ("variant x model", column, "items", *metric_names, "errors"):
        table.add_column(
            header, justify="left" if header in ("variant x model", column) else "right"
        )
    for cell in cells:
        found = next((s for s in cell.slices if s.column == column), None)
        for i, stats in enumerate(found.values if found else []):
            table.add_row(
                cell.label if i == 0 else "",
                escape(stats.value),
                str(stats.items),
                *(_metric_text(stats.metrics.get(n), None) for n in metric_names),
                f"[red]{stats.errors}[/red]" if stats.errors else "0",
                end_section=i == len(found.values) - 1 if found else False,
            )
        if found is not None and found.folded:
            table.caption = (
                f"(other) holds {found.folded} more values of {column}: only the most frequent"
                " are shown one by one"
            )
    return table
