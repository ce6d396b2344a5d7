"""Minimum evidence (could a gate have seen the drop it guards?) and intervals that say only
what can be: inside the metric's range, never of zero width from small or constant data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats import (
    bounded_mean_interval,
    evidence,
    pass_fail_n_needed,
    pass_fail_power,
    regression_test,
    score_n_needed,
    score_power,
    summarize,
)


def test_an_aa_comparison_at_n_300_is_conclusive() -> None:
    for margin in (0.0, 0.02, 0.05):
        e = evidence("pass_rate", 300, max_drop=margin, discordance=0.21)
        assert e.conclusive and e.power >= 0.5, e
    # a deterministic system (no discordant pair): any real drop would show
    assert evidence("pass_rate", 300, max_drop=0.0, discordance=0.0).conclusive


def test_a_small_suite_is_inconclusive_and_says_what_it_would_need() -> None:
    e = evidence("pass_rate", 30, max_drop=0.0, discordance=0.2)
    assert not e.conclusive and e.power < 0.5
    assert e.mde > e.guard == pytest.approx(0.05)
    assert e.n_needed is not None and e.n_needed > 300
    assert "could not have seen" in e.reason and str(e.n_needed) in e.reason
    # the example: a 20-point drop at n = 20 passed silently (p = 0.0625)
    r = regression_test(
        {i: i >= 4 for i in range(20)}, dict.fromkeys(range(20), True), kind="pass_rate", max_drop=0
    )
    assert r.p_value == pytest.approx(0.0625) and not r.regressed and r.inconclusive
    assert "INCONCLUSIVE" in r.describe()
    none = evidence("pass_rate", 1, max_drop=0.0, discordance=0.0)
    assert not none.conclusive and "fewer than 2" in none.reason
    assert none.to_dict()["mde"] is None


def test_the_interval_width_rule() -> None:
    wide = evidence("pass_rate", 300, max_drop=0.0, discordance=0.21, half_width=0.08)
    assert wide.power >= 0.5 and not wide.conclusive and "interval" in wide.reason
    assert evidence("pass_rate", 300, max_drop=0.0, discordance=0.21, half_width=0.04).conclusive


def test_planning_numbers_agree_with_exact_power() -> None:
    # n_needed (normal approximation) gives close to 80% exact power
    for rate, margin, drop in ((0.21, 0.05, 0.10), (0.3, 0.0, 0.05), (0.1, 0.02, 0.06)):
        n = pass_fail_n_needed(drop, discordance=rate, max_drop=margin)
        power = pass_fail_power(n, drop, discordance=rate, max_drop=margin)
        assert 0.72 <= power <= 0.88, (rate, margin, drop, n, power)
    powers = [pass_fail_power(300, d, discordance=0.21) for d in (0.02, 0.05, 0.1)]
    assert powers == sorted(powers)


def test_score_evidence() -> None:
    e = evidence("mean", 300, max_drop=0.0, sd=1.0, step=1.0, score_range=(1, 5))
    assert e.guard == pytest.approx(0.2) and e.conclusive  # 5% of a 1-5 range
    small = evidence("mean", 10, max_drop=0.0, sd=1.0, step=1.0, score_range=(1, 5))
    assert not small.conclusive and small.n_needed == score_n_needed(0.2, sd=1.0, step=1.0)
    # constant differences (a deterministic A/A) still need examples to see a drop
    assert score_power(5, 0.2, sd=0.0, step=1.0) < score_power(100, 0.2, sd=0.0, step=1.0)
    with pytest.raises(ValueError):
        evidence("median", 10, max_drop=0.0)


# --- intervals -------------------------------------------------------------------------------


def test_bounded_interval_stays_in_range_and_never_has_zero_width() -> None:
    # a BLEU mean of 0.51 on 5 examples: the t interval said [-0.111, 1.13]
    bleu = [0.05, 0.9, 0.1, 0.95, 0.55]
    mean, low, high = bounded_mean_interval(bleu, 0, 1)
    assert mean == pytest.approx(0.51) and 0 <= low < mean < high <= 1
    for constant in ([5.0] * 30, [1.0] * 5, [3.0] * 12):
        mean, low, high = bounded_mean_interval(constant, 1, 5)
        assert 1 <= low <= mean <= high <= 5 and high - low > 0.1
    # a pairwise judge that always prefers position 1: every example a tie, 0.5
    _, low, high = bounded_mean_interval([0.5] * 40, 0, 1)
    assert low < 0.5 < high
    assert math.isnan(bounded_mean_interval([4.0], 1, 5)[1])
    with pytest.raises(ValueError, match="outside the range"):
        bounded_mean_interval([6.0, 2.0], 1, 5)


def test_summarize_with_bounds() -> None:
    out = summarize([5.0] * 20 + [None], "mean", bounds=(1, 5))
    assert out["method"] == "bounded-t" and out["n_unscored"] == 1
    assert out["ci_low"] < out["mean"] == out["ci_high"] == 5.0
    assert summarize([2.0, 2.0, 2.0], "mean")["method"] == "student-t"  # no range: as before


def test_bounded_interval_covers_rare_low_scores() -> None:
    """95% of judges' 1-5 scores are 5, 5% are 1: the t interval often says [5, 5]."""
    rng = np.random.default_rng(5)
    truth = 0.95 * 5 + 0.05 * 1
    samples = rng.choice([1.0, 5.0], size=(400, 30), p=[0.05, 0.95])
    t_like = [s.std() > 0 for s in samples]  # t covers only samples that saw a 1
    covered = [bounded_mean_interval(s, 1, 5)[1] <= truth for s in samples]
    assert np.mean(covered) >= 0.95 and np.mean(t_like) < 0.85
