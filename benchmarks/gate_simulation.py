"""How often does the regression gate fail? A/A false alarms and power, for the docs.

Data model: each example has its own true pass probability, drawn from Beta(0.6, 0.3) (most
examples reliably pass or fail, some are borderline; mean 2/3). A run draws every example once,
independently, so two runs of the same system disagree on ~21% of the examples. A "drop" of d
scales every example's pass probability so the mean pass rate is d lower.

    python benchmarks/gate_simulation.py [--sims 500] [--alpha 0.05] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from evalkit.stats import regression_test

BETA_A, BETA_B = 0.6, 0.3
MEAN_P = BETA_A / (BETA_A + BETA_B)


def failure_rate(n: int, drop: float, max_drop: float, sims: int, alpha: float, seed: int) -> float:
    """Share of simulated (current, baseline) pairs for which the gate fails."""
    rng = np.random.default_rng(seed)
    failures = 0
    for _ in range(sims):
        p = rng.beta(BETA_A, BETA_B, n)
        baseline = rng.random(n) < p
        current = rng.random(n) < p * (1 - drop / MEAN_P)
        result = regression_test(
            dict(enumerate(current.tolist())),
            dict(enumerate(baseline.tolist())),
            kind="pass_rate",
            max_drop=max_drop,
            alpha=alpha,
        )
        failures += result.regressed
    return failures / sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=500)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes, drops, margins = (100, 300, 1000), (0.0, 0.02, 0.05, 0.10), (0.0, 0.02)
    print(f"gate failure rate, alpha={args.alpha}, {args.sims} simulations per cell")
    print("(drop 0.00 = A/A false alarms; drops above max_drop = power)\n")
    header = "max_drop  true drop " + "".join(f"   n={n:<5}" for n in sizes)
    print(header)
    print("-" * len(header))
    for max_drop in margins:
        for drop in drops:
            rates = [
                failure_rate(n, drop, max_drop, args.sims, args.alpha, args.seed) for n in sizes
            ]
            print(f"{max_drop:8.2f}  {drop:9.2f} " + "".join(f"   {r:7.3f}" for r in rates))


if __name__ == "__main__":
    main()
