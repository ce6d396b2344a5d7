"""Reference-based graders: `closed_qa` (is the output correct?) and `factuality`.

    - {type: closed_qa, judge: gpt, reference: "{{ reference }}"}
    - type: factuality
      judge: gpt
      reference: "{{ reference }}"          # the default
      choice_scores: {subset: 0.5}          # optional: what each choice is worth

closed_qa answers correct (1) / incorrect (0). factuality picks how the output's facts relate
to the reference, after OpenAI evals' Factuality: consistent (1.0), equivalent (1.0: differs
only in ways that do not matter), superset (0.6), subset (0.4), contradicts (0.0); by default
(threshold 0.4) every choice but "contradicts" passes. An example without a reference answer
is unscored with that reason: judging correctness without one would be a guess.
"""

from __future__ import annotations

from typing import Any

from evalkit.graders.levels import Level, Levels, binary
from evalkit.graders.types import GraderType, packaged_prompt
from evalkit.suite.graders import FACTUALITY_SCORES, ClosedQAGrader, FactualityGrader

FACTUALITY_MEANING = {
    "consistent": "the output contains the same facts as the reference",
    "equivalent": "the facts differ in ways that do not matter for factual correctness",
    "superset": "the output contains all the reference's facts, consistently, and more",
    "subset": "the output contains part of the reference's facts and is consistent with them",
    "contradicts": "the output disagrees with the reference on a fact",
}


def closed_qa_levels(threshold: float | None) -> Levels:
    meaning = (
        "the output answers the question correctly, in agreement with the reference",
        "the output is wrong, incomplete or in disagreement with the reference",
    )
    return binary("correct", "incorrect", threshold, meaning)


def factuality_levels(scores: dict[str, float], threshold: float | None) -> Levels:
    merged = {**FACTUALITY_SCORES, **scores}
    return Levels(
        tuple(Level(name, merged[name], FACTUALITY_MEANING[name]) for name in FACTUALITY_SCORES),
        threshold=threshold,
    )


def missing_reference(variables: dict[str, Any]) -> str | None:
    """Why an item cannot be judged against its reference, or None."""
    reference = variables.get("reference")
    if reference is None or not str(reference).strip():
        return "no reference answer for this example"
    return None


def _closed_qa_criteria(config: ClosedQAGrader) -> list[str]:
    return [config.criteria] if config.criteria else []


CLOSED_QA = GraderType(
    name="closed_qa",
    config=ClosedQAGrader,
    levels=lambda config: closed_qa_levels(config.threshold),
    prompt=packaged_prompt("evalkit.graders", "prompts/closed_qa.jinja"),
    criteria=_closed_qa_criteria,
    needs_reference=True,
)
FACTUALITY = GraderType(
    name="factuality",
    config=FactualityGrader,
    levels=lambda config: factuality_levels(config.choice_scores, config.threshold),
    prompt=packaged_prompt("evalkit.graders", "prompts/factuality.jinja"),
    needs_reference=True,
)
