"""Decide a run's gates: thresholds, error / unscored rates, cost, flakiness and regressions.

    from evalkit.gates.evaluate import decide
    verdict = decide(suite.gates, store.records(), repeats=suite.repeats, baselines=source)

Rules that hold for every gate:
- Metric, rate and flaky gates are decided per cell (variant x model); a gate without `variant:`
  or `model:` must hold in every cell, and each cell is reported on its own line. The cost gate
  is a budget: it sums over the matching cells.
- A gate never passes on no evidence: no matching results, or no scored value, fails it.
- `bound: point` compares the estimate; `bound: ci` compares the side of its two-sided interval
  (default 95%, as in the summary table) that faces the threshold: the lower end for `min`, the
  upper end for `max`. An undefined interval (n = 1, too few calls for a tail) fails.
- `per: COLUMN` decides a gate on each value of a dataset column in every cell (gates.slices).
- Regression gates are decided together, with Holm's correction across all of them (see
  evalkit.gates.regression).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from evalkit.gates.estimates import Estimate, estimate
from evalkit.gates.regression import BaselineSource, decide_regressions
from evalkit.gates.slices import decide_sliced
from evalkit.gates.values import Cell, Record, answered, carries, cells_of, outcomes
from evalkit.gates.verdict import GateResult, Verdict, cell_label
from evalkit.results.schema import FlakyReport, RunManifest
from evalkit.suite.gates import (
    AnyGate,
    CostGate,
    ErrorRateGate,
    FlakyGate,
    RegressionGate,
    ThresholdGate,
    UnscoredRateGate,
)


def decide(
    gates: Sequence[AnyGate],
    records: list[Record],
    *,
    repeats: int = 1,
    baselines: BaselineSource | None = None,
    manifest: RunManifest | None = None,
) -> Verdict:
    """Every gate's results, in suite order (regressions where they are listed). `manifest`
    (this run's run.json) lets a judge change since the baseline say what changed."""
    regressions = [g for g in gates if isinstance(g, RegressionGate)]
    decided = iter(decide_regressions(regressions, records, baselines, manifest))
    results: list[GateResult] = []
    for index, gate in enumerate(gates):
        if isinstance(gate, RegressionGate):
            found = next(decided)
        else:  # `per: COLUMN`: once per slice value of every cell (gates.slices)
            found = decide_sliced(gate, records, _decide_one)
        for result in found:
            result.index = index
        results.extend(found)
    return Verdict(results, flaky=flaky_report(records, repeats))


def _decide_one(gate: AnyGate, records: list[Record]) -> list[GateResult]:
    if isinstance(gate, CostGate):
        return [_cost(gate, records)]
    cells = cells_of(records, gate.variant, gate.model)
    if not cells:
        return [_no_results(gate)]
    return [_decide_cell(gate, cell, recs) for cell, recs in cells.items()]


def _decide_cell(gate: AnyGate, cell: Cell, records: list[Record]) -> GateResult:
    if isinstance(gate, ThresholdGate):
        return _threshold(gate, cell, records)
    if isinstance(gate, ErrorRateGate):
        return _error_rate(gate, cell, records)
    if isinstance(gate, UnscoredRateGate):
        return _unscored_rate(gate, cell, records)
    if isinstance(gate, FlakyGate):
        return _flaky(gate, cell, records)
    raise TypeError(f"not a per-cell gate: {gate.type}")


def default_name(gate: AnyGate) -> str:
    """A readable name when the suite gives none, e.g. "contains mean >= 0.8"."""
    if gate.name:
        return gate.name
    bound = getattr(gate, "bound", "point")
    suffix = f" ({round(100 * getattr(gate, 'confidence', 0.95))}% bound)" if bound == "ci" else ""
    if isinstance(gate, ThresholdGate):
        return f"{gate.metric} {gate.stat} {threshold_text(gate.min, gate.max)}{suffix}"
    if isinstance(gate, ErrorRateGate):
        return f"error rate <= {gate.max_error_rate:g}{suffix}"
    if isinstance(gate, UnscoredRateGate):
        of = f" of {gate.metric}" if gate.metric else ""
        return f"unscored rate{of} <= {gate.max_unscored_rate:g}{suffix}"
    if isinstance(gate, CostGate):
        return f"cost <= ${gate.max_cost:g}"
    if isinstance(gate, FlakyGate):
        return f"flaky examples of {gate.metric} <= {gate.max_flaky}"
    return f"{gate.metric} vs baseline '{gate.baseline}' (max drop {gate.max_drop:g})"


def threshold_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def _result(gate: AnyGate, cell: Cell | None, **fields: Any) -> GateResult:
    variant, model = cell if cell else (gate.variant, gate.model)
    name = default_name(gate)
    if cell is not None:
        name = f"{name} [{cell_label(variant, model)}]"
    metric = getattr(gate, "metric", None)
    return GateResult(
        name=name, type=gate.type, metric=metric, variant=variant, model=model, **fields
    )


def _no_results(gate: AnyGate) -> GateResult:
    where = cell_label(gate.variant, gate.model)
    return _result(
        gate,
        None,
        status="fail",
        message=f"no results for {where} in this run: the gate cannot be decided",
    )


# --- thresholds --------------------------------------------------------------------------------


def _threshold(gate: ThresholdGate, cell: Cell, records: list[Record]) -> GateResult:
    est = estimate(gate, records)
    passed, why = _clears(gate, est)
    missing = est.missing
    if missing is not None and missing.total:
        why = f"{why}; {missing.describe()}"
        passed = passed and gate.missing != "error"
    stats = est.to_json() | {"bound": gate.bound, "stat": gate.stat}
    return _result(
        gate,
        cell,
        status="pass" if passed else "fail",
        observed=est.value,
        threshold=threshold_text(gate.min, gate.max),
        statistics=stats,
        message=why,
    )


def _clears(gate: ThresholdGate, est: Estimate) -> tuple[bool, str]:
    """Whether the estimate (or its bound) clears min/max, and a sentence that says why."""
    pct = f"{round(100 * est.confidence)}%"
    interval = f"{pct} CI {_num(est.low)} to {_num(est.high)}, n={est.n}"
    described = f"{gate.metric} {gate.stat} {_num(est.value)} ({interval})"
    if est.n == 0 or math.isnan(est.value):
        return False, f"no scored values of '{gate.metric}' ({est.n_unscored} unscored)"
    checks = []
    if gate.min is not None:
        value = est.value if gate.bound == "point" else est.low
        checks.append(("lower bound" if gate.bound == "ci" else "estimate", value, ">=", gate.min))
    if gate.max is not None:
        value = est.value if gate.bound == "point" else est.high
        checks.append(("upper bound" if gate.bound == "ci" else "estimate", value, "<=", gate.max))
    for label, value, op, limit in checks:
        if math.isnan(value):
            return False, f"{described}: the {pct} {label} is undefined with this little data"
        if (op == ">=" and value < limit) or (op == "<=" and value > limit):
            return False, f"{described}: {label} {_num(value)} is not {op} {limit:g}"
    return True, described


def _num(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


# --- rates, cost and flakiness -----------------------------------------------------------------


def _rate_result(
    gate: ErrorRateGate | UnscoredRateGate, cell: Cell, hits: int, n: int, what: str
) -> GateResult:
    from evalkit.stats.intervals import wilson_interval

    limit = gate.max_error_rate if isinstance(gate, ErrorRateGate) else gate.max_unscored_rate
    rate = hits / n if n else math.nan
    low, high = wilson_interval(hits, n, gate.confidence) if n else (math.nan, math.nan)
    checked = rate if gate.bound == "point" else high
    passed = n > 0 and not math.isnan(checked) and checked <= limit
    label = "rate" if gate.bound == "point" else f"upper {round(100 * gate.confidence)}% bound"
    verb = "<=" if passed else "exceeds"
    message = f"{hits} of {n} {what} ({_num(rate)}); {label} {_num(checked)} {verb} {limit:g}"
    return _result(
        gate,
        cell,
        status="pass" if passed else "fail",
        observed=rate,
        threshold=f"<= {limit:g}",
        statistics={
            "n": n,
            "count": hits,
            "ci_low": low,
            "ci_high": high,
            "confidence": gate.confidence,
            "method": "wilson",
            "bound": gate.bound,
        },
        message=message if n else f"no {what.split()[-1]} to count",
    )


def _error_rate(gate: ErrorRateGate, cell: Cell, records: list[Record]) -> GateResult:
    errors = len(records) - len(answered(records))
    return _rate_result(gate, cell, errors, len(records), "items failed")


def _unscored_rate(gate: UnscoredRateGate, cell: Cell, records: list[Record]) -> GateResult:
    ok = answered(records)
    if gate.metric:  # rows that do not carry the metric are not in its denominator
        ok = [r for r in ok if carries(r, gate.metric)]
    unscored = sum(1 for r in ok if _unscored(r, gate.metric))
    return _rate_result(gate, cell, unscored, len(ok), "answered items unscored")


def _unscored(record: Record, metric: str | None) -> bool:
    picked = [record.scores.get(metric)] if metric else list(record.scores.values())
    return any(s is not None and not s.skipped and s.value is None for s in picked)


def _cost(gate: CostGate, records: list[Record]) -> GateResult:
    matching = [r for cell in cells_of(records, gate.variant, gate.model).values() for r in cell]
    costs = [float(r.cost) for r in matching if r.cost is not None]
    total = sum(costs)
    passed = total <= gate.max_cost
    note = "" if costs else " (no call reported a cost)"
    return _result(
        gate,
        None,
        status="pass" if passed else "fail",
        observed=total,
        threshold=f"<= ${gate.max_cost:g}",
        statistics={"n": len(matching), "n_with_cost": len(costs)},
        message=f"cost ${total:.4f} {'<=' if passed else '>'} ${gate.max_cost:g}{note}",
    )


def _flaky(gate: FlakyGate, cell: Cell, records: list[Record]) -> GateResult:
    from evalkit.stats.flaky import classify_repeats

    report = classify_repeats(outcomes(records, gate.metric))
    passed = len(report.flaky) <= gate.max_flaky
    return _result(
        gate,
        cell,
        status="pass" if passed else "fail",
        observed=float(len(report.flaky)),
        threshold=f"<= {gate.max_flaky}",
        statistics=dict(report.counts) | {"flaky_rate": report.flaky_rate},
        examples=[{"example_id": i} for i in report.flaky],
        message=(
            f"{len(report.flaky)} flaky examples ({report.counts['stable_pass']} stable pass, "
            f"{report.counts['stable_fail']} stable fail)"
        ),
    )


def flaky_report(records: list[Record], repeats: int) -> list[FlakyReport]:
    """The summary's `flaky`: per cell and pass/fail score, the examples flipping across repeats."""
    from evalkit.stats.flaky import classify_repeats

    if repeats < 2:
        return []
    ks = sorted({1, repeats})
    out = []
    for (variant, model), recs in cells_of(records, None, None).items():
        for metric in _judged_metrics(recs):
            report = classify_repeats(outcomes(recs, metric), ks=ks)
            out.append(
                FlakyReport(
                    variant=variant,
                    model=model,
                    metric=metric,
                    repeats=repeats,
                    counts=report.counts,
                    flaky=[str(e) for e in report.flaky],
                    pass_at_k={str(k): _finite(v) for k, v in report.pass_at_k.items()},
                    pass_hat_k={str(k): _finite(v) for k, v in report.pass_hat_k.items()},
                )
            )
    return out


def _judged_metrics(records: list[Record]) -> list[str]:
    """Scores that say pass or fail somewhere in these records (others cannot be flaky)."""
    names: dict[str, None] = {}
    for record in answered(records):
        for name, score in record.scores.items():
            if score.passed is not None:
                names[name] = None
    return list(names)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
