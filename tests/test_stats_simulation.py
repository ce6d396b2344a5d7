"""Does the statistics behave as advertised? Seeded simulations and one exact size calculation.

- coverage: 95% intervals cover the true rate / difference about 95% of the time;
- A/A: the regression gate rarely fails when nothing changed (false alarms <= ~alpha);
- power: a real 10-point drop at n = 300 is caught at least 80% of the time;
- size: the exact type I error of the margin test at the H0 boundary never exceeds alpha.

Data model for pass/fail runs: each example has its own true pass probability (a U-shaped
Beta(0.6, 0.3): most examples reliably pass or fail, some are borderline; mean 2/3). A run
draws every example once, independently (sampling temperature plus judge noise), so two runs of
the same system disagree on ~21% of the examples. A drop d scales every example's pass
probability by 1 - d / (2/3). Since examples are i.i.d. from that population, the discordant
counts (b, c) are exactly trinomial, so false-alarm rate and power are also computed exactly
by enumeration; the Monte Carlo runs check the end-to-end `regression_test` agrees.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats as sps
from scipy.special import gammaln

from evalkit.stats import (
    mean_interval,
    paired_bootstrap_diff,
    paired_rate_interval,
    regression_test,
    wilson_interval,
)
from evalkit.stats.mcnemar import drop_statistic, margin_threshold

N_SIMS = 500
N = 300
BETA_A, BETA_B = 0.6, 0.3
MEAN_P = BETA_A / (BETA_A + BETA_B)
MEAN_P2 = BETA_A * (BETA_A + 1) / ((BETA_A + BETA_B) * (BETA_A + BETA_B + 1))


def _as_run(passed: npt.NDArray[np.bool_]) -> dict[int, bool]:
    return dict(enumerate(passed.tolist()))


def _pass_fail_runs(
    rng: np.random.Generator, drop: float = 0.0
) -> tuple[dict[int, bool], dict[int, bool]]:
    """(current, baseline) for N examples; the current system's pass rate is `drop` lower."""
    p = rng.beta(BETA_A, BETA_B, N)
    p_current = p * (1 - drop / MEAN_P)  # every example a little worse, by `drop` on average
    baseline = rng.random(N) < p
    current = rng.random(N) < p_current
    return _as_run(current), _as_run(baseline)


