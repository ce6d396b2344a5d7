"""Repeats of the same example: flakiness, pass@k and pass^k.

With `repeats: r` in a suite every example is run r times. An example is stable_pass when
every scored repeat passed, stable_fail when none did, and flaky otherwise. Unscored repeats
(None) are ignored; an example with no scored repeat is listed as unscored.

pass@k is the chance that at least one of k attempts passes (useful when a user can retry);
pass^k the chance that all k pass (reliability: the feature must work every time). Both are
estimated without bias from n >= k repeats with c passes (Chen et al. 2021, "Evaluating Large
Language Models Trained on Code"; Yao et al. 2024, tau-bench, for pass^k).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _check(n: int, c: int, k: int) -> None:
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n attempts with c passes: 1 - C(n - c, k) / C(n, k).

    Computed as 1 - prod_{i = n-c+1..n} (1 - k / i), which avoids huge binomials.

    >>> pass_at_k(5, 1, 2)
    0.4
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1 - k / i
    return 1.0 - prod


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k (all k attempts pass) from n attempts with c passes: C(c, k) / C(n, k).

    >>> pass_hat_k(5, 4, 2)
    0.6
    """
    _check(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


@dataclass(frozen=True)
class FlakyReport:
    """Classification of examples by their repeats, with pass@k / pass^k averaged over examples."""

    stable_pass: tuple[Hashable, ...]
    stable_fail: tuple[Hashable, ...]
    flaky: tuple[Hashable, ...]
    unscored: tuple[Hashable, ...]
    pass_at_k: dict[int, float]  # k -> mean over examples with at least k scored repeats
    pass_hat_k: dict[int, float]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "stable_pass": len(self.stable_pass),
            "stable_fail": len(self.stable_fail),
            "flaky": len(self.flaky),
            "unscored": len(self.unscored),
        }

    @property
    def flaky_rate(self) -> float:
        """Share of scored examples that are flaky (nan when none is scored)."""
        scored = len(self.stable_pass) + len(self.stable_fail) + len(self.flaky)
        return len(self.flaky) / scored if scored else math.nan


def _mean_over_examples(tallies: Sequence[tuple[int, int]], k: int, hat: bool) -> float:
    estimator = pass_hat_k if hat else pass_at_k
    values = [estimator(n, c, k) for n, c in tallies if n >= k]
    return sum(values) / len(values) if values else math.nan


def _outcome(value: bool | float) -> bool:
    if value not in (0, 1):
        raise ValueError(f"repeat outcomes must be pass/fail (bool or 0/1), got {value!r}")
    return bool(value)


def classify_repeats(
    repeats: Mapping[Any, Sequence[bool | float | None]], ks: Sequence[int] = (1,)
) -> FlakyReport:
    """Classify each example as stable_pass, stable_fail or flaky from its repeated outcomes.

    Outcomes are bool or 0/1 (None: that repeat is unscored); anything else is a ValueError.
    `ks` lists the k for pass@k and pass^k; each is averaged over the examples with at least
    k scored repeats (nan if none). Ids keep the input order.
    """
    groups: dict[str, list[Hashable]] = {"pass": [], "fail": [], "flaky": [], "none": []}
    tallies: list[tuple[int, int]] = []
    for example_id, outcomes in repeats.items():
        scored = [_outcome(o) for o in outcomes if o is not None]
        n, c = len(scored), sum(scored)
        if n == 0:
            groups["none"].append(example_id)
            continue
        tallies.append((n, c))
        label = "pass" if c == n else "fail" if c == 0 else "flaky"
        groups[label].append(example_id)
    return FlakyReport(
        stable_pass=tuple(groups["pass"]),
        stable_fail=tuple(groups["fail"]),
        flaky=tuple(groups["flaky"]),
        unscored=tuple(groups["none"]),
        pass_at_k={k: _mean_over_examples(tallies, k, hat=False) for k in ks},
        pass_hat_k={k: _mean_over_examples(tallies, k, hat=True) for k in ks},
    )
