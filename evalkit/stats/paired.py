"""Paired comparisons: a current run against a baseline, example by example.

Examples are paired by their stable id, so each example is its own control: the per-example
noise that two runs share cancels out, and the tests below are much more sensitive than
comparing two independent means. Pass/fail data reduce to the discordant counts
b (pass -> fail, baseline passed, current failed) and c (fail -> pass).

The release-gate decision rule lives in `regression_test`; read its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from evalkit.stats.intervals import FloatArray, bootstrap_means, is_binary

IntArray = npt.NDArray[np.int64]

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


# --- pass/fail: McNemar family ---------------------------------------------------------------


def _check_counts(*counts: int) -> None:
    if any(int(x) != x or x < 0 for x in counts):
        raise ValueError(f"counts must be non-negative integers, got {counts}")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b and c.

    Under H0 (both runs have the same pass rate) each discordant pair is equally likely to go
    either way, so b ~ Binomial(b + c, 1/2). p = min(1, 2 * P(X <= min(b, c))). No discordant
    pairs gives 1.0.
    """
    from scipy.stats import binom

    _check_counts(b, c)
    if b + c == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))


def mcnemar_one_sided(b: int, c: int) -> float:
    """One-sided exact McNemar p-value for "the current run dropped".

    H1: pass -> fail (b) is more likely than fail -> pass (c). p = P(X >= b) with
    X ~ Binomial(b + c, 1/2).
    """
    from scipy.stats import binom

    _check_counts(b, c)
    if b + c == 0:
        return 1.0
    return float(binom.sf(b - 1, b + c, 0.5))


def _restricted_mle(
    b: npt.ArrayLike, c: npt.ArrayLike, n: int, theta: float
) -> tuple[FloatArray, FloatArray]:
    """MLE of (P(pass -> fail), P(fail -> pass)) under the constraint pc - pb = theta.

    Maximises b log pb + c log pc + (n-b-c) log(1-pb-pc) with pc = pb + theta; the stationary
    point is the positive root of 2n pb^2 - B pb - b theta (1 - theta) = 0 (as in Tango 1998).
    Vectorised over b and c.
    """
    b = np.asarray(b, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    big_b = b * (1 - 3 * theta) + c * (1 - theta) - 2 * (n - b - c) * theta
    pb = (big_b + np.sqrt(big_b * big_b + 8 * n * b * theta * (1 - theta))) / (4 * n)
    pb = np.clip(pb, max(0.0, -theta), (1 - theta) / 2)
    return pb, pb + theta


def tango_score(b: int, c: int, n: int, theta: float) -> float:
    """Tango's score statistic for H0: (current - baseline pass rate) = theta, paired data.

    z = ((c - b) / n - theta) / sqrt((pb + pc - theta^2) / n), with pb, pc the restricted MLEs.
    """
    pb, pc = _restricted_mle(b, c, n, theta)
    num = (c - b) / n - theta
    var = float(pb + pc) - theta * theta
    if var <= 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var / n)