def _gate_failure_rate(drop: float, max_drop: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    failures = 0
    for _ in range(N_SIMS):
        current, baseline = _pass_fail_runs(rng, drop)
        result = regression_test(current, baseline, kind="pass_rate", max_drop=max_drop)
        failures += result.regressed
    return failures / N_SIMS


# --- A/A false alarms and power --------------------------------------------------------------


@pytest.mark.slow  # Monte Carlo runs through regression_test: 2-5 s
def test_aa_false_alarm_rate_zero_margin() -> None:
    assert _gate_failure_rate(drop=0.0, max_drop=0.0, seed=11) <= 0.08


@pytest.mark.slow  # Monte Carlo runs through regression_test: 2-5 s
def test_aa_false_alarm_rate_with_margin() -> None:
    # the true difference (0) is far inside the tolerance: false alarms are much rarer than alpha
    assert _gate_failure_rate(drop=0.0, max_drop=0.02, seed=12) <= 0.02


@pytest.mark.slow  # Monte Carlo runs through regression_test: 2-5 s
def test_power_ten_point_drop() -> None:
    # exact power is 0.818 (test_exact_false_alarms_and_power); 500 runs have SE ~0.017
    assert _gate_failure_rate(drop=0.10, max_drop=0.02, seed=13) >= 0.77


@pytest.mark.slow  # Monte Carlo runs through regression_test: 2-5 s
def test_aa_false_alarm_rate_scores() -> None:
    rng = np.random.default_rng(14)
    failures, sims = 0, 300
    for _ in range(sims):
        quality = rng.uniform(1, 5, 200)  # per-example true score; each run adds judge noise
        baseline = dict(enumerate(np.clip(quality + rng.normal(0, 0.7, 200), 1, 5)))
        current = dict(enumerate(np.clip(quality + rng.normal(0, 0.7, 200), 1, 5)))
        r = regression_test(current, baseline, kind="mean", max_drop=0.0, n_resamples=1000)
        failures += r.regressed
    # binomial(300, 0.05) stays below 26 with probability > 0.99
    assert failures / sims <= 0.085


# --- exact size of the margin test -----------------------------------------------------------


def _exact_size(n: int, margin: float, discordance: float, alpha: float = 0.05) -> float:
    """P(reject) at the H0 boundary drop = margin."""
    pb, pc = (discordance + margin) / 2, (discordance - margin) / 2
    return _exact_rejection(n, margin, pb, pc, alpha)


def _exact_rejection(n: int, margin: float, pb: float, pc: float, alpha: float = 0.05) -> float:
    """P(the margin test rejects) when P(pass->fail) = pb, P(fail->pass) = pc, over all (b, c)."""
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = b + c <= n
    b, c = b[keep], c[keep]
    log_pmf = (
        gammaln(n + 1)
        - gammaln(b + 1)
        - gammaln(c + 1)
        - gammaln(n - b - c + 1)
        + b * np.log(pb)
        + c * np.log(pc)
        + (n - b - c) * np.log1p(-pb - pc)
    )
    return float(np.exp(log_pmf[_rejects(b, c, n, margin, alpha)]).sum())


def _rejects(
    b: npt.NDArray[np.int64], c: npt.NDArray[np.int64], n: int, margin: float, alpha: float
) -> npt.NDArray[np.bool_]:
    """Which outcomes the test rejects: p < alpha, i.e. Z >= the test's critical value (the
    p-value falls as Z grows; test_stats.py checks the two agree)."""
    if margin == 0:
        return sps.binom.sf(b - 1, b + c, 0.5) < alpha
    return drop_statistic(b, c, n, margin) >= margin_threshold(n, margin, alpha)


def test_margin_test_size_never_exceeds_alpha() -> None:
    for n in (20, 100, 300):
        for margin in (0.0, 0.02, 0.05):
            for discordance in (0.06, 0.1, 0.2, 0.4, 0.7):
                size = _exact_size(n, margin, discordance)
                assert size <= 0.05, (n, margin, discordance, size)


def test_exact_false_alarms_and_power() -> None:
    """The gate's exact failure probability under the data model of this module, n = 300."""

    def gate(drop: float, max_drop: float) -> float:
        scale = 1 - drop / MEAN_P
        pb = MEAN_P - scale * MEAN_P2  # E[p (1 - p')]
        pc = scale * (MEAN_P - MEAN_P2)  # E[(1 - p) p']
        return _exact_rejection(N, max_drop, pb, pc)

    assert 0.03 < gate(0.0, 0.0) <= 0.05  # 0.039: exact McNemar is slightly conservative
    assert gate(0.0, 0.02) < 0.01  # 0.006
    assert gate(0.10, 0.02) >= 0.80  # 0.818
    assert gate(0.10, 0.0) >= 0.90  # 0.943


# --- coverage --------------------------------------------------------------------------------


def _covered(intervals: list[tuple[float, float]], truth: float) -> float:
    return float(np.mean([low <= truth <= high for low, high in intervals]))


def test_wilson_coverage() -> None:
    rng = np.random.default_rng(21)
    for rate, n in ((0.7, 100), (0.95, 40), (0.5, 300)):
        successes = rng.binomial(n, rate, 300)
        coverage = _covered([wilson_interval(int(k), n) for k in successes], rate)
        assert 0.90 <= coverage <= 0.99, (rate, n, coverage)


def test_t_interval_coverage_for_skewed_scores() -> None:
    rng = np.random.default_rng(22)
    samples = rng.exponential(1.0, size=(300, 100))  # true mean 1, strongly skewed
    coverage = _covered([mean_interval(s)[1:] for s in samples], 1.0)
    assert 0.90 <= coverage <= 0.99


def test_paired_bootstrap_coverage() -> None:
    rng = np.random.default_rng(23)
    intervals = []
    for _ in range(500):
        baseline = rng.uniform(0, 1, 100)
        current = baseline + rng.exponential(0.2, 100) - 0.25  # skewed, true diff -0.05
        intervals.append(paired_bootstrap_diff(current, baseline, n_resamples=1000)[1:3])
    assert 0.90 <= _covered(intervals, -0.05) <= 0.99


def test_paired_rate_interval_coverage() -> None:
    rng = np.random.default_rng(24)
    n, pb, pc = 200, 0.12, 0.07  # true diff (current - baseline) = -0.05
    counts = rng.multinomial(n, [pb, pc, 1 - pb - pc], size=500)
    intervals = [paired_rate_interval(int(b), int(c), n) for b, c, _ in counts]
    assert 0.90 <= _covered(intervals, pc - pb) <= 0.99
