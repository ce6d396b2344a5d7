"""Checks of the slice settings: `group_by:` (and --group-by) and the gates' `per:`.

    columns = check_slices(loaded, examples, extra=["language"])   # the run's group_by

A column no row has is a typo, not an empty slice: it fails here with the file:line of the key
and the closest column name. `per:` is refused on regression and cost gates (not supported
yet), and on a column with more than MAX_GATE_SLICES values (a gate per example id would be
thousands of gate results; the summary folds such a column, a gate must not).
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.errors import SuiteError, did_you_mean
from evalkit.records import Example
from evalkit.results.slices import group_columns, slice_value
from evalkit.suite.gates import CostGate
from evalkit.suite.loader import LoadedSuite

MAX_GATE_SLICES = 50


def check_slices(
    loaded: LoadedSuite, examples: list[Example], extra: Sequence[str] | None = None
) -> list[str]:
    """The columns the run slices by (the suite's group_by, then `extra`), all checked."""
    columns = dataset_columns(examples)
    for index, column in enumerate(loaded.suite.group_by):
        _check_column(column, columns, loaded, ("group_by", index), "group_by")
    for column in extra or ():
        _check_column(column, columns, None, (), "--group-by")
    for index, gate in enumerate(loaded.suite.gates):
        if gate.per is not None:
            where = ("gates", index, "per")
            _check_gate_kind(gate, loaded, where)
            _check_column(gate.per, columns, loaded, where, f"gates[{index}].per")
            _check_size(gate.per, examples, loaded, where, index)
    return group_columns(loaded.suite.group_by, extra)


def dataset_columns(examples: list[Example]) -> list[str]:
    """Every column some row has, in first-seen order."""
    return list(dict.fromkeys(name for e in examples for name in e.row))


def _check_column(
    column: str,
    columns: list[str],
    loaded: LoadedSuite | None,
    where: tuple[str | int, ...],
    label: str,
) -> None:
    if column in columns:
        return
    shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
    raise SuiteError(
        f"{label}: no dataset row has a column '{column}'",
        file=loaded.file if loaded else None,
        line=loaded.line_of(where) if loaded else None,
        hint=did_you_mean(column, columns) or f"the dataset's columns: {shown}",
    )


def _check_gate_kind(gate: object, loaded: LoadedSuite, where: tuple[str | int, ...]) -> None:
    if isinstance(gate, CostGate):  # a budget is for the whole run, not for a slice of it
        raise SuiteError(
            f"gates[{where[1]}]: per: is not supported on cost gates",
            file=loaded.file,
            line=loaded.line_of(where),
            hint="remove per:, or bound the cost of one variant or model with variant:/model:",
        )


def _check_size(
    column: str,
    examples: list[Example],
    loaded: LoadedSuite,
    where: tuple[str | int, ...],
    index: int,
) -> None:
    distinct = {slice_value(e.row, column) for e in examples}
    if len(distinct) > MAX_GATE_SLICES:
        raise SuiteError(
            f"gates[{index}].per: column '{column}' has {len(distinct)} values; a per-slice gate"
            f" decides each of them (at most {MAX_GATE_SLICES})",
            file=loaded.file,
            line=loaded.line_of(where),
            hint="gate per a column with fewer values (a category, a language)",
        )
