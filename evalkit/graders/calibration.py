"""Judge calibration: how often a grader's judge agrees with a human's label.

    - type: rubric
      judge: gpt
      rubric: ...
      human_label: human_verdict      # a dataset column: pass/fail, true/false, 1..5, ...

summary.json gets, under "calibration", per grader: accuracy, Cohen's kappa (chance-corrected;
quadratic-weighted kappa too on numeric scales) and n, plus the same per judge when a grader
has several. Human labels are read like the judge's answers (so "PASS", true and 1 are all
"pass"); a value that names no label is counted in n_invalid, an empty one in n_missing.

Calibration is meaningful when the judged output is the one the human labelled: run the
labelled outputs through the `replay` provider (or a fixed function) so they are judged as is.
"""

from __future__ import annotations

import math
from typing import Any

from evalkit.graders.bind import BoundGrader
from evalkit.graders.judge import majority
from evalkit.graders.levels import Levels
from evalkit.results.schema import Calibration, ResultRecord
from evalkit.stats.calibration import agreement


def calibration_summary(
    records: list[ResultRecord], graders: list[BoundGrader]
) -> dict[str, Calibration]:
    result = {}
    for grader in graders:
        column = getattr(grader.config, "human_label", None)
        if column:
            result[grader.name] = Calibration.model_validate(
                grader_calibration(records, grader, column)
            )
    return result


def grader_calibration(
    records: list[ResultRecord], grader: BoundGrader, column: str
) -> dict[str, Any]:
    levels = grader.levels
    judged: list[str | None] = []
    human: list[str | None] = []
    votes: list[list[dict[str, Any]]] = []
    invalid = 0
    for record in records:
        score = record.scores.get(grader.name)
        if not record.ok or score is None or score.skipped:
            continue
        meta = score.meta or {}
        label, answer = _human(levels, (record.inputs or {}).get(column))
        invalid += answer and label is None
        judged.append(meta.get("label") if score.value is not None else None)
        human.append(label)
        votes.append(meta.get("votes") or [])
    entry: dict[str, Any] = {"human_label": column, **_agreement(judged, human, levels)}
    entry["n_invalid"] = invalid
    judges = grader.judge_ids
    if len(judges) > 1:
        entry["by_judge"] = {
            jid: _agreement([_judge_label(v, jid, levels) for v in votes], human, levels)
            for jid in judges
        }
    return entry


def _human(levels: Levels, value: Any) -> tuple[str | None, bool]:
    """(the label a human's value names, whether there was a value at all)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False
    if isinstance(value, float) and math.isnan(value):
        return None, False
    level = levels.match(value)
    return (level.label if level else None), True


def _judge_label(votes: list[dict[str, Any]], judge: str, levels: Levels) -> str | None:
    """One judge's label on an item: the majority of its samples (split: the lower label)."""
    labels = [v["label"] for v in votes if v.get("judge") == judge and v.get("label")]
    return majority(labels, levels) if labels else None


def _agreement(judged: list[str | None], human: list[str | None], levels: Levels) -> dict[str, Any]:
    stats: dict[str, Any] = dict(agreement(judged, human))
    if levels.numeric:
        values = [None if x is None else levels.value_of(x) for x in judged]
        truth = [None if x is None else levels.value_of(x) for x in human]
        stats["kappa_quadratic"] = agreement(values, truth, weights="quadratic")["kappa"]
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in stats.items()}
