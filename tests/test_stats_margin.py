"""The regression tests with a margin: exact size and power (pass/fail), minimum evidence and
size by seeded simulation (scores). Everything here is exact enumeration or a small seeded
simulation; the full tables are benchmarks/gate_simulation.py's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import gammaln

from evalkit.stats import (
    drop_statistic,
    margin_threshold,
    mcnemar_margin,
    mcnemar_one_sided,
    paired_score_test,
    regression_test,
    rejection_probability,
)
from evalkit.stats.mcnemar import _first_rejected_b, _region_probs

ALPHA = 0.05


def _outcomes(n: int) -> tuple[np.ndarray, np.ndarray]:
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = b + c <= n
    return b[keep], c[keep]


def _trinomial(n: int, b: np.ndarray, c: np.ndarray, pb: float, pc: float) -> np.ndarray:
    log = gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(n - b - c + 1)
    log += np.where(b > 0, b * np.log(max(pb, 1e-300)), 0.0)
    log += np.where(c > 0, c * np.log(max(pc, 1e-300)), 0.0)
    return np.exp(log + (n - b - c) * np.log1p(-(pb + pc)))


def _size(n: int, margin: float, drop: float, rate: float) -> float:
    """P(reject) by full enumeration (independent of the test's own factorised sums)."""
    b, c = _outcomes(n)
    reject = drop_statistic(b, c, n, margin) >= margin_threshold(n, margin, ALPHA)
    return float(_trinomial(n, b, c, (rate + drop) / 2, (rate - drop) / 2)[reject].sum())


def test_the_issue_example_is_now_detected() -> None:
    # 28 pass -> fail, 0 fail -> pass at n = 300: a 9.3-point drop against a 5-point margin
    assert mcnemar_margin(28, 0, 300, 0.05) == pytest.approx(0.00128, abs=2e-5)
    current = {i: i >= 28 for i in range(300)}
    r = regression_test(current, dict.fromkeys(range(300), True), kind="pass_rate", max_drop=0.05)
    assert r.regressed and r.method == "mcnemar-margin" and r.ci_high < -0.05
    assert r.evidence is not None and r.evidence.conclusive


def test_margin_zero_stays_the_exact_mcnemar_test() -> None:
    for b, c in [(9, 1), (3, 3), (0, 5), (40, 20)]:
        assert mcnemar_margin(b, c, 100, 0.0) == mcnemar_one_sided(b, c)


@pytest.mark.parametrize("n", [10, 50, 300])
def test_the_statistic_orders_outcomes_monotonically(n: int) -> None:
    """More pass -> fail pairs (b) is more evidence of a drop, more fail -> pass (c) less:
    the property that makes the boundary supremum bound the size over all of H0."""
    for margin in (0.01, 0.05, 0.2):
        b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        z = np.where(b + c <= n, drop_statistic(b, c, n, margin), np.nan)
        assert np.all(np.nan_to_num(np.diff(z, axis=0), nan=0) >= -1e-9)
        assert np.all(np.nan_to_num(np.diff(z, axis=1), nan=0) <= 1e-9)


@pytest.mark.parametrize("n", [20, 60, 150])
def test_p_values_and_the_critical_value_agree(n: int) -> None:
    b, c = _outcomes(n)
    pick = np.random.default_rng(n).choice(b.size, 25, replace=False)
    for margin in (0.02, 0.1):
        threshold = margin_threshold(n, margin, ALPHA)
        for i in pick:
            p = mcnemar_margin(int(b[i]), int(c[i]), n, margin)
            z = float(drop_statistic(b[i], c[i], n, margin))
            assert (p < ALPHA) == (z >= threshold), (b[i], c[i], p, z, threshold)


def test_the_supremum_over_the_nuisance_is_found() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.choice([15, 80, 250]))
        margin = float(rng.choice([0.01, 0.05, 0.15]))
        c = int(rng.integers(0, n // 3))
        b = int(rng.integers(0, n - c + 1))
        first = _first_rejected_b(float(drop_statistic(b, c, n, margin)), n, margin)
        grid = np.linspace(0, (1 - margin) / 2, 1001)
        fine = float(_region_probs(first, n, grid + margin, grid).max())
        assert mcnemar_margin(b, c, n, margin) >= fine - 1e-6


@pytest.mark.parametrize(("n", "margin"), [(20, 0.05), (100, 0.02), (100, 0.1), (300, 0.05)])
def test_exact_size_never_exceeds_alpha(n: int, margin: float) -> None:
    rates = np.concatenate([np.linspace(margin, 0.999, 60), margin + np.geomspace(1e-4, 0.05, 20)])
    sizes = [_size(n, margin, margin, r) for r in rates]
    assert max(sizes) <= ALPHA, max(sizes)
    assert max(sizes) > 0.03  # and not needlessly conservative
    # inside H0 (a smaller drop than the margin) it rejects even less often
    assert all(_size(n, margin, margin / 2, r) <= ALPHA for r in (margin, 0.2, 0.5))


def test_power_at_temperature_zero_matches_the_best_possible_test() -> None:
    # b ~ Bin(300, d), c = 0: the exact binomial test of pb <= 0.05 is the most powerful one
    p_h0 = sps.binom.sf(np.arange(301) - 1, 300, 0.05)
    k = int(np.argmax(p_h0 < ALPHA))
    for drop, expected in ((0.08, 0.695), (0.10, 0.954)):
        best = float(sps.binom.sf(k - 1, 300, drop))
        power = rejection_probability(300, 0.05, ALPHA, drop, 0.0)
        assert power == pytest.approx(best, abs=1e-9) and power == pytest.approx(expected, abs=1e-3)


def test_rejection_probability_of_mcnemar_by_enumeration() -> None:
    n, pb, pc = 40, 0.2, 0.08
    b, c = _outcomes(n)
    reject = sps.binom.sf(b - 1, b + c, 0.5) < ALPHA
    expected = float(_trinomial(n, b, c, pb, pc)[reject].sum())
    assert rejection_probability(n, 0.0, ALPHA, pb, pc) == pytest.approx(expected, rel=1e-9)


def test_no_inference_below_two_pairs() -> None:
    one = regression_test({"a": 0}, {"a": 1}, kind="pass_rate", max_drop=0.0)
    assert (one.p_value, one.regressed, one.inconclusive) == (1.0, False, True)
    assert "fewer than 2" in one.describe()


# --- scores ----------------------------------------------------------------------------------


def test_score_test_does_not_decide_on_one_or_two_examples() -> None:
    one = paired_score_test([4.0], [5.0])
    assert one.p_value == 1.0 and one.method.startswith("none")
    two = paired_score_test([4.0, 4.0], [5.0, 5.0], bounds=(1, 5))
    assert two.p_value > 0.1 and two.ci_low < -1 < two.ci_high  # p = P(t_1 <= -2) = 0.148
    r = regression_test({"a": 4.0}, {"a": 5.0}, kind="mean", max_drop=0.0)
    assert not r.regressed and r.p_value == 1.0


def test_score_test_on_constant_differences_still_decides_with_enough_pairs() -> None:
    r = paired_score_test([3.0, 4.0] * 30, [4.0, 5.0] * 30, margin=0.5)
    assert r.p_value < 0.001 and r.ci_high < -0.5 < 0  # 60 examples all lost a point
    assert r.se > 0 and r.ci_low < r.diff == -1.0 < r.ci_high
    same = paired_score_test([4.0] * 10, [4.0] * 10)
    assert same.p_value == 1.0 and math.isnan(same.ci_low)
    bounded = paired_score_test([4.0] * 10, [4.0] * 10, bounds=(1, 5))
    assert bounded.p_value == 1.0 and bounded.ci_low < 0 < bounded.ci_high


def test_score_interval_is_the_dual_of_the_test() -> None:
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.05, 0.1, 0.2):
        base = rng.uniform(0, 1, 80)
        cur = np.clip(base - shift + rng.normal(0, 0.15, 80), 0, 1)
        r = paired_score_test(cur, base, margin=0.05, n_resamples=999, bounds=(0, 1))
        assert (r.p_value < ALPHA) == (r.ci_high < -0.05)
        assert -1 <= r.ci_low <= r.diff <= r.ci_high <= 1


def test_score_test_size_in_a_small_seeded_simulation() -> None:
    """A/A with a noisy 1-5 judge (exchangeable runs): false alarms about alpha or below."""
    rng = np.random.default_rng(4)
    sims, fails = 200, 0
    for i in range(sims):
        quality = rng.uniform(2, 5, 100)
        runs = [np.clip(np.rint(quality + rng.normal(0, 0.8, 100)), 1, 5) for _ in range(2)]
        fails += paired_score_test(runs[0], runs[1], n_resamples=199, seed=i).p_value < ALPHA
    assert fails / sims <= 0.09  # Binomial(200, 0.05) stays below 18 with probability 0.99
