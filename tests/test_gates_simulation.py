"""Seeded simulations through the gate decision (not the raw statistics functions).

An A/A comparison (two runs of the same system that differ only by judge noise) must fail the
regression gate at most about alpha of the time; a real drop of 10 points at n = 300 must be
caught. The raw tests are simulated in test_stats_simulation.py; these go through
`evalkit.gates.evaluate.decide` on synthetic records, pairing, Holm and all.
"""

from __future__ import annotations

import numpy as np
import pytest
from gates_support import rec

from evalkit.gates.estimates import order_statistic_interval
from evalkit.gates.evaluate import decide
from evalkit.gates.regression import BaselineRun
from evalkit.suite.gates import parse_gates

N = 300
ALPHA = 0.05


def _difficulty(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-example chance that the (noisy) judge says pass: easy, hard and borderline items."""
    return rng.choice([0.95, 0.6, 0.3], size=n, p=[0.6, 0.25, 0.15])


def _run(probs: np.ndarray, rng: np.random.Generator, metrics: tuple[str, ...]) -> list[dict]:
    return [
        rec(f"e{i:03d}", {m: bool(rng.random() < p) for m in metrics}) for i, p in enumerate(probs)
    ]


def _fail_rate(drop: float, sims: int, metrics: tuple[str, ...] = ("ok",), seed: int = 0) -> float:
    gates = parse_gates(
        [{"regression": {"baseline": "main", "metric": m, "alpha": ALPHA}} for m in metrics]
    )
    failures = 0
    for s in range(sims):
        rng = np.random.default_rng([seed, s])
        probs = _difficulty(rng, N)
        baseline = BaselineRun("base", _run(probs, rng, metrics))
        current = _run(np.clip(probs - drop, 0, 1), rng, metrics)
        verdict = decide(gates, current, baselines=lambda _, b=baseline: b)
        failures += not verdict.passed
    return failures / sims


def test_aa_comparison_fails_at_most_about_alpha():
    rate = _fail_rate(drop=0.0, sims=300)
    # binomial SE at 300 sims is ~0.013; the exact one-sided McNemar is conservative
    assert rate <= ALPHA + 0.03, rate


def test_aa_with_three_gates_keeps_the_family_wise_rate_with_holm():
    rate = _fail_rate(drop=0.0, sims=150, metrics=("a", "b", "c"), seed=1)
    assert rate <= ALPHA + 0.035, rate


def test_a_real_drop_of_10_points_at_n_300_is_detected():
    # With this much judge noise about 88 of 300 pairs are discordant (b ~ 59, c ~ 29), so the
    # one-sided exact McNemar test has power ~0.95; observed 0.97 with this seed.
    rate = _fail_rate(drop=0.10, sims=100, seed=2)
    assert rate >= 0.9, rate


def test_aa_with_noisy_judge_scores_through_the_bootstrap():
    """1-5 judge scores: true quality per example plus independent judge noise in each run."""
    gates = parse_gates([{"regression": {"baseline": "main", "metric": "s", "n_resamples": 1000}}])
    failures, caught = 0, 0
    sims = 120
    for s in range(sims):
        rng = np.random.default_rng([3, s])
        quality = rng.uniform(2, 5, size=N)

        def judged(shift: float, rng: np.random.Generator = rng, q: np.ndarray = quality):
            noisy = np.clip(np.rint(q - shift + rng.normal(0, 0.8, size=N)), 1, 5)
            return [rec(f"e{i:03d}", {"s": float(v)}) for i, v in enumerate(noisy)]

        baseline = BaselineRun("base", judged(0.0))
        failures += not decide(gates, judged(0.0), baselines=lambda _, b=baseline: b).passed
        caught += not decide(gates, judged(0.4), baselines=lambda _, b=baseline: b).passed
    assert failures / sims <= ALPHA + 0.04, failures / sims
    assert caught / sims >= 0.95, caught / sims


@pytest.mark.parametrize("q", [0.5, 0.95])
def test_order_statistic_interval_covers_the_true_percentile(q):
    """The interval `bound: ci` uses for percentile gates (latency p95) has >= nominal coverage."""
    rng = np.random.default_rng(4)
    true = float(np.exp(1.0 * 1.6448536269514722)) if q == 0.95 else 1.0  # lognormal(0, 1)
    covered = defined = 0
    for _ in range(400):
        x = rng.lognormal(0.0, 1.0, size=200).tolist()
        low, high = order_statistic_interval(x, q, 0.95)
        if np.isnan(low) or np.isnan(high):
            continue
        defined += 1
        covered += low <= true <= high
    assert defined == 400
    assert covered / defined >= 0.93
