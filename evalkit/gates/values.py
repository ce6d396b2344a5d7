"""From result records to the numbers a gate decides on.

Gates decide per example, not per record: with `repeats: k` the k records of one example are
correlated, so they are averaged into one value per example before any interval or paired test
(counting them as k independent examples would make every interval too narrow). Percentiles
(latency p95) are the exception: they describe single calls, so every record counts.

A gate may name a score (a metric or grader) or one of the fields every record carries:
latency_ms, cost, input_tokens, output_tokens.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable

from evalkit.results.schema import ResultRecord, ScoreDoc

Record = ResultRecord
Cell = tuple[str, str]  # (variant, model)

RECORD_FIELDS = ("latency_ms", "cost", "input_tokens", "output_tokens")


def cells_of(
    records: Iterable[Record], variant: str | None, model: str | None
) -> dict[Cell, list[Record]]:
    """Records grouped by (variant, model), in first-seen order, filtered by a gate's cell."""
    cells: dict[Cell, list[Record]] = defaultdict(list)
    for record in records:
        if variant is not None and record.variant != variant:
            continue
        if model is not None and record.model != model:
            continue
        cells[record.cell].append(record)
    return dict(cells)


def answered(records: list[Record]) -> list[Record]:
    """Records whose call succeeded (failed calls are the error-rate gate's business)."""
    return [r for r in records if r.ok]


def has_score(records: Iterable[Record], metric: str) -> bool:
    return any(metric in r.scores for r in records)


def _score(record: Record, metric: str) -> ScoreDoc | None:
    score = record.scores.get(metric)
    if score is None or score.skipped:
        return None
    return score


def percentile_of(stat: str) -> float | None:
    """95.0 for "p95", None for any other stat."""
    if stat.startswith("p") and stat[1:2].isdigit():
        return float(stat[1:])
    return None


def record_value(record: Record, metric: str, stat: str) -> float | None:
    """One record's value for `metric`: the score (or its pass/fail for pass-type stats)."""
    if metric not in record.scores and metric in RECORD_FIELDS:
        return _field(record, metric)
    score = _score(record, metric)
    if score is None:
        return None
    if stat == "mean" or percentile_of(stat) is not None:
        return None if score.value is None else float(score.value)
    return _passed(score)


def _field(record: Record, name: str) -> float | None:
    if name in ("input_tokens", "output_tokens"):
        return float(getattr(record.usage, name))
    value = getattr(record, name)
    return None if value is None else float(value)


def _passed(score: ScoreDoc) -> float | None:
    """1.0 / 0.0 from `passed`; a 0/1 value counts when `passed` is not set."""
    if score.passed is not None:
        return float(score.passed)
    if score.value is not None and float(score.value) in (0.0, 1.0):
        return float(score.value)
    return None


def carries(record: Record, metric: str) -> bool:
    """Whether the record has `metric` at all: a row's own assertion is absent on other rows,
    which is "not asserted", not "unscored" (the record fields are on every record)."""
    return metric in record.scores or metric in RECORD_FIELDS


def by_example(records: list[Record], metric: str, stat: str) -> dict[str, list[float | None]]:
    """Every example's values over its repeats (None: that repeat is unscored).

    Examples whose rows do not carry the metric are left out, not counted as unscored."""
    out: dict[str, list[float | None]] = defaultdict(list)
    for record in answered(records):
        if carries(record, metric):
            out[record.example_id].append(record_value(record, metric, stat))
    return dict(out)


def outcomes(records: list[Record], metric: str) -> dict[Hashable, list[bool | None]]:
    """Every example's pass/fail over its repeats, as evalkit.stats.flaky expects them."""
    return {
        example_id: [None if v is None else v >= 0.5 for v in values]
        for example_id, values in by_example(records, metric, "pass_rate").items()
    }


def is_pass_fail(records: list[Record], metric: str) -> bool:
    """Same rule as the summary: every scored value is 0/1 and equals its `passed`."""
    scores = [s for r in answered(records) if (s := _score(r, metric)) is not None]
    scored = [s for s in scores if s.value is not None]
    return bool(scored) and all(
        s.passed is not None and float(s.value or 0.0) == float(s.passed) for s in scored
    )


def input_digests(records: list[Record]) -> dict[str, str]:
    """example id -> a digest of its dataset row, to spot examples that changed between runs."""
    from evalkit.records import stable_hash

    return {r.example_id: stable_hash(r.inputs) for r in records}


def score_range(records: Iterable[Record], metric: str) -> tuple[float, float] | None:
    """The range a score lies in (a judge's scale, or (0, 1)), as the summary decides it."""
    from evalkit.results.summary import score_bounds

    scored = [s for r in records if (s := r.scores.get(metric)) is not None and s.value is not None]
    return score_bounds(scored)
