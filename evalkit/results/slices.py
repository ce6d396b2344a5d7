"""Slices: a cell's numbers per value of a dataset column (`group_by: [category]`).

    cells = with_slices(cells, records, ["category"])
    cells[0].slices[0].values[0].metrics["icontains"].mean     # e.g. the "billing" rows

Each cell gets, per column, one SliceStats per value: items, errors and every metric's
MetricStats, computed by `metrics_of`, the function the cell's own numbers come from. The value
is read from the record's `inputs` (its dataset row). A row without the column, or with null or
an empty string there, is in the "(missing)" slice: never dropped.

A column may hold thousands of values (an id, a free-text field): at most MAX_SLICE_VALUES of
them are shown, the most frequent over the whole run (counted in examples, so every cell shows
the same values); the others are folded into one "(other)" slice, and `ColumnSlices.folded`
says how many values it holds. That bounds the summary, the tables and MLflow alike.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from evalkit.results.schema import CellSummary, ColumnSlices, ResultRecord, SliceStats
from evalkit.results.summary import metrics_of

MISSING = "(missing)"
OTHER = "(other)"
MAX_SLICE_VALUES = 20
MAX_VALUE_CHARS = 80


def slice_value(inputs: dict[str, Any] | None, column: str) -> str:
    """The slice a row belongs to by `column`: its value as short text, or "(missing)"."""
    value = (inputs or {}).get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return MISSING
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def group_columns(*lists: Iterable[str] | None) -> list[str]:
    """The columns of several lists (the suite's group_by, then --group-by), each once."""
    return list(dict.fromkeys(c for names in lists for c in names or ()))


def split_by(records: Iterable[ResultRecord], column: str) -> dict[str, list[ResultRecord]]:
    """Records by slice value, values sorted (the "(missing)" slice last); no cap."""
    groups: dict[str, list[ResultRecord]] = defaultdict(list)
    for record in records:
        groups[slice_value(record.inputs, column)].append(record)
    return {value: groups[value] for value in sorted(groups, key=_order)}


def with_slices(
    cells: list[CellSummary], records: list[ResultRecord], columns: Sequence[str]
) -> list[CellSummary]:
    """The cells, each with its slices by every column in `columns`."""
    shown = {column: _shown_values(records, column) for column in columns}
    by_cell: dict[tuple[str, str], list[ResultRecord]] = defaultdict(list)
    for record in records:
        by_cell[record.cell].append(record)
    out = []
    for cell in cells:
        mine = by_cell.get((cell.variant, cell.model), [])
        slices = [_column(mine, column, *shown[column]) for column in columns]
        out.append(cell.model_copy(update={"slices": slices}))
    return out


def _shown_values(records: list[ResultRecord], column: str) -> tuple[set[str], int]:
    """(the values shown, distinct values in all): the most frequent, by examples."""
    per_example = {r.example_id: slice_value(r.inputs, column) for r in records}
    counts = Counter(per_example.values())
    ranked = sorted(counts, key=lambda v: (v != MISSING, -counts[v], v))  # "(missing)" is kept
    return set(ranked[:MAX_SLICE_VALUES]), len(counts)


def _column(
    records: list[ResultRecord], column: str, shown: set[str], distinct: int
) -> ColumnSlices:
    groups: dict[str, list[ResultRecord]] = defaultdict(list)
    folded: set[str] = set()
    for record in records:
        value = slice_value(record.inputs, column)
        if value not in shown:
            folded.add(value)
            value = OTHER
        groups[value].append(record)
    values = [_stats(value, groups[value]) for value in sorted(groups, key=_order)]
    return ColumnSlices(column=column, values=values, distinct=distinct, folded=len(folded))


def _stats(value: str, records: list[ResultRecord]) -> SliceStats:
    ok = [r for r in records if r.ok]
    return SliceStats(
        value=value, items=len(records), errors=len(records) - len(ok), metrics=metrics_of(ok)
    )


def _order(value: str) -> tuple[int, str]:
    """Values alphabetically, then "(other)", then "(missing)"."""
    return ({OTHER: 1, MISSING: 2}.get(value, 0), value)
