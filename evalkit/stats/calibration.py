"""Agreement between an LLM judge and human labels (is the judge trustworthy?).

Accuracy alone flatters a judge on unbalanced labels (a judge that always says "pass" agrees
90% of the time with labels that are 90% "pass"). Cohen's kappa corrects for the agreement
expected by chance from each rater's label frequencies:
kappa = (p_observed - p_chance) / (1 - p_chance); 1 is perfect, 0 is chance level.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np

from evalkit.stats.intervals import FloatArray

Weights = Literal["linear", "quadratic"] | None


def _confusion(
    judge: Sequence[Hashable], human: Sequence[Hashable]
) -> tuple[list[Hashable], FloatArray]:
    """Categories (sorted) and the joint proportion table, rows = judge, columns = human."""
    labels = sorted(set(judge) | set(human), key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)), dtype=np.float64)
    for j, h in zip(judge, human, strict=True):
        table[index[j], index[h]] += 1
    return labels, table / table.sum()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers first, in numeric order, then everything else by its text."""
    if _is_number(value):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _disagreement_weights(labels: list[Hashable], weights: Weights) -> FloatArray:
    k = len(labels)
    if weights is None:
        return 1.0 - np.eye(k)
    if not all(_is_number(v) for v in labels):
        raise ValueError(f"weighted kappa needs numeric labels, got {labels}")
    values = np.asarray(labels, dtype=np.float64)
    dist = np.abs(values[:, None] - values[None, :])
    return dist if weights == "linear" else dist**2


def cohen_kappa(
    judge: Sequence[Hashable], human: Sequence[Hashable], weights: Weights = None
) -> float:
    """Cohen's kappa between two complete label sequences (no None).

    weights=None treats labels as nominal. "linear" or "quadratic" weights disagreements by the
    numeric distance between the labels (for ordinal scales such as 1-5 rubric scores):
    kappa_w = 1 - sum(w * observed) / sum(w * expected). Returns nan when chance agreement is
    already perfect (both raters always give the same single label) or there is no pair.
    """
    if len(judge) == 0:
        return math.nan
    labels, observed = _confusion(judge, human)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    w = _disagreement_weights(labels, weights)
    chance_disagreement = float((w * expected).sum())
    if chance_disagreement == 0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / chance_disagreement


def agreement(
    judge: Sequence[Hashable | None],
    human: Sequence[Hashable | None],
    weights: Weights = None,
) -> dict[str, float | int]:
    """Accuracy and Cohen's kappa of judge labels against human labels, paired by position.

    Pairs where either label is None (unscored, or not labelled by a human) are excluded and
    counted in n_missing; n is the number of pairs used. Returns keys accuracy, kappa, n,
    n_missing (accuracy and kappa are nan when n = 0).
    """
    if len(judge) != len(human):
        raise ValueError(f"judge and human differ in length: {len(judge)} vs {len(human)}")
    pairs = [(j, h) for j, h in zip(judge, human, strict=True) if j is not None and h is not None]
    n = len(pairs)
    judged = [j for j, _ in pairs]
    labelled = [h for _, h in pairs]
    accuracy = sum(j == h for j, h in pairs) / n if n else math.nan
    return {
        "accuracy": accuracy,
        "kappa": cohen_kappa(judged, labelled, weights),
        "n": n,
        "n_missing": len(judge) - n,
    }
