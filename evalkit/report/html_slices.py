"""Slices of the HTML report: each metric's pass rate (or mean) per value of a dataset column,
per variant x model, beside the baseline's, computed here over every example of the run (the
per-example table may be capped; these numbers are not).

A column is offered as a slice when it holds short values shared by several examples
(`category`, `language`), not when every example has its own (`id`, `question`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from evalkit.report.html_examples import Column, Example, slice_value
from evalkit.report.html_parts import esc, num

if TYPE_CHECKING:
    from evalkit.results.schema import ResultRecord

MAX_SLICE_VALUES = 50
MAX_VALUE_CHARS = 80


def slice_columns(examples: list[Example], names: list[str]) -> list[str]:
    """Columns worth grouping by: scalar values, 2..50 distinct ones, not one per example."""
    out = []
    for name in names:
        values = [e.inputs.get(name) for e in examples]
        if any(isinstance(v, dict | list) or len(str(v)) > MAX_VALUE_CHARS for v in values):
            continue
        distinct = {slice_value(v) for v in values}
        if 2 <= len(distinct) <= MAX_SLICE_VALUES and len(distinct) < len(examples):
            out.append(name)
    return out


def slice_tables(
    examples: list[Example], names: list[str], cols: list[Column], metrics: list[str]
) -> str:
    """One hidden table per slice column; the page shows the one chosen in "group by"."""
    return "".join(_table(i, name, examples, cols, metrics) for i, name in enumerate(names))


def _table(
    index: int, name: str, examples: list[Example], cols: list[Column], metrics: list[str]
) -> str:
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[slice_value(ex.inputs.get(name))].append(ex)
    run_cols = [c for c in cols if c.side == "run"]
    head = "".join(
        f"<th>{esc(m)}<br><small>{esc(c.label)}</small></th>" for m in metrics for c in run_cols
    )
    rows = [_row("all examples", examples, cols, metrics, "all")]
    rows += [_row(value, groups[value], cols, metrics) for value in sorted(groups)]
    return (
        f'<div class="slice" data-slice="{index}" hidden><h3>by {esc(name)}</h3>'
        f'<table class="slices"><thead><tr><th>{esc(name)}</th><th>examples</th>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _row(
    value: str, group: list[Example], cols: list[Column], metrics: list[str], cls: str = ""
) -> str:
    cells = []
    for metric in metrics:
        for col in (c for c in cols if c.side == "run"):
            mine = _rate(group, col, metric)
            base = _rate(group, Column("baseline", col.variant, col.model), metric)
            cells.append(f"<td>{_cell(mine, base)}</td>")
    klass = f' class="{cls}"' if cls else ""
    return f"<tr{klass}><th>{esc(value)}</th><td>{len(group)}</td>{''.join(cells)}</tr>"


def _rate(group: list[Example], col: Column, metric: str) -> tuple[float, int, bool] | None:
    """(pass rate or mean, items scored, is a rate) over the group's records of one column."""
    records: list[ResultRecord] = [r for ex in group for r in ex.cells.get(col, [])]
    scores = [r.scores[metric] for r in records if metric in r.scores]
    scores = [s for s in scores if s.value is not None and not s.skipped]
    if not scores:
        return None
    passed = [s.passed for s in scores if s.passed is not None]
    if passed:
        return sum(passed) / len(passed), len(passed), True
    values = [s.value for s in scores if s.value is not None]
    return sum(values) / len(values), len(values), False


def _cell(mine: Any, base: Any) -> str:
    if mine is None:
        return '<span class="none">–</span>'
    value, n, rate = mine
    text = f"<b>{num(value, pct=rate)}</b> <small>n={n}</small>"
    if base is not None:
        delta = value - base[0]
        if abs(delta) <= 1e-9:
            return text + f' <span class="was">was {num(base[0], pct=rate)}</span>'
        sign = "up" if delta > 0 else "down"
        text += (
            f' <span class="was {sign}">was {num(base[0], pct=rate)}'
            f" ({num(delta, pct=rate, signed=True)})</span>"
        )
    return text
