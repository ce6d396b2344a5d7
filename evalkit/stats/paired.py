"""Paired comparisons: a current run against a baseline, example by example.

Examples are paired by their stable id, so each example is its own control: the per-example
noise that two runs share cancels out, and the tests below are much more sensitive than
comparing two independent means. Pass/fail data reduce to the discordant counts
b (pass -> fail, baseline passed, current failed) and c (fail -> pass).

The release-gate decision rule lives in `regression_test`; read its docstring. The tests
themselves live in evalkit.stats.mcnemar (pass/fail) and evalkit.stats.scores (scores), the
minimum-evidence rule in evalkit.stats.evidence.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from evalkit.stats.evidence import Evidence, evidence
from evalkit.stats.intervals import FloatArray, bootstrap_means, is_binary
from evalkit.stats.mcnemar import (
    _margin_p_values,
    _restricted_mle,
    mcnemar_exact,
    mcnemar_margin,
    mcnemar_one_sided,
    paired_rate_interval,
    tango_score,
)
from evalkit.stats.scores import MIN_PAIRS, paired_score_test

IntArray = npt.NDArray[np.int64]

__all__ = [  # the McNemar family lives in evalkit.stats.mcnemar; re-exported for callers
    "PairedData",
    "RegressionResult",
    "_margin_p_values",
    "_restricted_mle",
    "holm_adjust",
    "mcnemar_exact",
    "mcnemar_margin",
    "mcnemar_one_sided",
    "pair_by_id",
    "paired_bootstrap_diff",
    "paired_rate_interval",
    "regression_test",
    "tango_score",
    "wilcoxon_signed_rank",
]

Alternative = Literal["two-sided", "less", "greater"]


@dataclass(frozen=True, eq=False)
class PairedData:
    """Values of the examples present and scored in both runs, aligned by id (sorted by id)."""

    ids: tuple[Hashable, ...]
    current: FloatArray
    baseline: FloatArray
    only_current: tuple[Hashable, ...] = ()
    only_baseline: tuple[Hashable, ...] = ()
    unscored: tuple[Hashable, ...] = ()  # in both runs, but None/NaN in at least one

    @property
    def n(self) -> int:
        return len(self.ids)

    def discordant(self) -> tuple[int, int]:
        """(b, c): pass -> fail and fail -> pass counts, for 0/1 values."""
        b = int(np.sum((self.baseline == 1) & (self.current == 0)))
        c = int(np.sum((self.baseline == 0) & (self.current == 1)))
        return b, c


def _scored(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def pair_by_id(current: Mapping[Any, Any], baseline: Mapping[Any, Any]) -> PairedData:
    """Match two runs' per-example values by example id.

    Ids present in only one run are listed in `only_current` / `only_baseline`, and ids whose
    value is None (unscored) or NaN on either side in `unscored`; none of them is compared.
    Pairs are ordered by `str(id)` so results do not depend on dict insertion order.
    """
    common = sorted(current.keys() & baseline.keys(), key=str)
    both = [k for k in common if _scored(current[k]) and _scored(baseline[k])]
    both_set = set(both)
    return PairedData(
        ids=tuple(both),
        current=np.array([float(current[k]) for k in both], dtype=np.float64),
        baseline=np.array([float(baseline[k]) for k in both], dtype=np.float64),
        only_current=tuple(sorted(current.keys() - baseline.keys(), key=str)),
        only_baseline=tuple(sorted(baseline.keys() - current.keys(), key=str)),
        unscored=tuple(k for k in common if k not in both_set),
    )


# --- numeric scores --------------------------------------------------------------------------


def paired_bootstrap_diff(
    current: Sequence[float] | FloatArray,
    baseline: Sequence[float] | FloatArray,
    confidence: float = 0.95,
    n_resamples: int = 5000,
    seed: int = 0,
    margin: float = 0.0,
) -> tuple[float, float, float, float]:
    """(diff_mean, low, high, p_value) for paired scores, diff = current - baseline.

    Resamples examples (pairs) with replacement, so the correlation between the two runs is
    kept. (low, high) is the percentile interval of the resampled mean differences. p_value is
    one-sided for H1: the mean difference is below -margin (a drop larger than `margin`):
    p = (1 + #{resampled mean >= -margin}) / (1 + n_resamples), the percentile-interval dual,
    so p < alpha exactly when the (1 - 2 alpha) interval lies below -margin (up to the +1).
    Assumes independent examples; the percentile interval is too narrow for n below ~30 and
    has zero width on constant differences (one example 5 -> 4 gives p = 0.0002), so regression
    gates use `evalkit.stats.scores.paired_score_test` instead.
    """
    cur = np.asarray(current, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    if cur.shape != base.shape or cur.ndim != 1:
        raise ValueError("current and baseline must be 1-d and of equal length (paired)")
    if cur.size == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    d = cur - base
    means = bootstrap_means(d, n_resamples, seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(d.mean()), float(low), float(high), _drop_p_value(means, margin))


def _drop_p_value(means: FloatArray, margin: float) -> float:
    """Bootstrap p-value for H1: mean difference < -margin (share of resamples at or above)."""
    return (1 + int(np.sum(means >= -margin))) / (1 + means.size)


def wilcoxon_signed_rank(
    current: Sequence[float] | FloatArray,
    baseline: Sequence[float] | FloatArray,
    *,
    alternative: Alternative = "two-sided",
    zero_method: Literal["wilcox", "pratt", "zsplit"] = "wilcox",
) -> float:
    """Wilcoxon signed-rank p-value on the paired differences d = current - baseline.

    alternative="less" tests for a drop (d tends to be negative). zero_method="wilcox" (the
    default) drops zero differences (ties between runs, common for discrete judge scores)
    before ranking; "pratt" ranks them then drops them; "zsplit" splits them between signs.
    scipy picks the exact null distribution for small samples without zeros/ties, else the
    normal approximation. Returns 1.0 when every difference is zero, nan for no pairs.
    """
    from scipy.stats import wilcoxon

    d = np.asarray(current, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    if d.size == 0:
        return math.nan
    if np.all(d == 0):
        return 1.0
    return float(wilcoxon(d, zero_method=zero_method, alternative=alternative).pvalue)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values, in the input order.

    Sort ascending; the i-th smallest (1-based) becomes max over j <= i of (m - j + 1) p_(j),
    capped at 1. Rejecting adjusted p < alpha controls the family-wise error rate at alpha
    under any dependence between the tests.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must be in [0, 1], got {list(p_values)}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(m, dtype=np.float64)
    out[order] = adjusted
    return [float(x) for x in out]


# --- the release gate ------------------------------------------------------------------------


@dataclass(frozen=True)
class RegressionResult:
    """Outcome of `regression_test`. diff = current_mean - baseline_mean (negative = drop)."""

    n_pairs: int
    baseline_mean: float
    current_mean: float
    diff: float
    ci_low: float
    ci_high: float
    confidence: float  # of (ci_low, ci_high): 1 - 2 alpha, the dual of the one-sided test
    p_value: float  # one-sided, H0: diff >= -max_drop
    p_value_any_drop: float  # one-sided, H0: diff >= 0 (informational)
    alpha: float
    max_drop: float
    significant: bool  # p_value < alpha
    regressed: bool  # the gate fails: significant and diff < -max_drop
    method: str
    b: int | None = None  # pass -> fail pairs (pass/fail data only)
    c: int | None = None  # fail -> pass pairs
    only_current: tuple[Hashable, ...] = field(default=(), repr=False)
    only_baseline: tuple[Hashable, ...] = field(default=(), repr=False)
    unscored: tuple[Hashable, ...] = field(default=(), repr=False)
    evidence: Evidence | None = None  # could a pass have seen the drop? (None: not assessed)
    test: str = ""  # the test in words, for reports

    @property
    def inconclusive(self) -> bool:
        """Passed, but without the evidence to have seen the drop it guards."""
        return not self.regressed and self.evidence is not None and not self.evidence.conclusive

    def describe(self) -> str:
        """One line for reports: the drop, its interval, the margin and the p-value."""
        pct = round(100 * self.confidence)
        verdict = "REGRESSED" if self.regressed else "INCONCLUSIVE" if self.inconclusive else "ok"
        line = (
            f"{verdict}: diff {self.diff:+.4f} ({pct}% CI {self.ci_low:+.4f} to "
            f"{self.ci_high:+.4f}), max_drop {self.max_drop:g}, p={self.p_value:.4g} "
            f"(alpha {self.alpha:g}, {self.method}, n={self.n_pairs})"
        )
        return f"{line}; {self.evidence.reason}" if self.inconclusive and self.evidence else line


def regression_test(
    current: Mapping[Any, Any],
    baseline: Mapping[Any, Any],
    *,
    kind: Literal["pass_rate", "mean"] | str,
    max_drop: float,
    alpha: float = 0.05,
    n_resamples: int = 5000,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> RegressionResult:
    """Did the current run regress against the baseline by more than `max_drop`?

    Decision rule (a non-inferiority test with margin max_drop, in the metric's units):
    H0: diff >= -max_drop (no drop beyond the tolerance) vs H1: diff < -max_drop, with
    diff = true current mean - true baseline mean over the paired examples. The gate fails
    (`regressed`) only when H0 is rejected at level `alpha`, i.e. the drop is larger than
    max_drop AND statistically significant. The size (false alarms when the true drop is
    exactly max_drop) stays <= alpha; several gates need `holm_adjust` over their p-values.

    Methods: kind="pass_rate" with 0/1 values: the exact one-sided McNemar test at max_drop=0
    ("mcnemar-exact"), else the exact unconditional test on the discordant pairs
    ("mcnemar-margin", see evalkit.stats.mcnemar), with Tango's score interval. Fractional pass
    rates (means over repeats) and kind="mean": `paired_score_test` ("paired-bootstrap": the
    larger of the Student t and the studentized bootstrap p-values, on a standard error that
    never collapses to zero). `bounds` is the metric's range (scores), kept by the interval.
    The interval is two-sided at 1 - 2 alpha, so its upper end is the one-sided bound.

    Fewer than 2 pairs: no inference (p = 1, never "regressed"). `evidence` says whether a
    pass could have seen a drop of max_drop + 5 points (`inconclusive` when not). Only
    examples scored in both runs are compared; the others are listed.
    Raises ValueError when no example pairs up (a gate must not pass on no evidence).
    """
    if kind not in ("pass_rate", "mean"):
        raise ValueError(f"kind must be 'pass_rate' or 'mean', got {kind!r}")
    if not 0 < alpha < 0.5 or max_drop < 0:
        raise ValueError(f"need 0 < alpha < 0.5 and max_drop >= 0, got {alpha}, {max_drop}")
    data = pair_by_id(current, baseline)
    if data.n == 0:
        raise ValueError(
            f"no example is scored in both runs (only current: {len(data.only_current)}, "
            f"only baseline: {len(data.only_baseline)}, unscored: {len(data.unscored)})"
        )
    binary = is_binary(data.current) and is_binary(data.baseline)
    if kind == "pass_rate" and binary:
        fields = _pass_rate_fields(data, max_drop, alpha)
    else:
        fields = _score_fields(data, max_drop, alpha, n_resamples, seed, bounds)
    significant = bool(fields["p_value"] < alpha)
    diff = float(data.current.mean() - data.baseline.mean())
    return RegressionResult(
        n_pairs=data.n,
        baseline_mean=float(data.baseline.mean()),
        current_mean=float(data.current.mean()),
        diff=diff,
        alpha=alpha,
        max_drop=max_drop,
        significant=significant,
        regressed=significant and diff < -max_drop,
        only_current=data.only_current,
        only_baseline=data.only_baseline,
        unscored=data.unscored,
        **fields,
    )


def _pass_rate_fields(data: PairedData, max_drop: float, alpha: float) -> dict[str, Any]:
    b, c = data.discordant()
    low, high = paired_rate_interval(b, c, data.n, 1 - 2 * alpha)
    enough = data.n >= MIN_PAIRS and max_drop < 1
    p_value = mcnemar_margin(b, c, data.n, max_drop) if enough else 1.0
    proof = evidence(
        "pass_rate",
        data.n,
        max_drop=max_drop,
        alpha=alpha,
        discordance=(b + c) / data.n,  # power is exact here: no width rule needed
    )
    test = (
        "exact one-sided McNemar test"
        if max_drop == 0
        else "exact unconditional non-inferiority test (Tango statistic, sup over the nuisance)"
    )
    return {
        "ci_low": low,
        "ci_high": high,
        "confidence": 1 - 2 * alpha,
        "p_value": p_value,
        "p_value_any_drop": mcnemar_one_sided(b, c) if data.n >= MIN_PAIRS else 1.0,
        "method": "mcnemar-exact" if max_drop == 0 else "mcnemar-margin",
        "b": b,
        "c": c,
        "evidence": proof,
        "test": test if data.n >= MIN_PAIRS else "none: fewer than 2 pairs",
    }


def _score_fields(
    data: PairedData,
    max_drop: float,
    alpha: float,
    n_resamples: int,
    seed: int,
    bounds: tuple[float, float] | None,
) -> dict[str, Any]:
    result = paired_score_test(
        data.current,
        data.baseline,
        margin=max_drop,
        alpha=alpha,
        n_resamples=n_resamples,
        seed=seed,
        bounds=bounds,
    )
    finite = math.isfinite(result.ci_high) and math.isfinite(result.ci_low)
    proof = evidence(
        "mean",
        data.n,
        max_drop=max_drop,
        alpha=alpha,
        sd=0.0 if math.isnan(result.sd) else result.sd,
        step=result.resolution or None,
        score_range=bounds,
        half_width=(result.ci_high - result.ci_low) / 2 if finite else None,
    )
    test = (
        "paired studentized bootstrap and Student t (the larger p), regularised standard error"
        if result.method == "paired-bootstrap"
        else result.method
    )
    return {
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "confidence": result.confidence,
        "p_value": result.p_value,
        "p_value_any_drop": result.p_value_any_drop,
        "method": "paired-bootstrap",
        "evidence": proof,
        "test": test,
    }
