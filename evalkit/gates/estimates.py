"""Point estimates with confidence intervals for threshold gates, one cell at a time.

The intervals come from evalkit.stats (Wilson for pass rates, Student t for means) over one value
per example. Percentiles get a distribution-free order-statistic interval: it assumes nothing
about the shape of, say, latencies, and it honestly says "undefined" when there are too few calls
to bound a tail (no upper bound on p95 from 20 calls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from evalkit.gates.missing import MissingCounts, counts_of, example_values, worst_value
from evalkit.gates.values import (
    Record,
    answered,
    carries,
    is_pass_fail,
    percentile_of,
    record_value,
    score_range,
)
from evalkit.suite.gates import ThresholdGate


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int  # examples (or calls, for percentiles) that entered the estimate
    n_unscored: int
    method: str
    confidence: float
    missing: MissingCounts | None = None  # errors and unscored, and what the policy did

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "n_unscored": self.n_unscored,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": self.confidence,
            "method": self.method,
        }
        if self.missing is not None:
            out["n_errors"] = len(self.missing.errors)
            out["n_unscored"] = len(self.missing.unscored)
            out["missing"] = self.missing.to_stats()
        return out


def estimate(gate: ThresholdGate, records: list[Record]) -> Estimate:
    """The gate's statistic (mean, pass rate, percentile, pass@k, pass^k) with its interval."""
    q = percentile_of(gate.stat)
    if q is not None:
        return _percentile(records, gate.metric, gate.stat, q, gate.confidence)
    if gate.k is not None:
        return _pass_k(records, gate, gate.k, gate.stat.startswith("pass^"))
    return _mean(records, gate)


def _mean(records: list[Record], gate: ThresholdGate) -> Estimate:
    """Mean or pass rate over examples; missing results as the gate's `missing:` says."""
    from evalkit.stats.intervals import summarize

    metric, stat = gate.metric, gate.stat
    pass_rate = stat == "pass_rate" or is_pass_fail(records, metric)
    kind: Literal["pass_rate", "mean"] = "pass_rate" if pass_rate else "mean"
    found = example_values(records, metric, stat)
    bounds = None if pass_rate else score_range(records, metric)
    observed = found.observed()
    # nothing scored at all: no estimate, whatever the policy (the gate fails on no evidence)
    fill = worst_value(observed, kind, bounds) if gate.missing == "fail" and observed else None
    values = list(found.means(fill).values())
    s = summarize(values, kind=kind, confidence=gate.confidence, bounds=bounds)
    return Estimate(
        s["mean"],
        s["ci_low"],
        s["ci_high"],
        s["n"],
        s["n_unscored"],
        s["method"],
        gate.confidence,
        counts_of(found, gate.missing),
    )


def _pass_k(records: list[Record], gate: ThresholdGate, k: int, all_pass: bool) -> Estimate:
    """Mean over examples of the unbiased per-example pass@k (or pass^k), bounded interval.

    With `missing: fail` a repeat that errored or went unscored is a failed attempt."""
    from evalkit.stats.flaky import pass_at_k, pass_hat_k
    from evalkit.stats.intervals import bounded_mean_interval

    estimator = pass_hat_k if all_pass else pass_at_k
    found = example_values(records, gate.metric, "pass_rate")
    fill = 0.0 if gate.missing == "fail" else None
    values: list[float] = []
    too_few = 0  # examples with fewer than k scored repeats cannot enter the estimate
    for outcomes in found.values.values():
        scored = [(fill if o is None else o) for o in outcomes]
        tried = [o >= 0.5 for o in scored if o is not None]
        if len(tried) < k:
            too_few += 1
            continue
        values.append(estimator(len(tried), sum(tried), k))
    mean, low, high = bounded_mean_interval(values, 0.0, 1.0, gate.confidence)
    method = f"{'pass^k' if all_pass else 'pass@k'} (k={k}), bounded-t over examples"
    missing = counts_of(found, gate.missing)
    return Estimate(mean, low, high, len(values), too_few, method, gate.confidence, missing)


def _percentile(
    records: list[Record], metric: str, stat: str, q: float, confidence: float
) -> Estimate:
    from evalkit.stats.intervals import percentile

    ok = [r for r in answered(records) if carries(r, metric)]
    values = [v for r in ok if (v := record_value(r, metric, stat)) is not None]
    low, high = order_statistic_interval(values, q / 100, confidence)
    return Estimate(
        float(percentile(values, q)),
        low,
        high,
        len(values),
        len(ok) - len(values),
        "order-statistic",
        confidence,
    )


def order_statistic_interval(
    values: list[float], q: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Distribution-free interval for the q-quantile from sorted order statistics.

    The number of values below the true quantile is Binomial(n, q), so [x_(l), x_(u)] with l, u
    the (1-c)/2 and (1+c)/2 binomial quantiles covers it with probability >= c. A side whose rank
    falls outside 1..n is nan: the data cannot bound that tail.
    """
    from scipy.stats import binom

    n = len(values)
    if n == 0:
        return (math.nan, math.nan)
    x = sorted(values)
    tail = (1 - confidence) / 2
    lower_rank = int(binom.ppf(tail, n, q))  # x_(l) with l = this rank (1-based)
    upper_rank = int(binom.ppf(1 - tail, n, q)) + 1
    low = x[lower_rank - 1] if lower_rank >= 1 else math.nan
    high = x[upper_rank - 1] if upper_rank <= n else math.nan
    return (float(low), float(high))
