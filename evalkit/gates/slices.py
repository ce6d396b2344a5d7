"""Per-slice gates: `{metric: icontains, min: 0.8, per: category}` decides the gate on each
value of a dataset column in every cell, so "billing questions dropped" fails the run even when
the cell as a whole clears the threshold.

    results = decide_sliced(gate, records, decide_one)   # decide_one: the per-cell decision

The records of each cell are split by the row's value (evalkit.results.slices.slice_value: rows
without it form the "(missing)" slice, decided like any other) and each part goes through the
gate's own per-cell decision unchanged; each result's name says its slice, as in
`icontains mean >= 0.8 [main/mock · category=billing]`. Unlike the summary, no value is folded
into "(other)": a gate must not hide a failing slice (validate bounds the column instead).
Cost gates refuse `per:` at validate time. Regression gates split both runs' cell records by
the column (`slice_pairs`) and test each slice, Holm-adjusted with every other test of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalkit.gates.values import Record, cells_of
from evalkit.gates.verdict import GateResult
from evalkit.results.slices import split_by
from evalkit.suite.gates import AnyGate, CostGate, RegressionGate

DecideOne = Callable[[AnyGate, list[Record]], list[GateResult]]


def decide_sliced(gate: AnyGate, records: list[Record], decide_one: DecideOne) -> list[GateResult]:
    """`decide_one(gate, records)`, once per cell x slice value when the gate has `per:`."""
    column = gate.per
    if column is None or isinstance(gate, CostGate | RegressionGate):  # regression: slice_pairs
        return decide_one(gate, records)
    cells = cells_of(records, gate.variant, gate.model)
    if not cells:
        return decide_one(gate, records)  # its own "no results" failure
    results: list[GateResult] = []
    for cell_records in cells.values():
        for value, part in split_by(cell_records, column).items():
            results.extend(_in_slice(r, column, value) for r in decide_one(gate, part))
    return results


def _in_slice(result: GateResult, column: str, value: str) -> GateResult:
    """The result named for its slice: "... [main/mock]" -> "... [main/mock · category=x]"."""
    where = f"{column}={value}"
    if result.name.endswith("]"):
        result.name = f"{result.name[:-1]} · {where}]"
    else:
        result.name = f"{result.name} [{where}]"
    result.slice_column, result.slice_value = column, value
    return result


@dataclass
class SlicePair:
    """One slice of a regression gate's cell: this run's and the baseline's records of it."""

    column: str | None
    value: str | None
    current: list[Record]
    baseline: list[Record]

    def name(self, found: Any) -> Any:
        """A result (or a test awaiting Holm's adjustment) named for its slice."""
        if self.column is None or self.value is None:
            return found
        column, value = self.column, self.value
        if isinstance(found, GateResult):
            return _in_slice(found, column, value)
        found.named = lambda result: _in_slice(result, column, value)
        return found


def slice_pairs(
    column: str | None, records: list[Record], base_records: list[Record]
) -> list[SlicePair]:
    """A regression gate's cell split by `per:` (both runs by the same column; a slice only
    one run has is still a pair: absent examples count as missing, a new slice is skipped)."""
    if column is None:
        return [SlicePair(None, None, records, base_records)]
    now, before = split_by(records, column), split_by(base_records, column)
    values = list(dict.fromkeys([*before, *now]))
    return [SlicePair(column, v, now.get(v, []), before.get(v, [])) for v in values]
