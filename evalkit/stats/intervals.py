"""Confidence intervals for one run's summary numbers.

Pass rates use the Wilson score interval (good coverage even for rates near 0 or 1 and small n,
unlike the normal "Wald" interval). Scores with a known range (a 1-5 judge, BLEU in [0, 1], pass
rates averaged over repeats) use `bounded_mean_interval`: it stays inside the range and never
has zero width. Unbounded numbers (latency, tokens) use the Student t interval for the mean, or
a percentile bootstrap when the caller prefers not to assume approximate normality of the mean.

All functions treat the examples as independent draws. With repeats, aggregate per example first
(e.g. mean over repeats) and summarize those per-example values: repeats of one example are
correlated, and counting them as separate examples makes the interval too narrow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Bootstrap resamples are drawn in chunks so memory stays bounded for large datasets.
_CHUNK_ELEMENTS = 2_000_000


def _z(confidence: float) -> float:
    """Two-sided standard normal quantile for `confidence` (0.95 -> 1.96)."""
    from statistics import NormalDist  # stdlib: importing scipy.stats costs about a second

    _check_confidence(confidence)
    return float(NormalDist().inv_cdf(0.5 + confidence / 2))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def as_float_array(values: Iterable[Any]) -> FloatArray:
    """Values as a float array with None and NaN removed (unscored examples)."""
    kept = [float(v) for v in values if v is not None]
    arr = np.asarray(kept, dtype=np.float64)
    return arr[~np.isnan(arr)]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion `successes / n`.

    Inverts the score test, so it stays inside [0, 1] and keeps close to nominal coverage for
    small n and extreme rates. Returns (nan, nan) for n = 0.

    >>> tuple(round(x, 3) for x in wilson_interval(8, 10))
    (0.49, 0.943)
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The bounds are exactly 0 / 1 at 0 / n successes; avoid round-off there.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def mean_interval(values: Iterable[Any], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student t interval for the mean, mean +- t(n-1) * s / sqrt(n).

    Assumes independent examples and an approximately normal sample mean (fine for bounded
    scores from a few dozen examples on). n = 1 gives (x, nan, nan); n = 0 gives all nan.
    A constant sample gives a zero-width interval.
    """
    from scipy.special import stdtrit  # the t quantile, without importing scipy.stats

    _check_confidence(confidence)
    x = as_float_array(values)
    n = x.size
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return (mean, math.nan, math.nan)
    half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * float(x.std(ddof=1)) / math.sqrt(n)
    return (mean, mean - half, mean + half)


PSEUDO_WEIGHT = 0.5  # half an example at each end of the range (a Jeffreys-like prior weight)