def paired_rate_interval(b: int, c: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Tango (1998) score interval for the difference in paired pass rates, (c - b) / n.

    The set of differences theta that the score test does not reject; close to nominal
    coverage even with few discordant pairs, and always inside [-1, 1].
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    _check_counts(b, c, n)
    if n == 0 or b + c > n:
        raise ValueError(f"need b + c <= n and n > 0, got b={b}, c={c}, n={n}")
    z = float(norm.ppf(0.5 + confidence / 2))
    eps = 1e-12
    diff = (c - b) / n

    def root(target: float, lo: float, hi: float, edge: float) -> float:
        f_lo = tango_score(b, c, n, lo) - target
        f_hi = tango_score(b, c, n, hi) - target
        if f_lo * f_hi > 0:
            return edge
        return float(brentq(lambda t: tango_score(b, c, n, t) - target, lo, hi, xtol=1e-10))

    low = root(z, -1 + eps, diff, -1.0) if diff > -1 + eps else -1.0
    high = root(-z, diff, 1 - eps, 1.0) if diff < 1 - eps else 1.0
    return low, high


def mcnemar_margin(b: int, c: int, n: int, margin: float) -> float:
    """One-sided p-value for H0: drop <= margin vs H1: drop > margin, pass/fail paired data.

    drop = baseline pass rate - current pass rate = P(pass -> fail) - P(fail -> pass).
    Conditional exact binomial test: given the b + c discordant pairs, b ~ Binomial(b + c, phi)
    with phi = pb / (pb + pc); on the H0 boundary phi depends on the discordance rate, which is
    set to its restricted MLE (`_restricted_mle`, as in Tango's score test). For margin = 0,
    phi = 1/2 and this is exactly `mcnemar_one_sided`. Its exact size at the H0 boundary, by
    enumerating all (b, c), stayed below alpha for n = 10..500, margins 0..0.2 and any
    discordance rate (tests/test_stats_simulation.py re-checks a grid of these).
    """
    _check_counts(b, c, n)
    if not 0 <= margin < 1 or b + c > n:
        raise ValueError(f"need 0 <= margin < 1 and b + c <= n, got {margin}, {b}, {c}, {n}")
    if margin == 0:
        return mcnemar_one_sided(b, c)
    return float(_margin_p_values(np.array([b]), np.array([c]), n, margin)[0])


def _margin_p_values(b: IntArray, c: IntArray, n: int, margin: float) -> FloatArray:
    """`mcnemar_margin` vectorised over arrays of (b, c) with the same n (for size studies)."""
    from scipy.stats import binom

    pb, pc = _restricted_mle(b, c, n, -margin)
    discordant = b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(pb + pc > 0, pb / (pb + pc), 0.5)
    p = binom.sf(b - 1, discordant, phi)
    return np.where(discordant == 0, 1.0, p).astype(np.float64)


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
    Assumes independent examples; the percentile interval is too narrow for n below ~30.
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

    def describe(self) -> str:
        """One line for reports: the drop, its interval, the margin and the p-value."""
        pct = round(100 * self.confidence)
        verdict = "REGRESSED" if self.regressed else "ok"
        return (
            f"{verdict}: diff {self.diff:+.4f} ({pct}% CI {self.ci_low:+.4f} to "
            f"{self.ci_high:+.4f}), max_drop {self.max_drop:g}, p={self.p_value:.4g} "
            f"(alpha {self.alpha:g}, {self.method}, n={self.n_pairs})"
        )


def regression_test(
    current: Mapping[Any, Any],
    baseline: Mapping[Any, Any],
    *,
    kind: Literal["pass_rate", "mean"] | str,
    max_drop: float,
    alpha: float = 0.05,
    n_resamples: int = 5000,
    seed: int = 0,
) -> RegressionResult:
    """Did the current run regress against the baseline by more than `max_drop`?

    Decision rule (a non-inferiority test with margin max_drop, in the metric's units):
    H0: diff >= -max_drop (no drop beyond the tolerance) vs H1: diff < -max_drop, with
    diff = true current mean - true baseline mean over the paired examples. The gate fails
    (`regressed`) only when H0 is rejected at level `alpha`, i.e. the drop is larger than
    max_drop AND statistically significant; a drop that is large but noisy, or significant but
    within the tolerance, passes. False alarms are then at most ~alpha whenever the true drop
    is <= max_drop (about alpha at the boundary, far fewer for an unchanged system when
    max_drop > 0). Several gates tested together need a multiplicity correction
    (`holm_adjust`); this function tests one.

    Methods: kind="pass_rate" with 0/1 values uses `mcnemar_margin` ("mcnemar-exact" at
    max_drop=0, the one-sided exact McNemar test; "mcnemar-margin" otherwise) with the Tango
    score interval for the difference; fractional pass rates (means over repeats) and
    kind="mean" use `paired_bootstrap_diff` shifted by the margin ("paired-bootstrap").
    The interval is two-sided at 1 - 2 alpha, so its upper end is the one-sided bound the
    test uses (for pass/fail data the score interval and the exact test can disagree right at
    the margin; the test, the more conservative, decides). Only examples scored in both runs
    are compared; the others are listed.
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
        fields = _bootstrap_fields(data, max_drop, alpha, n_resamples, seed)
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
    p_value = mcnemar_margin(b, c, data.n, max_drop) if max_drop < 1 else 1.0
    return {
        "ci_low": low,
        "ci_high": high,
        "confidence": 1 - 2 * alpha,
        "p_value": p_value,
        "p_value_any_drop": mcnemar_one_sided(b, c),
        "method": "mcnemar-exact" if max_drop == 0 else "mcnemar-margin",
        "b": b,
        "c": c,
    }


def _bootstrap_fields(
    data: PairedData, max_drop: float, alpha: float, n_resamples: int, seed: int
) -> dict[str, Any]:
    means = bootstrap_means(data.current - data.baseline, n_resamples, seed)
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return {
        "ci_low": float(low),
        "ci_high": float(high),
        "confidence": 1 - 2 * alpha,
        "p_value": _drop_p_value(means, max_drop),
        "p_value_any_drop": _drop_p_value(means, 0.0),
        "method": "paired-bootstrap",
    }
