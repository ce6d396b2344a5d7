"""The answers a judge may give (its labels), and what each one is worth.

A judge answers with a label ("pass", "4", "contradicts"); a Level maps it to the score's value
and, through the grader's threshold, to pass/fail. Aliases let a judge's "PASS" or a human's
`true` land on the same label, so parsing and calibration share one notion of "same answer".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_YES = ("true", "yes", "y", "1", "passed", "pass", "correct")
_NO = ("false", "no", "n", "0", "failed", "fail", "incorrect")


@dataclass(frozen=True, slots=True)
class Level:
    label: str
    value: float
    description: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Levels:
    """An ordered set of labels with a pass threshold (None: the score has no pass/fail)."""

    levels: tuple[Level, ...]
    threshold: float | None = None
    numeric: bool = False  # 1..N: the judge's score is a number, weighted kappa makes sense
    _index: dict[str, Level] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for level in self.levels:
            for name in (level.label, *level.aliases):
                self._index.setdefault(name.lower(), level)

    @property
    def labels(self) -> list[str]:
        return [level.label for level in self.levels]

    def match(self, answer: Any) -> Level | None:
        """The level an answer (a judge's score or a human label) names, or None."""
        if answer is None:
            return None
        if isinstance(answer, bool):
            text = "true" if answer else "false"
        elif isinstance(answer, int | float) and float(answer).is_integer():
            text = str(int(answer))
        else:
            text = str(answer).strip().strip("\"'`.*()[] ").lower()
            if text.replace(".", "", 1).isdigit() and float(text).is_integer():
                text = str(int(float(text)))
        return self._index.get(text)

    def value_of(self, label: str) -> float:
        return next(level.value for level in self.levels if level.label == label)

    def passed(self, value: float) -> bool | None:
        return None if self.threshold is None else value >= self.threshold


def binary(positive: str, negative: str, threshold: float | None, meaning: Sequence[str]) -> Levels:
    """Two labels worth 1 and 0; `meaning` describes each for the judge."""
    return Levels(
        (
            Level(positive, 1.0, meaning[0], tuple(a for a in _YES if a != positive)),
            Level(negative, 0.0, meaning[1], tuple(a for a in _NO if a != negative)),
        ),
        threshold=0.5 if threshold is None else threshold,
    )


PAIRWISE = Levels(
    (
        Level("1", 1.0, "response 1 is better"),
        Level("2", 0.0, "response 2 is better"),
        Level("tie", 0.5, "they are equally good (or equally bad)", ("equal", "draw", "both")),
    )
)
