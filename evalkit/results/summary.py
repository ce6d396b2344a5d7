"""Aggregate result records into the run summary: one cell per variant x model.

Each metric or grader becomes a mean (or pass rate) with a 95% confidence interval and n; the
cell also carries errors, cache hits, latency percentiles, tokens and cost. Unscored items are
counted, never folded into the mean.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from evalkit.results.schema import (
    CellSummary,
    CostStats,
    Counts,
    LatencyStats,
    MetricStats,
    ResultRecord,
    RunSummary,
    ScoreDoc,
    Spent,
    Status,
    TokenStats,
)
from evalkit.stats.intervals import summarize

CONFIDENCE = 0.95


def build_summary(
    run_id: str,
    suite: str,
    records: list[ResultRecord],
    *,
    variants: list[str],
    models: list[str],
    total: int,
    status: Status,
    stopped_reason: str | None = None,
    calls: int = 0,
    spent: Spent | None = None,
    group_by: Sequence[str] = (),
) -> RunSummary:
    """The summary of `records` (the latest record of each item); grader sections come later.

    `group_by`: dataset columns whose slices each cell carries (evalkit.results.slices)."""
    from evalkit.results.slices import with_slices  # it uses this module's metrics_of

    cells = aggregate(records, variants, models)
    return RunSummary(
        run_id=run_id,
        suite=suite,
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        status=status,
        stopped_reason=stopped_reason,
        counts=Counts(
            total=total,
            done=len(records),
            errors=sum(1 for r in records if not r.ok),
            cached=sum(1 for r in records if r.cached),
            calls_this_session=calls,
        ),
        cost=sum(r.cost or 0.0 for r in records),
        spent=spent or Spent(),
        cells=with_slices(cells, records, group_by) if group_by else cells,
    )


def aggregate(
    records: list[ResultRecord], variants: list[str], models: list[str]
) -> list[CellSummary]:
    """Cells in suite order (variants, then models), only those that have records."""
    groups: dict[tuple[str, str], list[ResultRecord]] = defaultdict(list)
    for record in records:
        groups[record.cell].append(record)
    cells = []
    for variant in variants:
        for model in models:
            group = groups.get((variant, model))
            if group:
                cells.append(_cell(variant, model, group))
    return cells


def _cell(variant: str, model: str, records: list[ResultRecord]) -> CellSummary:
    ok = [r for r in records if r.ok]
    latencies = np.array([r.latency_ms for r in ok if not r.cached], dtype=float)
    costs = [r.cost for r in records if r.cost is not None]
    return CellSummary(
        variant=variant,
        model=model,
        items=len(records),
        errors=len(records) - len(ok),
        cached=sum(1 for r in records if r.cached),
        latency_ms=_latency(latencies),
        tokens=_tokens(ok),
        cost=CostStats(total=float(sum(costs)), per_item=float(np.mean(costs))) if costs else None,
        metrics=metrics_of(ok),
    )


def _latency(values: np.ndarray) -> LatencyStats:
    if values.size == 0:  # all served from cache: no fresh latency to report
        return LatencyStats()
    return LatencyStats(
        mean=float(values.mean()),
        p50=float(np.percentile(values, 50)),
        p95=float(np.percentile(values, 95)),
    )


def _tokens(records: list[ResultRecord]) -> TokenStats:
    inputs = [r.usage.input_tokens for r in records]
    outputs = [r.usage.output_tokens for r in records]
    n = max(len(records), 1)
    return TokenStats(
        input=float(sum(inputs)),
        output=float(sum(outputs)),
        mean_input=sum(inputs) / n,
        mean_output=sum(outputs) / n,
    )


def metrics_of(records: list[ResultRecord]) -> dict[str, MetricStats]:
    """Every score's MetricStats over these (answered) records: a cell's, or a slice's."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record.scores))
    return {
        name: metric_stats((r.example_id, r.scores.get(name)) for r in records) for name in names
    }


def metric_stats(scores: Iterable[tuple[str, ScoreDoc | None]]) -> MetricStats:
    """Mean or pass rate with its CI over scored items; skipped and unscored items are counted.

    With repeats, an example's repeats are averaged first: they are correlated, and counting
    them as separate examples would make the interval too narrow. An item without the score
    (its row does not carry that assertion) is neither in n nor unscored: `not_asserted`.
    """
    listed = list(scores)
    carried = [(eid, s) for eid, s in listed if s is not None]
    present = [(eid, s) for eid, s in carried if not s.skipped]
    scored = [s for _, s in present if s.value is not None]
    is_pass_fail = bool(scored) and all(
        s.passed is not None and float(s.value or 0.0) == float(s.passed) for s in scored
    )
    kind: Literal["pass_rate", "mean"] = "pass_rate" if is_pass_fail else "mean"
    bounds = score_bounds(scored) if kind == "mean" else None
    stats = summarize(_per_example(present), kind=kind, confidence=CONFIDENCE, bounds=bounds)
    result = MetricStats(
        mean=_finite(stats["mean"]),
        ci_low=_finite(stats["ci_low"]),
        ci_high=_finite(stats["ci_high"]),
        n=stats["n"],
        n_unscored=len(present) - len(scored),
        confidence=stats["confidence"],
        method=stats["method"],
        kind=kind,
        n_items=len(scored),
        skipped=len(carried) - len(present),
        not_asserted=len(listed) - len(carried),
    )
    judged = [s.passed for s in scored if s.passed is not None]
    if kind == "mean" and judged:
        result.pass_rate = sum(judged) / len(judged)
    return result


def _per_example(present: list[tuple[str, ScoreDoc]]) -> list[float]:
    by_example: dict[str, list[float]] = defaultdict(list)
    for example_id, score in present:
        if score.value is not None:
            by_example[example_id].append(float(score.value))
    return [sum(v) / len(v) for v in by_example.values()]


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def score_bounds(scored: list[ScoreDoc]) -> tuple[float, float] | None:
    """The range the scores lie in, so the interval stays inside it and keeps an honest width
    on small or constant data (bounded-t): a judge's scale from its meta, (0, 1) when every
    value is in it (BLEU, ROUGE, similarity), else None (latency, tokens: Student t)."""
    for score in scored:
        declared = (score.meta or {}).get("range")
        if isinstance(declared, list) and len(declared) == 2 and declared[0] < declared[1]:
            low, high = float(declared[0]), float(declared[1])
            if all(low <= float(s.value or low) <= high for s in scored):
                return (low, high)
    if scored and all(0.0 <= float(s.value or 0.0) <= 1.0 for s in scored):
        return (0.0, 1.0)
    return None
