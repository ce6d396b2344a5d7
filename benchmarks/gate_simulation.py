"""Regression gates: size and power of the pass/fail and score tests, A/A runs through
`regression_test`, and coverage of the summary intervals. Markdown tables on stdout.

Pass/fail (exact, no simulation error): the discordant counts (b, c) of n i.i.d. paired
examples are trinomial, so a test's rejection probability is a sum over all (b, c). Size is the
largest rejection probability at the H0 boundary (true drop = max_drop) over discordance rates
from max_drop to 1; power is given for three systems:
- noisy: each example has its own pass probability p ~ Beta(0.6, 0.3) (mean 2/3) and each run
  draws it again (two runs disagree on ~21% of the examples); a drop d scales every p by
  1 - d / (2/3);
- low-noise: 10% of the pairs disagree (or d, if larger);
- temperature 0: a deterministic system that loses a share d of the examples (b ~ Bin(n, d),
  c = 0), the case of issue 10 (28 pass -> fail, 0 fail -> pass at n = 300).
Reference columns: the previous conditional test, the asymptotic score test (Tango, z >= 1.645),
and an oracle that knows the discordance rate (a bound no real test reaches).

Scores (seeded Monte Carlo, `paired_score_test`): scores in [0, 1] (a 1-5 judge rescaled, or
BLEU-like), margins and drops in points of the range:
- noisy judge: true quality q ~ U(0.25, 1), each run's score round(4 (q - shift) + N(0, 0.8))
  clipped to 0..4, over 4; shift solves for the mean drop exactly;
- temperature-0 judge: fixed levels (5% 0, 5% .25, 10% .5, 30% .75, 50% 1); the candidate
  loses one level on a share of the examples with room;
- skewed: continuous differences 0.07 (Gamma(2) - 2) - d (most examples a bit worse, a few
  much better: the hard case for any test on a mean).

    python benchmarks/gate_simulation.py [--sims 1000] [--seed 0] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq
from scipy.special import gammaln

from evalkit.stats import bounded_mean_interval, mean_interval, paired_score_test, regression_test
from evalkit.stats.mcnemar import _restricted_mle, drop_statistic, margin_threshold

ALPHA = 0.05
SIZES = (30, 100, 300, 1000)
MARGINS = (0.0, 0.02, 0.05)
DROPS = (0.0, 0.02, 0.05, 0.08, 0.09, 0.10, 0.15)
BETA_A, BETA_B = 0.6, 0.3
MEAN_P = BETA_A / (BETA_A + BETA_B)
MEAN_P2 = BETA_A * (BETA_A + 1) / ((BETA_A + BETA_B) * (BETA_A + BETA_B + 1))


# --- pass/fail: exact ------------------------------------------------------------------------


class Grid:
    """All outcomes (b, c) with b + c <= n, and rejection masks of the tests compared."""

    def __init__(self, n: int, margin: float) -> None:
        b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = b + c <= n
        self.n, self.b, self.c = n, b[keep], c[keep]
        self.z = drop_statistic(self.b, self.c, n, margin) if margin else None
        self.masks = {"new": self._new(margin), "before": self._before(margin)}
        if margin:
            self.masks["asymptotic"] = self.z >= sps.norm.ppf(1 - ALPHA)

    def _new(self, margin: float) -> np.ndarray:
        if margin == 0:
            return sps.binom.sf(self.b - 1, self.b + self.c, 0.5) < ALPHA
        return self.z >= margin_threshold(self.n, margin, ALPHA)

    def _before(self, margin: float) -> np.ndarray:
        """The conditional test evalkit used before (phi from the restricted MLE)."""
        pb, pc = _restricted_mle(self.b, self.c, self.n, -margin)
        with np.errstate(invalid="ignore", divide="ignore"):
            phi = np.where(pb + pc > 0, pb / (pb + pc), 0.5)
        p = np.where(self.b + self.c == 0, 1.0, sps.binom.sf(self.b - 1, self.b + self.c, phi))
        return p < ALPHA

    def pmf(self, pb: float, pc: float) -> np.ndarray:
        n, b, c = self.n, self.b, self.c
        log = gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(n - b - c + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            log = log + np.where(b > 0, b * np.log(max(pb, 1e-300)), 0.0)
            log = log + np.where(c > 0, c * np.log(max(pc, 1e-300)), 0.0)
            log = log + (n - b - c) * np.log1p(-min(pb + pc, 1 - 1e-16))
        return np.exp(log)

    def reject(self, test: str, pb: float, pc: float) -> float:
        return float(self.pmf(pb, pc)[self.masks[test]].sum())

    def oracle(self, margin: float, pb: float, pc: float) -> float:
        """Power of the most powerful region of the Tango ordering calibrated at the boundary
        point with the same discordance rate (it would need to know that rate)."""
        rate = pb + pc
        boundary = self.pmf((rate + margin) / 2, (rate - margin) / 2)
        assert self.z is not None
        order = np.argsort(-self.z, kind="stable")
        tail = np.cumsum(boundary[order])
        cut = int(np.searchsorted(tail, ALPHA, side="right"))
        return float(self.pmf(pb, pc)[order[:cut]].sum())


def systems(drop: float) -> dict[str, tuple[float, float]]:
    scale = 1 - drop / MEAN_P
    rate = max(0.10, drop)
    return {
        "noisy": (MEAN_P - scale * MEAN_P2, scale * (MEAN_P - MEAN_P2)),
        "low-noise": ((rate + drop) / 2, (rate - drop) / 2),
        "temperature 0": (drop, 0.0),
    }


def pass_fail_tables() -> dict[str, Any]:
    out: dict[str, Any] = {"size": {}, "power": {}}
    for margin in MARGINS:
        for n in SIZES:
            grid = Grid(n, margin)
            rates = np.unique(np.concatenate([np.linspace(max(margin, 1e-3), 1, 80), [0.1, 0.21]]))
            out["size"][f"{margin}/{n}"] = {
                test: max(grid.reject(test, (r + margin) / 2, (r - margin) / 2) for r in rates)
                for test in grid.masks
            }
            for drop in DROPS:
                for name, (pb, pc) in systems(drop).items():
                    cell = {test: grid.reject(test, pb, pc) for test in grid.masks}
                    if margin and drop > margin:
                        cell["oracle"] = grid.oracle(margin, pb, pc)
                    out["power"][f"{name}/{margin}/{drop}/{n}"] = cell
    return out


# --- scores: seeded Monte Carlo --------------------------------------------------------------


def _judge_mean(shift: float) -> float:
    q = np.linspace(0.25, 1, 4001)
    edges = np.array([-np.inf, 0.5, 1.5, 2.5, 3.5, np.inf])
    probs = np.diff(sps.norm.cdf((edges[None, :] - 4 * (q - shift)[:, None]) / 0.8), axis=1)
    return float((probs @ np.arange(5)).mean() / 4)


def _shift(drop: float) -> float:
    base = _judge_mean(0.0)
    return 0.0 if drop == 0 else float(brentq(lambda s: base - _judge_mean(s) - drop, 0, 0.6))


Scenario = Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]


def noisy_judge(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    q = rng.uniform(0.25, 1, n)

    def judged(shift: float) -> np.ndarray:
        return np.clip(np.rint(4 * (q - shift) + rng.normal(0, 0.8, n)), 0, 4) / 4

    return judged(_shift(drop)), judged(0.0)


def still_judge(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    base = rng.choice([0, 0.25, 0.5, 0.75, 1], size=n, p=[0.05, 0.05, 0.1, 0.3, 0.5])
    lost = (base > 0) & (rng.random(n) < drop / 0.25 / 0.95)
    return base - 0.25 * lost, base


def skewed(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    base = rng.uniform(0.3, 0.7, n)
    return base + 0.07 * (rng.gamma(2.0, 1.0, n) - 2) - drop, base


SCENARIOS: dict[str, Scenario] = {
    "noisy judge": noisy_judge,
    "temperature-0 judge": still_judge,
    "skewed differences": skewed,
}


def score_tables(sims: int, seed: int, resamples: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for s_index, (name, draw) in enumerate(SCENARIOS.items()):
        for margin in MARGINS:
            for n in SIZES:
                for drop in DROPS:
                    reps = sims if drop == margin else max(100, sims // 3)
                    rng = np.random.default_rng(
                        [seed, s_index, int(margin * 100), n, int(drop * 100)]
                    )
                    fails = 0
                    for i in range(reps):
                        cur, base = draw(rng, n, drop)
                        r = paired_score_test(
                            cur, base, margin=margin, n_resamples=resamples, seed=i, bounds=(0, 1)
                        )
                        fails += r.p_value < ALPHA and r.diff < -margin
                    out[f"{name}/{margin}/{drop}/{n}"] = fails / reps
    return out


# --- A/A and key power cells through regression_test -----------------------------------------


def _pass_fail_pair(
    rng: np.random.Generator, n: int, drop: float, system: str
) -> tuple[dict, dict]:
    if system.startswith("temperature 0"):
        base = rng.random(n) < 0.7
        lost = base & (rng.random(n) < drop / 0.7)
        if system.endswith("fixed"):  # exactly round(drop * n) of the passing examples flip
            lost = np.zeros(n, dtype=bool)
            lost[rng.choice(np.flatnonzero(base), round(drop * n), replace=False)] = True
        return dict(enumerate((base & ~lost).tolist())), dict(enumerate(base.tolist()))
    p = rng.beta(BETA_A, BETA_B, n)
    base, cur = rng.random(n) < p, rng.random(n) < p * (1 - drop / MEAN_P)
    return dict(enumerate(cur.tolist())), dict(enumerate(base.tolist()))


def end_to_end(sims: int, seed: int) -> dict[str, dict[str, float]]:
    """Fail and inconclusive rates of `regression_test` itself at n = 300."""
    n, out = 300, {}
    cells = [("noisy", m, 0.0) for m in MARGINS] + [("temperature 0", m, 0.0) for m in MARGINS]
    systems = ("noisy", "temperature 0", "temperature 0, fixed")
    cells += [(s, 0.05, d) for s in systems for d in (0.08, 0.09, 0.10)]
    for k, (system, margin, drop) in enumerate(cells):
        rng = np.random.default_rng([seed, 7, k])
        fails = inconclusive = 0
        for _ in range(sims):
            result = regression_test(
                *_pass_fail_pair(rng, n, drop, system), kind="pass_rate", max_drop=margin
            )
            fails += result.regressed
            inconclusive += result.inconclusive
        out[f"pass/fail {system}/{margin}/{drop}"] = {
            "fail": fails / sims,
            "inconclusive": inconclusive / sims,
        }
    for k, margin in enumerate(MARGINS):
        rng = np.random.default_rng([seed, 8, k])
        fails = inconclusive = 0
        for i in range(sims):
            cur, base = noisy_judge(rng, n, 0.0)
            result = regression_test(
                dict(enumerate(cur)), dict(enumerate(base)), kind="mean", max_drop=margin,
                n_resamples=999, seed=i, bounds=(0, 1),
            )  # fmt: skip
            fails += result.regressed
            inconclusive += result.inconclusive
        out[f"scores noisy judge/{margin}/0.0"] = {
            "fail": fails / sims,
            "inconclusive": inconclusive / sims,
        }
    return out


# --- coverage of the summary intervals -------------------------------------------------------


def coverage(sims: int, seed: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    levels = np.array([0, 0.25, 0.5, 0.75, 1])

    def judge(p: list[float]) -> tuple[Callable[[int], np.ndarray], float]:
        return (lambda n: rng.choice(levels, n, p=p)), float(levels @ np.array(p))

    shapes: dict[str, tuple[Callable[[int], np.ndarray], float]] = {
        "judge, mostly 4-5": judge([0.02, 0.03, 0.1, 0.35, 0.5]),
        "judge, 80% top": judge([0.01, 0.01, 0.03, 0.15, 0.8]),
        "judge, 5% worst": judge([0.05, 0, 0, 0, 0.95]),
        "pairwise, 60% ties": (lambda n: rng.choice([0, 0.5, 1], n, p=[.1, .6, .3]), 0.6),
        "BLEU-like Beta(0.8, 2)": (lambda n: rng.beta(0.8, 2, n), 0.8 / 2.8),
        "30% zeros": (lambda n: np.where(rng.random(n) < 0.3, 0, rng.beta(2, 2, n)), 0.35),
    }  # fmt: skip
    out = {}
    for name, (draw, truth) in shapes.items():
        for n in (5, 10, 30, 100):
            hits = {"student-t": 0, "bounded-t": 0}
            width = {"student-t": 0.0, "bounded-t": 0.0}
            for _ in range(sims):
                x = draw(n)
                for method, (_, lo, hi) in (
                    ("student-t", mean_interval(x)), ("bounded-t", bounded_mean_interval(x, 0, 1))
                ):  # fmt: skip
                    hits[method] += lo <= truth <= hi
                    width[method] += (hi - lo) / sims
            out[f"{name}/{n}"] = {m: hits[m] / sims for m in hits} | {
                f"width {m}": w for m, w in width.items()
            }
    return out


# --- output ----------------------------------------------------------------------------------


def _row(label: str, values: list[float]) -> str:
    return f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + " |"


def print_tables(res: dict[str, Any]) -> None:
    head = "| | " + " | ".join(f"n={n}" for n in SIZES) + " |\n|---|" + "---:|" * len(SIZES)
    pf = res["pass_fail"]
    print("### Pass/fail: exact size (max over discordance rates at drop = max_drop)\n\n" + head)
    for margin in MARGINS:
        for test in ("new", "before", "asymptotic"):
            if margin or test != "asymptotic":
                cells = [pf["size"][f"{margin}/{n}"][test] for n in SIZES]
                print(_row(f"max_drop {margin}, {test}", cells))
    for system in ("noisy", "low-noise", "temperature 0"):
        print(f"\n### Pass/fail, {system}: P(gate fails), new test (before / oracle)\n\n{head}")
        for margin in MARGINS:
            for drop in DROPS:
                cells = [pf["power"][f"{system}/{margin}/{drop}/{n}"] for n in SIZES]
                text = []
                for c in cells:
                    extra = f" ({c['before']:.3f}" + (
                        f" / {c['oracle']:.3f})" if "oracle" in c else ")"
                    )
                    text.append(f"{c['new']:.3f}" + (extra if margin else ""))
                print(f"| max_drop {margin}, drop {drop:.2f} | " + " | ".join(text) + " |")
    for name in SCENARIOS:
        print(f"\n### Scores, {name}: P(gate fails) (drop = max_drop: size)\n\n{head}")
        for margin in MARGINS:
            for drop in DROPS:
                print(
                    _row(
                        f"max_drop {margin}, drop {drop:.2f}",
                        [res["scores"][f"{name}/{margin}/{drop}/{n}"] for n in SIZES],
                    )
                )
    print(
        "\n### Through regression_test, n = 300\n\n| cell | fails | inconclusive |\n|---|---:|---:|"
    )
    for key, cell in res["end_to_end"].items():
        print(f"| {key} | {cell['fail']:.3f} | {cell['inconclusive']:.3f} |")
    print("\n### Coverage of 95% intervals for a mean in [0, 1] (width)\n")
    print("| scores | n | student-t | bounded-t |\n|---|---:|---:|---:|")
    for key, cell in res["coverage"].items():
        name, n = key.rsplit("/", 1)
        print(f"| {name} | {n} | {cell['student-t']:.3f} ({cell['width student-t']:.3f}) | "
              f"{cell['bounded-t']:.3f} ({cell['width bounded-t']:.3f}) |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sims", type=int, default=1000, help="score simulations at the H0 boundary"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer simulations (a smoke run)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    sims = 60 if args.quick else args.sims
    start = time.perf_counter()
    res = {
        "pass_fail": pass_fail_tables(),
        "scores": score_tables(sims, args.seed, resamples=499),
        "end_to_end": end_to_end(max(50, sims), args.seed),
        "coverage": coverage(max(200, 2 * sims), args.seed),
    }
    print_tables(res)
    took = time.perf_counter() - start
    print(f"\n({took:.0f} s, seed {args.seed}, {sims} score simulations at the boundary)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
