"""The rubric grader: a criterion (or several) and a scale, judged by a model.

    - type: rubric
      name: helpfulness
      judge: gpt
      rubric: The answer resolves the customer's question without inventing policy.
      scale: {1: wrong or off-topic, 3: partly resolves it, 5: fully resolves it}
      threshold: 4

Scales: `pass_fail` (the default: labels pass/fail, worth 1/0), `[low, high]` (the integers
from low to high) or a mapping {level: description} (the judge sees each description).
A numeric scale has no pass/fail unless the grader sets a threshold.
"""

from __future__ import annotations

from evalkit.graders.levels import Level, Levels, binary
from evalkit.graders.types import GraderType, packaged_prompt
from evalkit.suite.graders import RubricGrader


def rubric_levels(config: RubricGrader) -> Levels:
    """The labels a rubric judge may answer with, and their values."""
    scale = config.scale
    if scale == "pass_fail":
        meaning = ("the output meets the rubric", "the output does not meet the rubric")
        return binary("pass", "fail", config.threshold, meaning)
    if isinstance(scale, list):
        levels = tuple(Level(str(v), float(v)) for v in range(scale[0], scale[1] + 1))
    else:
        levels = tuple(Level(str(k), float(k), str(d)) for k, d in sorted(dict(scale).items()))
    return Levels(levels, threshold=config.threshold, numeric=True)


def rubric_criteria(config: RubricGrader) -> list[str]:
    return [config.rubric] if isinstance(config.rubric, str) else list(config.rubric)


RUBRIC = GraderType(
    name="rubric",
    config=RubricGrader,
    levels=rubric_levels,
    prompt=packaged_prompt("evalkit.graders", "prompts/rubric.jinja"),
    criteria=rubric_criteria,
)
