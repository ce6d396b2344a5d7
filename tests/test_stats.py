"""Known values for evalkit.stats: textbook examples, hand computations and scipy cross-checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from evalkit.stats import (
    agreement,
    bootstrap_mean_interval,
    classify_repeats,
    cohen_kappa,
    holm_adjust,
    mcnemar_exact,
    mcnemar_margin,
    mcnemar_one_sided,
    mean_interval,
    pair_by_id,
    paired_bootstrap_diff,
    paired_rate_interval,
    pass_at_k,
    pass_hat_k,
    percentile,
    regression_test,
    summarize,
    wilcoxon_signed_rank,
    wilson_interval,
)
from evalkit.stats.paired import _margin_p_values, _restricted_mle, tango_score

Z95 = 1.959963984540054


# --- intervals -------------------------------------------------------------------------------


def test_wilson_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    # 0/10: the upper bound is z^2 / (n + z^2) = 0.2775 (a classic small-sample value)
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(Z95**2 / (10 + Z95**2))
    assert wilson_interval(10, 10)[1] == 1.0


def test_wilson_edge_cases() -> None:
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, confidence=1.5)
    narrow, wide = wilson_interval(50, 100, 0.80), wilson_interval(50, 100, 0.99)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]


def test_mean_interval_matches_scipy_t() -> None:
    values = [0.2, 0.9, 0.4, 0.7, 0.55, 0.8, 0.3]
    mean, low, high = mean_interval(values, 0.90)
    expected = sps.t.interval(0.90, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
    assert mean == pytest.approx(np.mean(values))
    assert (low, high) == pytest.approx(expected)


def test_mean_interval_small_and_missing() -> None:
    assert mean_interval([0.5])[0] == 0.5
    assert math.isnan(mean_interval([0.5])[1])
    assert all(math.isnan(x) for x in mean_interval([]))
    assert mean_interval([1.0, None, 3.0])[0] == 2.0
    assert mean_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_bootstrap_mean_interval() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10, 2, size=400)
    mean, low, high = bootstrap_mean_interval(values, seed=3)
    _, t_low, t_high = mean_interval(values)
    assert low < mean < high
    # for a large normal sample the percentile bootstrap is close to the t interval
    assert low == pytest.approx(t_low, abs=0.05)
    assert high == pytest.approx(t_high, abs=0.05)
    assert bootstrap_mean_interval(values, seed=3) == (mean, low, high)  # seeded
    assert bootstrap_mean_interval([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    assert math.isnan(bootstrap_mean_interval([4.0])[1])


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, None, 3, float("nan")], [0, 100]) == [1.0, 3.0]
    assert math.isnan(percentile([], 90))
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_summarize_pass_rate_excludes_unscored() -> None:
    out = summarize([True, False, None, True, 1, 0, 1, 1, 1, 1, 1], "pass_rate")
    assert out["n"] == 10
    assert out["n_unscored"] == 1
    assert out["mean"] == 0.8
    assert (out["ci_low"], out["ci_high"]) == pytest.approx(wilson_interval(8, 10))
    assert out["method"] == "wilson"


def test_summarize_mean_and_fractional_pass_rate() -> None:
    out = summarize([1.0, 2.0, 3.0, None], "mean")
    assert (out["mean"], out["ci_low"], out["ci_high"]) == pytest.approx(mean_interval([1, 2, 3]))
    assert (out["n"], out["n_unscored"], out["method"]) == (3, 1, "student-t")
    # pass rates averaged over repeats are not 0/1: a range-aware interval inside [0, 1] (the
    # plain t interval gave [-0.74, 1.74] here, issue 10 part 7)
    frac = summarize([0.5, 1.0, 0.0], "pass_rate")
    assert frac["method"] == "bounded-t" and 0 <= frac["ci_low"] < 0.5 < frac["ci_high"] <= 1
    empty = summarize([None, None], "pass_rate")
    assert empty["n"] == 0 and empty["n_unscored"] == 2 and math.isnan(empty["mean"])
    with pytest.raises(ValueError):
        summarize([1.0], "median")  # type: ignore[arg-type]


# --- McNemar ---------------------------------------------------------------------------------


def _binom_tail(k: int, m: int) -> float:
    """P(X <= k) for X ~ Binomial(m, 1/2), by hand."""
    return sum(math.comb(m, i) for i in range(k + 1)) / 2**m


def test_mcnemar_exact_textbook() -> None:
    # b=1, c=9: P(X <= 1) = (1 + 10) / 1024, two-sided 22/1024
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    # Agresti's presidential approval table (b=150, c=86, n=1600)
    assert mcnemar_exact(150, 86) == pytest.approx(2 * _binom_tail(86, 236), rel=1e-9)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0


def test_mcnemar_one_sided() -> None:
    # H1 is "dropped": many pass->fail (b) against few fail->pass (c)
    assert mcnemar_one_sided(9, 1) == pytest.approx(11 / 1024)
    assert mcnemar_one_sided(1, 9) == pytest.approx(1 - 1 / 1024)
    assert mcnemar_one_sided(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_one_sided(-1, 3)


def test_restricted_mle_matches_tango_closed_form() -> None:
    # Tango (1998) writes the same MLE with the cells swapped: A p^2 + B p + C = 0 for p21.
    for b, c, n, theta in [
        (5, 2, 50, -0.05),
        (10, 3, 100, -0.02),
        (3, 9, 60, 0.05),
        (7, 0, 30, -0.1),
    ]:
        a_ = 2 * n
        b_ = -c - b + (2 * n - c + b) * theta
        c_ = -b * theta * (1 - theta)
        p21 = (math.sqrt(b_**2 - 4 * a_ * c_) - b_) / (2 * a_)
        pb, pc = _restricted_mle(b, c, n, theta)
        assert float(pb) == pytest.approx(p21)
        assert float(pc - pb) == pytest.approx(theta)


def test_paired_rate_interval_is_score_inversion() -> None:
    low, high = paired_rate_interval(2, 10, 50)
    assert low < (10 - 2) / 50 < high
    assert tango_score(2, 10, 50, low) == pytest.approx(Z95, abs=1e-6)
    assert tango_score(2, 10, 50, high) == pytest.approx(-Z95, abs=1e-6)
    # no discordant pair: closed form +-z^2 / (n + z^2)
    assert paired_rate_interval(0, 0, 300) == pytest.approx(
        (-(Z95**2) / (300 + Z95**2), Z95**2 / (300 + Z95**2))
    )
    assert paired_rate_interval(30, 0, 30)[0] == -1.0


def test_mcnemar_margin() -> None:
    assert mcnemar_margin(9, 1, 100, 0.0) == mcnemar_one_sided(9, 1)
    ps = [mcnemar_margin(20, 5, 200, m) for m in (0.0, 0.01, 0.02, 0.05, 0.08)]
    assert ps == sorted(ps)  # a wider tolerance never makes a drop more significant
    assert ps[-1] > 0.5  # observed drop 0.075 < margin 0.08
    assert mcnemar_margin(0, 0, 100, 0.02) == 1.0
    vec = _margin_p_values(np.array([20, 0, 3]), np.array([5, 0, 4]), 200, 0.02)
    assert vec[0] == pytest.approx(ps[2]) and vec[1] == 1.0
    with pytest.raises(ValueError):
        mcnemar_margin(1, 1, 100, 1.0)


# --- numeric paired tests --------------------------------------------------------------------


def test_paired_bootstrap_diff() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 300)
    cur = base - 0.1 + rng.normal(0, 0.05, 300)
    diff, low, high, p = paired_bootstrap_diff(cur, base, n_resamples=2000)
    assert diff == pytest.approx(np.mean(cur - base))
    assert low < diff < high < 0
    assert p == pytest.approx(1 / 2001)  # no resample reaches 0
    # a drop of ~0.1 is not significantly larger than a margin of 0.2
    assert paired_bootstrap_diff(cur, base, n_resamples=2000, margin=0.2)[3] > 0.5
    same = paired_bootstrap_diff(base, base, n_resamples=500)
    assert same[:3] == (0.0, 0.0, 0.0) and same[3] == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap_diff([1.0, 2.0], [1.0])


def test_wilcoxon_matches_scipy_and_handles_zeros() -> None:
    cur = [0.1, 0.4, 0.3, 0.2, 0.6, 0.1, 0.5, 0.3]
    base = [0.3, 0.5, 0.3, 0.6, 0.7, 0.4, 0.5, 0.6]
    d = np.subtract(cur, base)
    expected = sps.wilcoxon(d, zero_method="wilcox", alternative="less").pvalue
    assert wilcoxon_signed_rank(cur, base, alternative="less") == pytest.approx(expected)
    assert wilcoxon_signed_rank(cur, base, alternative="less") < 0.05
    assert wilcoxon_signed_rank(cur, base, alternative="greater") > 0.9
    assert wilcoxon_signed_rank(base, base) == 1.0
    assert math.isnan(wilcoxon_signed_rank([], []))


def test_holm_hand_computed() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> max so far 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm_adjust([0.02]) == [0.02]
    assert holm_adjust([]) == []
    with pytest.raises(ValueError):
        holm_adjust([0.1, float("nan")])


def test_pair_by_id_reports_mismatches() -> None:
    current = {"a": 1, "b": 0, "c": None, "d": 1, "x": 1}
    baseline = {"d": 0, "a": 1, "b": 1, "c": 1, "y": 0}
    data = pair_by_id(current, baseline)
    assert data.ids == ("a", "b", "d")
    assert data.current.tolist() == [1.0, 0.0, 1.0]
    assert data.baseline.tolist() == [1.0, 1.0, 0.0]
    assert (data.only_current, data.only_baseline, data.unscored) == (("x",), ("y",), ("c",))
    assert data.discordant() == (1, 1)


# --- regression gate -------------------------------------------------------------------------


def _runs(
    n: int, base_pass: int, lost: int, gained: int
) -> tuple[dict[str, bool], dict[str, bool]]:
    """Baseline passes the first base_pass examples; current loses `lost`, gains `gained`."""
    baseline = {f"e{i}": i < base_pass for i in range(n)}
    current = dict(baseline)
    for i in range(lost):
        current[f"e{i}"] = False
    for i in range(base_pass, base_pass + gained):
        current[f"e{i}"] = True
    return current, baseline


def test_regression_clear_drop_fails_gate() -> None:
    current, baseline = _runs(300, 240, lost=40, gained=5)
    r = regression_test(current, baseline, kind="pass_rate", max_drop=0.02)
    assert (r.b, r.c, r.n_pairs) == (40, 5, 300)
    assert r.diff == pytest.approx(-35 / 300)
    assert r.method == "mcnemar-margin"
    assert r.p_value == pytest.approx(mcnemar_margin(40, 5, 300, 0.02))
    assert r.significant and r.regressed
    assert r.ci_high < -0.02 and r.confidence == pytest.approx(0.90)
    assert "REGRESSED" in r.describe()


def test_regression_within_tolerance_passes() -> None:
    # drop of 3 points, clearly real (p_any_drop small) but not beyond a 5-point tolerance
    current, baseline = _runs(1000, 800, lost=35, gained=5)
    r = regression_test(current, baseline, kind="pass_rate", max_drop=0.05)
    assert r.p_value_any_drop < 0.001
    assert not r.significant and not r.regressed


def test_regression_zero_margin_is_one_sided_mcnemar() -> None:
    current, baseline = _runs(100, 70, lost=9, gained=1)
    r = regression_test(current, baseline, kind="pass_rate", max_drop=0.0)
    assert r.method == "mcnemar-exact"
    assert r.p_value == pytest.approx(11 / 1024)
    assert r.regressed


def test_regression_noisy_large_drop_is_not_significant() -> None:
    current, baseline = _runs(20, 15, lost=3, gained=1)  # 10 points down, but n = 20
    r = regression_test(current, baseline, kind="pass_rate", max_drop=0.02)
    assert r.diff == pytest.approx(-0.1)
    assert not r.regressed


def test_regression_scores_use_paired_bootstrap() -> None:
    rng = np.random.default_rng(5)
    base = rng.uniform(1, 5, 200)
    baseline = {i: float(v) for i, v in enumerate(base)}
    current = {i: float(v - 0.5 + rng.normal(0, 0.3)) for i, v in enumerate(base)}
    r = regression_test(current, baseline, kind="mean", max_drop=0.2, n_resamples=2000)
    assert r.method == "paired-bootstrap" and r.b is None
    assert r.regressed and r.ci_high < -0.2
    assert not regression_test(current, baseline, kind="mean", max_drop=0.8).regressed
    # pass rates averaged over repeats are fractional: bootstrap too
    frac = regression_test({1: 0.5, 2: 1.0}, {1: 1.0, 2: 1.0}, kind="pass_rate", max_drop=0)
    assert frac.method == "paired-bootstrap"


def test_regression_refuses_no_evidence() -> None:
    with pytest.raises(ValueError, match="no example is scored in both runs"):
        regression_test({"a": 1}, {"b": 1}, kind="pass_rate", max_drop=0.0)
    with pytest.raises(ValueError):
        regression_test({"a": 1}, {"a": 1}, kind="median", max_drop=0.0)  # type: ignore[arg-type]
    r = regression_test(
        {"a": 1, "b": None, "c": 1}, {"a": 1, "b": 1, "d": 0}, kind="pass_rate", max_drop=0
    )
    assert (r.n_pairs, r.unscored, r.only_current, r.only_baseline) == (1, ("b",), ("c",), ("d",))


# --- flakiness, pass@k -----------------------------------------------------------------------


def test_pass_at_k_matches_combinatorial_formula() -> None:
    assert pass_at_k(5, 1, 2) == pytest.approx(0.4)
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(expected)
                assert pass_hat_k(n, c, k) == pytest.approx(math.comb(c, k) / math.comb(n, k))
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # k = 1 is the plain pass rate
    assert pass_hat_k(5, 4, 2) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_classify_repeats() -> None:
    report = classify_repeats(
        {
            "a": [True, True, True],
            "b": [False, False, None],
            "c": [True, False, True],
            "d": [None, None],
            "e": [True, True, None],
        },
        ks=(1, 3),
    )
    assert report.stable_pass == ("a", "e")
    assert report.stable_fail == ("b",)
    assert report.flaky == ("c",)
    assert report.unscored == ("d",)
    assert report.counts == {"stable_pass": 2, "stable_fail": 1, "flaky": 1, "unscored": 1}
    assert report.flaky_rate == 0.25
    # pass@1 averages c/n over a (3/3), b (0/2), c (2/3), e (2/2)
    assert report.pass_at_k[1] == pytest.approx((1 + 0 + 2 / 3 + 1) / 4)
    # k = 3 only uses examples with 3 scored repeats: a (1) and c (pass@3 = 1, pass^3 = 0)
    assert report.pass_at_k[3] == pytest.approx(1.0)
    assert report.pass_hat_k[3] == pytest.approx(0.5)
    assert classify_repeats({"a": [1.0, 0.0]}).flaky == ("a",)  # 0/1 numbers are fine
    with pytest.raises(ValueError, match="pass/fail"):
        classify_repeats({"a": [0.5, 1.0]})


# --- judge calibration -----------------------------------------------------------------------


def _from_table(table: list[list[int]], labels: list[object]) -> tuple[list[object], list[object]]:
    judge, human = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            judge += [labels[i]] * count
            human += [labels[j]] * count
    return judge, human


def test_kappa_two_by_two_hand_computed() -> None:
    # po = 35/50 = 0.7; pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    judge, human = _from_table([[20, 5], [10, 15]], ["pass", "fail"])
    out = agreement(judge, human)
    assert out == {
        "accuracy": pytest.approx(0.7),
        "kappa": pytest.approx(0.4),
        "n": 50,
        "n_missing": 0,
    }


def test_kappa_three_classes_hand_computed() -> None:
    # po = 37/50 = 0.74; pe = (15*13 + 15*17 + 20*20)/2500 = 0.34; kappa = 0.40/0.66 = 20/33
    judge, human = _from_table([[10, 2, 3], [1, 12, 2], [2, 3, 15]], ["A", "B", "C"])
    assert cohen_kappa(judge, human) == pytest.approx(20 / 33)


def test_weighted_kappa_matches_sklearn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    human = rng.integers(1, 6, 200)
    judge = np.clip(human + rng.integers(-1, 2, 200), 1, 5)
    for w in ("linear", "quadratic"):
        expected = sklearn_metrics.cohen_kappa_score(judge, human, weights=w)
        assert cohen_kappa(judge.tolist(), human.tolist(), weights=w) == pytest.approx(expected)


def test_agreement_excludes_missing_pairs() -> None:
    out = agreement([1, 2, None, 3, 1], [1, 2, 3, None, 2])
    assert (out["n"], out["n_missing"]) == (3, 2)
    assert out["accuracy"] == pytest.approx(2 / 3)
    constant = agreement(["pass"] * 4, ["pass"] * 4)
    assert constant["accuracy"] == 1.0 and math.isnan(constant["kappa"])
    assert math.isnan(agreement([None], [1])["kappa"])
    with pytest.raises(ValueError):
        agreement([1], [1, 2])
