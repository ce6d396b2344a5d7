"""Intervals in the summary stay inside the metric's range and never have zero width from
small or constant data (issue 10, point 7)."""

from __future__ import annotations

from gates_support import rec

from evalkit.graders.pairwise import win_stats
from evalkit.results.schema import PairRecord, PairSide
from evalkit.results.summary import metric_stats


def _stats(values: list[float], meta: dict | None = None):
    records = [rec(f"e{i}", {"s": {"value": v, "meta": meta}}) for i, v in enumerate(values)]
    return metric_stats((r.example_id, r.scores["s"]) for r in records)


def test_a_bleu_like_mean_on_five_examples_stays_inside_0_1() -> None:
    stats = _stats([0.1, 0.9, 0.95, 0.2, 0.4])
    assert stats.method == "bounded-t" and 0.0 <= stats.ci_low < stats.ci_high <= 1.0


def test_constant_judge_scores_keep_an_honest_width_inside_the_scale() -> None:
    stats = _stats([5.0] * 30, meta={"range": [1, 5], "judge_hash": "x"})
    assert stats.method == "bounded-t"
    assert 4.5 < stats.ci_low < 5.0 and stats.ci_high == 5.0
    constant = _stats([0.5] * 10)
    assert constant.ci_low < 0.5 < constant.ci_high  # not [0.5, 0.5]


def test_unbounded_numbers_keep_the_student_t_interval() -> None:
    assert _stats([120.0, 80.0, 95.0]).method == "student-t"


def test_a_judge_that_always_prefers_position_one_is_not_a_certain_tie() -> None:
    side = {"variant": "a", "model": "m"}
    records = [
        PairRecord(
            grader="duel",
            key=f"e{i}",
            example_id=f"e{i}",
            by="variant",
            a=PairSide(**side),
            b=PairSide(**{**side, "variant": "b"}),
            outcome="tie",
            inconsistent=True,
        )
        for i in range(20)
    ]
    stats = win_stats(records)
    assert stats.win_rate_a == 0.5 and stats.ci_low < 0.5 < stats.ci_high
    assert stats.ci_low >= 0.0 and stats.ci_high <= 1.0