def bounded_mean_interval(
    values: Iterable[Any], low: float, high: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) for scores known to lie in [low, high]; None/NaN are dropped.

    A Student t interval on the sample plus half a pseudo-example at each end of the range (the
    Agresti-Coull idea carried over from pass rates to bounded scores), clipped to the range.
    The pseudo-examples keep the width honest when the sample has not (yet) shown the rare bad
    score: 30 judge scores that are all 5 give [4.75, 5], not [5, 5]. Coverage of the 95%
    interval over skewed 1-5 judge scores, pairwise ties and BLEU-like scores was >= 0.954 at
    n = 5 to 100, where the t interval covered 0.21-0.89 for rare low scores (benchmarks/README.md).
    The mean returned is the plain sample mean, always inside the interval. n = 1 gives
    (x, nan, nan).

    >>> tuple(round(v, 2) for v in bounded_mean_interval([5] * 30, 1, 5))
    (5.0, 4.75, 5.0)
    """
    _check_confidence(confidence)
    if not high > low:
        raise ValueError(f"need low < high, got [{low}, {high}]")
    x = as_float_array(values)
    if x.size and (x.min() < low or x.max() > high):
        raise ValueError(f"values outside the range [{low}, {high}]: {x.min()} .. {x.max()}")
    if x.size < 2:
        return (float(x[0]) if x.size else math.nan, math.nan, math.nan)
    from scipy.special import stdtrit

    span = high - low
    u = (x - low) / span
    n_eff = u.size + 2 * PSEUDO_WEIGHT
    centre = (float(u.sum()) + PSEUDO_WEIGHT) / n_eff
    squares = float(((u - centre) ** 2).sum())
    squares += PSEUDO_WEIGHT * (centre**2 + (1 - centre) ** 2)
    half = float(stdtrit(u.size - 1, 0.5 + confidence / 2)) * math.sqrt(
        squares / (n_eff - 1) / n_eff
    )
    mean = float(u.mean())
    lo, hi = max(0.0, min(centre - half, mean)), min(1.0, max(centre + half, mean))
    return (float(x.mean()), low + span * lo, low + span * hi)


def bootstrap_means(x: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """Means of `n_resamples` resamples (with replacement) of `x`, vectorised in chunks."""
    rng = np.random.default_rng(seed)
    n = x.size
    rows = max(1, _CHUNK_ELEMENTS // max(n, 1))
    out = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def bootstrap_mean_interval(
    values: Iterable[Any],
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap interval for the mean.

    Resamples examples with replacement; the interval is the (1-c)/2 and (1+c)/2 quantiles of the
    resampled means. Makes no normality assumption but is somewhat too narrow for small n
    (below ~30 prefer `mean_interval`). Deterministic for a given seed.
    """
    _check_confidence(confidence)
    x = as_float_array(values)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]), math.nan, math.nan)
    means = bootstrap_means(x, n_resamples, seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(x.mean()), float(low), float(high))


def percentile(values: Iterable[Any], q: float | Sequence[float]) -> Any:
    """Percentile(s) `q` in [0, 100] with linear interpolation, ignoring None and NaN.

    Returns a float for a scalar q, a list of floats for a sequence; nan when no values remain.
    """
    x = as_float_array(values)
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if np.any((qs < 0) | (qs > 100)):
        raise ValueError(f"percentiles must be in [0, 100], got {q}")
    result = np.percentile(x, qs) if x.size else np.full(qs.shape, np.nan)
    if np.ndim(q) == 0:
        return float(result[0])
    return [float(r) for r in result]


def is_binary(x: FloatArray) -> bool:
    """True when every value is 0 or 1 (pass/fail data)."""
    return bool(np.all((x == 0) | (x == 1)))


def summarize(
    values: Iterable[Any],
    kind: Literal["pass_rate", "mean"] | str = "mean",
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Mean with a confidence interval, for one metric of one (variant, model).

    `values` holds one value per example; None marks an unscored example, which is counted in
    `n_unscored` and excluded from `n` and from the estimate. `kind="pass_rate"` with 0/1 (or
    bool) values uses the Wilson interval; fractional pass rates (e.g. means over repeats) and
    scores whose range is given as `bounds` (a 1-5 judge: (1, 5)) use `bounded_mean_interval`
    ("bounded-t"); other means the Student t interval. The method is returned under "method".

    Returns keys: mean, ci_low, ci_high, n, n_unscored, confidence, method.
    """
    if kind not in ("pass_rate", "mean"):
        raise ValueError(f"kind must be 'pass_rate' or 'mean', got {kind!r}")
    raw = list(values)
    x = as_float_array(raw)
    n_unscored = len(raw) - int(x.size)
    if kind == "pass_rate" and is_binary(x):
        successes = int(x.sum())
        low, high = wilson_interval(successes, int(x.size), confidence)
        mean = successes / x.size if x.size else math.nan
        method = "wilson"
    elif kind == "pass_rate" or bounds is not None:
        low_end, high_end = bounds if bounds is not None else (0.0, 1.0)
        mean, low, high = bounded_mean_interval(x, low_end, high_end, confidence)
        method = "bounded-t"
    else:
        mean, low, high = mean_interval(x, confidence)
        method = "student-t"
    return {
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "n": int(x.size),
        "n_unscored": n_unscored,
        "confidence": confidence,
        "method": method,
    }
