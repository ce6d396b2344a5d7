"""Minimum evidence: could a regression gate have seen the drop it guards?

A passing regression gate says "no drop beyond max_drop was found". That means something only
if the gate could have found one, so every test comes with an `Evidence`:

- fewer than 2 paired examples: no inference at all;
- otherwise the gate's **guard** is max_drop + 5 points (pass rates; scores: 5% of the metric's
  range), and the gate is **inconclusive** when its power to catch a true drop of the guard is
  below 1/3 (it would miss that drop at least twice as often as it caught it), or, where power
  is only approximate (scores), when its (1 - 2 alpha) interval is wider than the guard on
  either side (then even an observed change of zero could not rule the guarded drop out).

Why 1/3 and not 50%: an A/A comparison at n = 300 with a noisy judge (29% of the pairs
disagree, the simulation in tests/test_gates_simulation.py) has power 0.44 for a 5-point drop
and catches a 10-point drop 94% of the time; a 50% floor called half of those A/A runs
inconclusive, a false alarm of the rule itself. Small suites stay inconclusive: n = 100 at that
noise has power 0.19, n = 20 with a 20-point drop (p = 0.0625) 0.05.

An inconclusive gate reports the minimum detectable effect (the drop it catches with 80%
power) and the number of pairs that 80% power at the guard would need. A gate that failed has
found its drop: evidence qualifies passes.

Power is exact for pass/fail data up to n = 2000 (`rejection_probability`, at the observed
discordance rate, or at the drop itself when fewer pairs disagreed: a drop of d needs at least
a share d of pass -> fail pairs); the minimum detectable effect and the n needed use the normal
approximation (planning numbers). Scores: a noncentral t approximation with the differences'
standard deviation, never below that of a drop concentrated on a few examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from evalkit.stats.mcnemar import rejection_probability, restricted_mle

MIN_PAIRS = 2
DETECT_EXTRA = 0.05  # the guard is max_drop plus this (pass rates; scores: times the range)
POWER_FLOOR = 1 / 3
TARGET_POWER = 0.8
EXACT_MAX_N = 2000  # exact pass/fail power up to here; the normal approximation beyond


@dataclass(frozen=True)
class Evidence:
    """Whether a passing gate means "no drop", and what it would take when it does not."""

    kind: str
    n: int
    max_drop: float
    alpha: float
    guard: float  # the drop the gate must be able to see: max_drop + extra
    power: float  # chance that the gate fails when the true drop is `guard`
    mde: float  # the smallest drop caught with 80% power at this n (inf: none)
    n_needed: int | None  # pairs for 80% power at `guard` (None: no inference possible)
    conclusive: bool
    reason: str
    half_width: float | None = None  # of the (1 - 2 alpha) interval, when one was given

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mde"] = None if math.isinf(self.mde) else self.mde
        return out


def _z(p: float) -> float:
    from statistics import NormalDist

    return float(NormalDist().inv_cdf(p))


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


# --- pass/fail --------------------------------------------------------------------------------


def _cells(drop: float, discordance: float) -> tuple[float, float]:
    """(P(pass -> fail), P(fail -> pass)) for a drop at the given discordance rate (>= drop)."""
    rate = min(1.0, max(discordance, drop))
    return (rate + drop) / 2, (rate - drop) / 2


def _pass_fail_normal(
    n: float, drop: float, discordance: float, max_drop: float, alpha: float
) -> float:
    pb, pc = _cells(drop, discordance)
    var1 = max(pb + pc - drop * drop, 1e-12)
    rb, rc = restricted_mle(pb, pc, 1, -max_drop)  # the H0 fit to the expected counts
    var0 = max(float(rb + rc) - max_drop * max_drop, 1e-12)
    shift = math.sqrt(n) * (drop - max_drop) - _z(1 - alpha) * math.sqrt(var0)
    return _phi(shift / math.sqrt(var1))


def pass_fail_power(
    n: int, drop: float, *, discordance: float, max_drop: float = 0.0, alpha: float = 0.05
) -> float:
    """Chance that the pass/fail regression test fails the gate when the true drop is `drop`.

    `discordance` is the share of pairs that disagree (b + c) / n; a drop needs at least its own
    size, so max(discordance, drop) is used. Exact up to n = 2000.
    """
    if n < MIN_PAIRS or max_drop >= 1:
        return 0.0
    if n <= EXACT_MAX_N:
        pb, pc = _cells(drop, discordance)
        return rejection_probability(n, max_drop, alpha, pb, pc)
    return _pass_fail_normal(n, drop, discordance, max_drop, alpha)


def pass_fail_n_needed(
    drop: float,
    *,
    discordance: float,
    max_drop: float = 0.0,
    alpha: float = 0.05,
    power: float = TARGET_POWER,
) -> int:
    """Pairs needed for `power` at a true drop `drop` (> max_drop), normal approximation."""
    if drop <= max_drop:
        raise ValueError(f"the drop {drop} must exceed max_drop {max_drop}")
    pb, pc = _cells(drop, discordance)
    rb, rc = restricted_mle(pb, pc, 1, -max_drop)
    sd0 = math.sqrt(max(float(rb + rc) - max_drop**2, 1e-12))
    sd1 = math.sqrt(max(pb + pc - drop**2, 1e-12))
    return math.ceil(((_z(1 - alpha) * sd0 + _z(power) * sd1) / (drop - max_drop)) ** 2)


# --- scores -----------------------------------------------------------------------------------


def _alt_sd(drop: float, sd: float, step: float | None, n: int) -> float:
    """The differences' sd under a drop: at least that of the drop concentrated on a share
    drop / step of the examples, each losing one step; regularised as the test does."""
    h = step or 0.0
    concentrated = math.sqrt(max(drop * (h - drop), 0.0)) if h > drop else 0.0
    spread = max(sd, concentrated)
    return math.sqrt(((max(n, 2) - 1) * spread**2 + h * h) / max(n, 2))


def score_power(
    n: int,
    drop: float,
    *,
    sd: float,
    max_drop: float = 0.0,
    alpha: float = 0.05,
    step: float | None = None,
) -> float:
    """Chance that the score regression test fails the gate at a true mean drop `drop`
    (noncentral t approximation of its Student t half; `sd` of the paired differences)."""
    from scipy.special import nctdtr, stdtrit

    if n < MIN_PAIRS:
        return 0.0
    spread = _alt_sd(drop, sd, step, n)
    if spread <= 0:
        return 1.0 if drop > max_drop else 0.0
    ncp = math.sqrt(n) * (drop - max_drop) / spread
    return float(1 - nctdtr(n - 1, ncp, stdtrit(n - 1, 1 - alpha)))


def score_n_needed(
    drop: float,
    *,
    sd: float,
    max_drop: float = 0.0,
    alpha: float = 0.05,
    step: float | None = None,
    power: float = TARGET_POWER,
) -> int:
    """Pairs needed for `power` at a true mean drop `drop` (> max_drop), normal approximation."""
    if drop <= max_drop:
        raise ValueError(f"the drop {drop} must exceed max_drop {max_drop}")
    spread = _alt_sd(drop, sd, step, 10**6)
    need = ((_z(1 - alpha) + _z(power)) * spread / (drop - max_drop)) ** 2
    return max(MIN_PAIRS, math.ceil(need) + 1)


# --- the rule ---------------------------------------------------------------------------------


def _mde(power_at: Callable[[float], float], max_drop: float, top: float) -> float:
    """Smallest drop in (max_drop, top] whose power reaches TARGET_POWER (inf when none)."""
    from scipy.optimize import brentq

    if power_at(top) < TARGET_POWER:
        return math.inf
    return float(brentq(lambda d: power_at(d) - TARGET_POWER, max_drop + 1e-9, top, xtol=1e-6))


@dataclass(frozen=True)
class _Plan:
    """How to compute power for one kind of gate: exact (reported) and approximate (planning)."""

    extra: float
    top: float  # the largest possible drop
    power: Callable[[float], float]
    approx: Callable[[float], float]
    needed: Callable[[float], int]


def _pass_fail_plan(n: int, max_drop: float, alpha: float, rate: float, extra: float) -> _Plan:
    return _Plan(
        extra,
        1.0,
        lambda d: pass_fail_power(n, d, discordance=rate, max_drop=max_drop, alpha=alpha),
        lambda d: _pass_fail_normal(n, d, rate, max_drop, alpha),
        lambda d: pass_fail_n_needed(d, discordance=rate, max_drop=max_drop, alpha=alpha),
    )


def _score_plan(
    n: int,
    max_drop: float,
    alpha: float,
    sd: float,
    step: float | None,
    span: float | None,
    extra: float | None,
) -> _Plan:
    if extra is None:  # 5% of the range; without one, a small standardised effect
        extra = DETECT_EXTRA * span if span else (0.25 * sd or DETECT_EXTRA)

    def power(d: float) -> float:
        return score_power(n, d, sd=sd, max_drop=max_drop, alpha=alpha, step=step)

    return _Plan(
        extra,
        span if span else max_drop + 100 * extra,
        power,
        power,
        lambda d: score_n_needed(d, sd=sd, max_drop=max_drop, alpha=alpha, step=step),
    )


def evidence(
    kind: Literal["pass_rate", "mean"] | str,
    n: int,
    *,
    max_drop: float,
    alpha: float = 0.05,
    discordance: float | None = None,
    sd: float | None = None,
    step: float | None = None,
    score_range: tuple[float, float] | None = None,
    extra: float | None = None,
    half_width: float | None = None,
) -> Evidence:
    """Could a regression gate over n pairs have caught a drop of max_drop + extra?

    pass_rate: give `discordance` ((b + c) / n; extra defaults to 0.05). mean: give `sd` of
    the paired differences, and `score_range` (extra defaults to 5% of it; without a range, a
    quarter of sd) and `step` (the scores' resolution, 1 on a 1-5 scale) when known.
    `half_width` of the test's (1 - 2 alpha) interval adds the width rule.

    >>> e = evidence("pass_rate", 300, max_drop=0.05, discordance=0.21)
    >>> (round(e.power, 2), e.conclusive)
    (0.61, True)
    """
    if kind == "pass_rate":
        rate = discordance or 0.0
        plan = _pass_fail_plan(n, max_drop, alpha, rate, DETECT_EXTRA if extra is None else extra)
    elif kind == "mean":
        span = score_range[1] - score_range[0] if score_range is not None else None
        plan = _score_plan(n, max_drop, alpha, sd or 0.0, step, span, extra)
    else:
        raise ValueError(f"kind must be 'pass_rate' or 'mean', got {kind!r}")
    guard = min(max_drop + plan.extra, plan.top)
    if guard <= max_drop:  # no drop can exceed the tolerance: a pass is right by definition
        why = f"max_drop {max_drop:g} tolerates any drop: nothing to detect"
        return Evidence(kind, n, max_drop, alpha, guard, 0.0, math.inf, None, True, why)
    needed = plan.needed(guard)
    if n < MIN_PAIRS:
        why = f"fewer than {MIN_PAIRS} paired examples (n={n}): no inference"
        return Evidence(kind, n, max_drop, alpha, guard, 0.0, math.inf, needed, False, why)
    power = plan.power(guard)
    mde = _mde(plan.approx, max_drop, plan.top)
    seen = (
        f"power {power:.0%} to catch a drop of {guard:.4g} "
        f"(max_drop {max_drop:g} + {plan.extra:.4g}) at n={n}"
    )
    wide = half_width is not None and half_width > guard
    if power >= POWER_FLOOR and not wide:
        return Evidence(kind, n, max_drop, alpha, guard, power, mde, needed, True, seen, half_width)
    why = "the gate could not have seen the drop it guards: "
    if power < POWER_FLOOR:
        why += seen
    else:
        why += f"its {1 - 2 * alpha:.0%} interval (+-{half_width:.4g}) is wider than {guard:.4g}"
    caught = "no drop" if math.isinf(mde) else f"a drop of {mde:.4g}"
    why += f"; it catches {caught} with 80% power; 80% power at {guard:.4g} needs ~{needed} pairs"
    return Evidence(kind, n, max_drop, alpha, guard, power, mde, needed, False, why, half_width)
