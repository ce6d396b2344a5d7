"""Paired numeric scores (judge 1-5 scores, BLEU, means over repeats): a test against a margin.

H0: mean(current - baseline) >= -margin vs H1: the mean dropped by more than the margin, on the
paired differences d. Statistic t = (mean(d) + margin) / se. Two reference distributions, and
the larger p-value decides:

- Student t with n - 1 degrees of freedom (conservative when a few big drops skew d to the left);
- the studentized bootstrap (bootstrap-t: resample pairs, t* = (mean* - mean) / se*), which
  corrects for skewed differences (a few big gains) where the t test alone reached 8-11% size.

The standard error never collapses to zero on constant or near-constant differences: the sum of
squares gets one pseudo-example of the data's resolution h (the smallest gap between observed
values: 1 on a 1-5 scale), se^2 = ((n - 1) s^2 + h^2) / n^2. So one example 5 -> 4 decides
nothing (below 2 pairs no inference at all), two give p = 0.15, and 60 examples that all lost
a point still fail a 0.5 margin. Sizes and power by simulation are in benchmarks/README.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MIN_PAIRS = 2  # below this, no inference: a gate cannot decide on one example
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class ScoreTest:
    """Outcome of `paired_score_test`; diff = mean(current - baseline), negative = drop."""

    n: int
    diff: float
    ci_low: float
    ci_high: float
    confidence: float  # 1 - 2 alpha: ci_high < -margin exactly when p < alpha (up to 1/B)
    p_value: float  # one-sided, H0: diff >= -margin
    p_value_any_drop: float  # the same with margin 0
    se: float  # the regularised standard error of diff
    sd: float  # the regularised standard deviation of the differences
    resolution: float  # h: the smallest gap between observed values (else the range, or 0)
    method: str


def resolution(values: FloatArray) -> float:
    """The smallest positive gap between distinct values (0 when fewer than 2 distinct)."""
    distinct = np.unique(values[np.isfinite(values)])
    return float(np.min(np.diff(distinct))) if distinct.size > 1 else 0.0


def _regularised_var(d: FloatArray, h: float) -> FloatArray:
    """Per-row ((n - 1) s^2 + h^2) / n for a (rows, n) array: one pseudo-example of size h."""
    n = d.shape[-1]
    centred = d - d.mean(axis=-1, keepdims=True)
    return np.asarray(((centred * centred).sum(axis=-1) + h * h) / n, dtype=np.float64)


def _bootstrap_t(d: FloatArray, h: float, se: float, n_resamples: int, seed: int) -> FloatArray:
    """t* = (mean* - mean) / se* over `n_resamples` resamples of the pairs, in chunks."""
    rng = np.random.default_rng(seed)
    n = d.size
    rows = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(n_resamples, dtype=np.float64)
    mean = float(d.mean())
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        sample = d[rng.integers(0, n, size=(stop - start, n))]
        se_star = np.sqrt(_regularised_var(sample, h) / n)
        out[start:stop] = (sample.mean(axis=1) - mean) / np.where(se_star > 0, se_star, se)
    return out


def _p_value(t_obs: float, t_star: FloatArray, df: int) -> float:
    from scipy.special import stdtr

    p_student = float(stdtr(df, t_obs))
    p_boot = (1 + int(np.sum(t_star <= t_obs))) / (1 + t_star.size)
    return max(p_student, p_boot)


def paired_score_test(
    current: Sequence[float] | FloatArray,
    baseline: Sequence[float] | FloatArray,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    n_resamples: int = 5000,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> ScoreTest:
    """Test for a drop larger than `margin` in paired scores; see the module docstring.

    `bounds` (the metric's range, e.g. (1, 5)) keeps the interval inside the range of a
    difference, [-(high - low), high - low]. Deterministic for a given seed.

    >>> r = paired_score_test([4.0], [5.0])
    >>> (r.p_value, r.method)
    (1.0, 'none: fewer than 2 pairs')
    """
    cur = np.asarray(current, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    if cur.shape != base.shape or cur.ndim != 1:
        raise ValueError("current and baseline must be 1-d and of equal length (paired)")
    if margin < 0 or not 0 < alpha < 0.5:
        raise ValueError(f"need margin >= 0 and 0 < alpha < 0.5, got {margin}, {alpha}")
    d = cur - base
    n = d.size
    span = (bounds[1] - bounds[0]) if bounds is not None else math.inf
    # all values equal: only the metric's range (if known) says how large a change could be
    h = resolution(np.concatenate([cur, base])) or (span if bounds is not None else 0.0)
    diff = float(d.mean()) if n else math.nan
    if n < MIN_PAIRS or h == 0:
        why = "none: fewer than 2 pairs" if n < MIN_PAIRS else "none: every value is the same"
        low, high = (-span, span) if bounds is not None else (math.nan, math.nan)
        return ScoreTest(n, diff, low, high, 1 - 2 * alpha, 1.0, 1.0, math.nan, math.nan, h, why)
    var = float(_regularised_var(d, h))
    se = math.sqrt(var / n)
    t_star = _bootstrap_t(d, h, se, n_resamples, seed)
    low, high = _interval(diff, se, t_star, n - 1, alpha)
    return ScoreTest(
        n=n,
        diff=diff,
        ci_low=max(low, -span),
        ci_high=min(high, span),
        confidence=1 - 2 * alpha,
        p_value=_p_value((diff + margin) / se, t_star, n - 1),
        p_value_any_drop=_p_value(diff / se, t_star, n - 1),
        se=se,
        sd=math.sqrt(var),
        resolution=h,
        method="paired-bootstrap",
    )


def _interval(
    diff: float, se: float, t_star: FloatArray, df: int, alpha: float
) -> tuple[float, float]:
    """The (1 - 2 alpha) interval that is the dual of the test: the union of the Student t and
    the bootstrap-t intervals, so its upper end lies below -margin exactly when p < alpha."""
    from scipy.special import stdtrit

    q = float(stdtrit(df, 1 - alpha))
    q_low, q_high = np.quantile(t_star, [alpha, 1 - alpha])
    return diff - max(q, float(q_high)) * se, diff - min(-q, float(q_low)) * se
