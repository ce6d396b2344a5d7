"""Compare two runs: per variant x model and metric, both values, the difference, and the
examples whose score changed, paired by example id (each example is its own control).

Differences are B - A: run B is the candidate, run A the reference. The difference is paired: it
is taken over the examples both runs scored (each run's own value over all its examples is shown
beside it, and the examples only one run has are counted), so two runs with different example
sets never show a drop that no example had. Repeats of an example are averaged first. The
p-value is two-sided and paired: exact McNemar for pass/fail metrics, Wilcoxon signed-rank for
scores; it is a guide for reading, the release gates decide.

    comparison = compare_runs(Path("runs"), "20261127-101500-faq-1a2b", "20261128-090000-faq-3c4d")
    for diff in comparison.diffs:
        print(diff.metric, diff.a_mean, diff.b_mean, diff.diff, len(diff.changed))
    for pair in comparison.examples:          # changed examples side by side
        print(pair.example_id, pair.input, pair.expected, pair.a[0].output, pair.b[0].output)
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.results.examples import PairedExample, paired_examples
from evalkit.results.schema import MetricStats, ResultRecord
from evalkit.results.store import RunStore

Cell = tuple[str, str]  # (variant, model)
EPSILON = 1e-9


@dataclass(frozen=True)
class ExampleChange:
    example_id: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a


@dataclass
class MetricDiff:
    variant: str
    model: str
    metric: str
    kind: str  # pass_rate | mean
    a_mean: float | None  # each run's own value, over all the examples it scored
    b_mean: float | None
    n_pairs: int = 0
    a_paired: float | None = None  # over the examples both runs scored
    b_paired: float | None = None
    p_value: float | None = None
    changed: list[ExampleChange] = field(default_factory=list)  # biggest change first
    only_a: list[str] = field(default_factory=list)  # example ids scored only in run A
    only_b: list[str] = field(default_factory=list)

    @property
    def diff(self) -> float | None:
        """The paired difference B - A over the common examples."""
        if self.a_paired is None or self.b_paired is None:
            return None
        return self.b_paired - self.a_paired

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "model": self.model,
            "metric": self.metric,
            "kind": self.kind,
            "a": self.a_mean,
            "b": self.b_mean,
            "a_paired": self.a_paired,
            "b_paired": self.b_paired,
            "diff": self.diff,
            "n_pairs": self.n_pairs,
            "p_value": self.p_value,
            "changed": [{"example_id": c.example_id, "a": c.a, "b": c.b} for c in self.changed],
            "only_a": self.only_a,
            "only_b": self.only_b,
        }


@dataclass
class Comparison:
    run_a: str
    run_b: str
    diffs: list[MetricDiff]
    cells_only_a: list[Cell] = field(default_factory=list)
    cells_only_b: list[Cell] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. different suites or datasets
    # every example whose score changed, per variant x model, biggest change first
    examples: list[PairedExample] = field(default_factory=list)

    def shown_examples(self, per_cell: int | None) -> list[PairedExample]:
        """At most `per_cell` changed examples per variant x model (None: all)."""
        if per_cell is None:
            return list(self.examples)
        taken: dict[Cell, int] = defaultdict(int)
        shown = []
        for pair in self.examples:
            cell = (pair.variant, pair.model)
            if taken[cell] < per_cell:
                taken[cell] += 1
                shown.append(pair)
        return shown

    def to_json(self, max_examples: int | None = None) -> dict[str, Any]:
        """The comparison; `max_examples` caps the side-by-side examples per variant x model."""
        shown = self.shown_examples(max_examples)
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "diffs": [d.to_json() for d in self.diffs],
            "cells_only_a": [list(c) for c in self.cells_only_a],
            "cells_only_b": [list(c) for c in self.cells_only_b],
            "notes": self.notes,
            "examples": [p.to_json() for p in shown],
            "examples_left_out": len(self.examples) - len(shown),
        }


def compare_runs(runs_dir: Path, run_a: str, run_b: str) -> Comparison:
    """Compare two runs of runs_dir (raises SuiteError naming recent runs if one is unknown)."""
    store_a = RunStore.open_existing(runs_dir, run_a)
    store_b = RunStore.open_existing(runs_dir, run_b)
    return compare_stores(store_a, store_b)


def compare_stores(store_a: RunStore, store_b: RunStore) -> Comparison:
    cells_a, cells_b = _summary_cells(store_a), _summary_cells(store_b)
    records_a, records_b = store_a.records(drop=("messages",)), store_b.records(drop=("messages",))
    values_a, values_b = example_values(records_a), example_values(records_b)
    diffs = []
    for cell in [c for c in cells_a if c in cells_b]:
        metrics = list(dict.fromkeys([*cells_a[cell], *cells_b[cell]]))
        for metric in metrics:
            diffs.append(
                _metric_diff(
                    cell,
                    metric,
                    cells_a[cell].get(metric),
                    cells_b[cell].get(metric),
                    values_a.get((*cell, metric), {}),
                    values_b.get((*cell, metric), {}),
                )
            )
    return Comparison(
        run_a=store_a.run_id,
        run_b=store_b.run_id,
        diffs=diffs,
        cells_only_a=[c for c in cells_a if c not in cells_b],
        cells_only_b=[c for c in cells_b if c not in cells_a],
        notes=_notes(store_a, store_b),
        examples=paired_examples(store_b.manifest(), records_a, records_b, _changes(diffs)),
    )


def _changes(diffs: list[MetricDiff]) -> dict[tuple[str, str, str], dict[str, tuple[float, float]]]:
    """(example id, variant, model) -> {metric: (A, B)} over every changed example."""
    out: dict[tuple[str, str, str], dict[str, tuple[float, float]]] = defaultdict(dict)
    for diff in diffs:
        for change in diff.changed:
            out[(change.example_id, diff.variant, diff.model)][diff.metric] = (change.a, change.b)
    return dict(out)


def _summary_cells(store: RunStore) -> dict[Cell, dict[str, MetricStats]]:
    summary = store.summary()
    return {(c.variant, c.model): dict(c.metrics) for c in summary.cells} if summary else {}


def example_values(records: list[ResultRecord]) -> dict[tuple[str, str, str], dict[str, float]]:
    """(variant, model, metric) -> {example_id: mean score over repeats}; unscored left out."""
    sums: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for record in records:
        if not record.ok:
            continue
        for metric, score in record.scores.items():
            if score.value is None or score.skipped:
                continue
            key = (record.variant, record.model, metric)
            sums[key][record.example_id].append(float(score.value))
    return {
        key: {ex: sum(vals) / len(vals) for ex, vals in per_example.items()}
        for key, per_example in sums.items()
    }


def _metric_diff(
    cell: Cell,
    metric: str,
    stats_a: MetricStats | None,
    stats_b: MetricStats | None,
    values_a: dict[str, float],
    values_b: dict[str, float],
) -> MetricDiff:
    kind = (stats_b or stats_a or MetricStats()).kind
    common = sorted(values_a.keys() & values_b.keys())
    changed = [
        ExampleChange(ex, values_a[ex], values_b[ex])
        for ex in common
        if abs(values_b[ex] - values_a[ex]) > EPSILON
    ]
    changed.sort(key=lambda c: (-abs(c.delta), c.example_id))
    return MetricDiff(
        variant=cell[0],
        model=cell[1],
        metric=metric,
        kind=kind,
        a_mean=_mean(stats_a),
        b_mean=_mean(stats_b),
        n_pairs=len(common),
        a_paired=_avg([values_a[e] for e in common]),
        b_paired=_avg([values_b[e] for e in common]),
        p_value=paired_p_value([values_a[e] for e in common], [values_b[e] for e in common]),
        changed=changed,
        only_a=sorted(values_a.keys() - values_b.keys()),
        only_b=sorted(values_b.keys() - values_a.keys()),
    )


def _mean(stats: MetricStats | None) -> float | None:
    return None if stats is None or stats.mean is None else float(stats.mean)


def _avg(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def paired_p_value(a: list[float], b: list[float]) -> float | None:
    """Two-sided paired p-value; None without pairs. 0/1 data: exact McNemar, else Wilcoxon."""
    from evalkit.stats.paired import mcnemar_exact, wilcoxon_signed_rank

    if not a:
        return None
    if all(v in (0.0, 1.0) for v in (*a, *b)):
        worse = sum(1 for x, y in zip(a, b, strict=True) if x == 1.0 and y == 0.0)
        better = sum(1 for x, y in zip(a, b, strict=True) if x == 0.0 and y == 1.0)
        return mcnemar_exact(worse, better)
    p = wilcoxon_signed_rank(b, a)
    return None if math.isnan(p) else p


def _notes(store_a: RunStore, store_b: RunStore) -> list[str]:
    a, b = store_a.manifest(), store_b.manifest()
    notes = []
    if a.suite.name != b.suite.name:
        notes.append(f"different suites: {a.suite.name} vs {b.suite.name}")
    elif a.suite.hash != b.suite.hash:
        notes.append("the suite file changed between the runs")
    if a.dataset.digest != b.dataset.digest:
        notes.append(
            "the datasets differ (digest): B - A is taken over the examples both runs scored"
        )
    for store in (store_a, store_b):
        summary = store.summary()
        status = summary.status if summary else "unknown"
        if status != "complete":
            notes.append(f"run {store.run_id} is {status}")
    return notes
