"""Missing candidate results: counted against the candidate, never silently dropped.

A result the candidate does not have (its call errored, the judge's answer was unscored, the
example is absent from the run, or its dataset row changed) is exactly where a candidate can
hide a regression: leave those examples out and a run that errors on every example it got wrong
passes at 100%. So each gate has a `missing:` policy:

- `fail` (default): a missing result counts as the worst outcome: a fail for pass rates; for
  scores the bottom of the range (0 for scores in [0, 1], else the lowest value either run
  scored). The interval and the paired test then see it like any other bad answer.
- `exclude`: left out, as in a plain "compare what both have"; the counts are still reported.
- `error`: any missing result fails the gate outright.

Items that do not carry the metric at all (a row without that assertion, a grader skipped by
`only_if`) are not missing: nothing was asked of them. A failed call carries no scores, so an
error counts against a metric only when the metric applies to that example: every answered
row of the cell carries it, or another repeat of the same example does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evalkit.gates.values import Record, record_value

FILLED = "counted as fails"


@dataclass
class MissingCounts:
    """Example ids with a missing candidate result, by why; `policy` says what was done."""

    policy: str
    errors: list[str] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # in the baseline only
    changed: list[str] = field(default_factory=list)  # same id, another dataset row

    @property
    def total(self) -> int:
        return len(self.errors) + len(self.unscored) + len(self.absent) + len(self.changed)

    def to_stats(self, listed: int = 25) -> dict[str, Any]:
        groups = {
            "errors": self.errors,
            "unscored": self.unscored,
            "absent": self.absent,
            "changed_inputs": self.changed,
        }
        out: dict[str, Any] = {"policy": self.policy, "count": self.total}
        for name, ids in groups.items():
            out[name] = {"count": len(ids), "ids": sorted(ids, key=str)[:listed]}
        return out

    def describe(self) -> str:
        """ "30 missing (30 errors) counted as fails (missing: fail)", or "" when none."""
        if not self.total:
            return ""
        parts = [
            f"{len(ids)} {name}"
            for name, ids in (
                ("errors", self.errors),
                ("unscored", self.unscored),
                ("absent from this run", self.absent),
                ("with a changed dataset row", self.changed),
            )
            if ids
        ]
        done = {"fail": FILLED, "exclude": "left out", "error": "fail the gate"}[self.policy]
        return f"{self.total} missing results ({', '.join(parts)}) {done} (missing: {self.policy})"


def applies_everywhere(records: list[Record], metric: str) -> bool:
    """Every answered record carries the metric (a suite-wide metric, not a row's assertion)."""
    answered = [r for r in records if r.ok]
    return bool(answered) and all(metric in r.scores for r in answered)


def worst_value(
    values: Iterable[float | None], kind: str, bounds: tuple[float, float] | None = None
) -> float:
    """What a missing result counts as: a fail for pass rates, the bottom of a score's range
    (a judge's lowest level; 0 for [0, 1] scores), else the lowest value seen."""
    if kind == "pass_rate":
        return 0.0
    if bounds is not None:
        return bounds[0]
    seen = [float(v) for v in values if v is not None]
    return min(seen) if seen else 0.0


@dataclass
class ExampleValues:
    """Per example, the values of its repeats (None: missing) and why each missing one is."""

    values: dict[str, list[float | None]] = field(default_factory=dict)
    errors: set[str] = field(default_factory=set)
    unscored: set[str] = field(default_factory=set)

    def observed(self) -> list[float]:
        return [v for vs in self.values.values() for v in vs if v is not None]

    def means(self, fill: float | None) -> dict[str, float | None]:
        """One value per example: the mean over its repeats, a missing repeat as `fill`
        (None: left out; an example with nothing scored is then None)."""
        out: dict[str, float | None] = {}
        for example_id, values in self.values.items():
            used = [fill if v is None else v for v in values]
            kept = [v for v in used if v is not None]
            out[example_id] = sum(kept) / len(kept) if kept else None
        return out


def example_values(records: list[Record], metric: str, stat: str) -> ExampleValues:
    """Every example's values of `metric` over its repeats, errors and unscored marked None."""
    everywhere = applies_everywhere(records, metric)
    carried = {r.example_id for r in records if r.ok and metric in r.scores}
    found = ExampleValues(values=defaultdict(list))
    for record in records:
        example_id = record.example_id
        if not record.ok:
            if everywhere or example_id in carried:
                found.values[example_id].append(None)
                found.errors.add(example_id)
            continue
        score = record.scores.get(metric)
        if score is not None and score.skipped:
            continue  # only_if skipped it: nothing was asked of this item
        if score is None:  # a record field (latency_ms, ...), or a row without this assertion
            field_value = record_value(record, metric, stat)
            if field_value is not None:
                found.values[example_id].append(field_value)
            continue
        value = record_value(record, metric, stat)
        found.values[example_id].append(value)
        if value is None:
            found.unscored.add(example_id)
    found.values = dict(found.values)
    return found


def counts_of(found: ExampleValues, policy: str) -> MissingCounts:
    """The missing results of one run's values (absent / changed are the regression gate's)."""
    unscored = found.unscored - found.errors  # an example both errored and unscored: an error
    return MissingCounts(policy, sorted(found.errors, key=str), sorted(unscored, key=str))
