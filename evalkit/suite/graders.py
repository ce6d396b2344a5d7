"""The `graders:` section of a suite: LLM judges, as a PO writes them.

    graders:
      - type: rubric
        name: helpfulness
        judge: gpt                      # a model id from `judges:` (or `models:`)
        rubric: The answer resolves the customer's question without inventing policy.
        scale: [1, 5]                   # or pass_fail (default), or {1: useless, ..., 5: ...}
        threshold: 4
        only_if: passed                 # skip the judge when a deterministic metric failed
      - {type: closed_qa, judge: gpt, reference: "{{ reference }}"}
      - {type: factuality, judge: gpt, reference: "{{ reference }}"}
      - {type: pairwise, judge: gpt, variants: [grounded, terse]}

Built-in types are configured here; behaviour (levels, prompts) lives in evalkit/graders/. A
plugin's grader type subclasses ItemGraderConfig (or GraderConfig) with its own `type` literal
and registers a GraderType (evalkit/graders/types.py). It imports pydantic and suite.limits.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evalkit.suite.limits import Count, Finite

Mode = Literal["auto", "json_schema", "labels", "text"]
Aggregate = Literal["majority", "mean"]
Scale = Literal["pass_fail"] | list[Count] | dict[int, str]
MAX_LEVELS = 11  # 0..10 is the widest scale a judge rates reliably

FACTUALITY_SCORES: dict[str, float] = {
    # after OpenAI evals' / autoevals' Factuality choices; "equivalent" is their (E)
    "consistent": 1.0,
    "equivalent": 1.0,
    "superset": 0.6,
    "subset": 0.4,
    "contradicts": 0.0,
}


class GraderConfig(BaseModel):
    """What every grader has: a type, a name, its judges and how they are asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    name: str | None = Field(default=None, description="the score's name (default: the type)")
    judge: str | None = Field(default=None, description="the judge's model id")
    judges: list[str] = Field(default_factory=list, description="several judges, aggregated")
    samples: Count = Field(default=1, ge=1, le=20, description="judge calls per judge and item")
    aggregate: Aggregate | None = Field(
        default=None, description="majority or mean over samples and judges"
    )
    prompt: str | None = Field(
        default=None, description="judge prompt override: an inline template or a .jinja file"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="judge params (default temperature 0, seed 0)"
    )
    mode: Mode = Field(
        default="auto",
        description="json_schema (openai), labels (local label probabilities) or text",
    )
    input: str | None = Field(
        default=None, description="what the judge sees as the input (default: the user message)"
    )
    reference: str | None = Field(default=None, description="the reference answer (a template)")

    @model_validator(mode="after")
    def _one_judge_field(self) -> GraderConfig:
        if (self.judge is None) == (not self.judges):
            raise ValueError("a grader needs 'judge: ID' or 'judges: [ID, ...]' (one of them)")
        if len(set(self.judges)) != len(self.judges):
            raise ValueError("'judges' lists a judge twice; use 'samples' for several calls")
        return self

    @property
    def judge_ids(self) -> list[str]:
        return [self.judge] if self.judge is not None else list(self.judges)

    @property
    def display_name(self) -> str:
        return self.name or self.type


class ItemGraderConfig(GraderConfig):
    """A grader that scores every item as it finishes."""

    only_if: Literal["always", "passed"] | list[str] = Field(
        default="always",
        description="passed: judge only items whose metrics all passed (or these metrics)",
    )
    threshold: Finite | None = Field(default=None, description="score >= threshold passes")
    weighted: bool = Field(
        default=False,
        description="use the probability-weighted score (G-Eval) as the value where available",
    )
    human_label: str | None = Field(
        default=None, description="dataset column with a human's label, for calibration"
    )


class RubricGrader(ItemGraderConfig):
    type: Literal["rubric"]
    rubric: str | list[str] = Field(description="the criterion, or a list of criteria")
    scale: Scale = Field(
        default="pass_fail", description="pass_fail, [low, high] or {level: description}"
    )

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, value: Any) -> Any:
        if isinstance(value, list):
            if len(value) != 2 or value[0] >= value[1]:
                raise ValueError("a numeric scale is [low, high] with low < high, e.g. [1, 5]")
            if value[1] - value[0] + 1 > MAX_LEVELS:
                raise ValueError(f"a scale has at most {MAX_LEVELS} levels")
        elif isinstance(value, dict) and (len(value) < 2 or len(value) > MAX_LEVELS):
            raise ValueError(f"a labelled scale has 2 to {MAX_LEVELS} levels")
        return value

    @field_validator("rubric")
    @classmethod
    def _not_empty(cls, value: str | list[str]) -> str | list[str]:
        texts = [value] if isinstance(value, str) else value
        if not texts or not all(t.strip() for t in texts):
            raise ValueError("a rubric needs at least one non-empty criterion")
        return value


class ClosedQAGrader(ItemGraderConfig):
    """Is the output correct, given the reference answer?"""

    type: Literal["closed_qa"]
    reference: str | None = "{{ reference }}"
    criteria: str | None = Field(default=None, description="an extra instruction for the judge")


class FactualityGrader(ItemGraderConfig):
    """How the output's facts relate to the reference: consistent, subset, ..., contradicts."""

    type: Literal["factuality"]
    reference: str | None = "{{ reference }}"
    choice_scores: dict[str, Finite] = Field(
        default_factory=dict, description="override the score of a choice, e.g. {subset: 0.5}"
    )
    threshold: Finite | None = 0.4  # by default every choice but "contradicts" passes

    @field_validator("choice_scores")
    @classmethod
    def _known_choices(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(FACTUALITY_SCORES))
        if unknown:
            raise ValueError(f"unknown choice {unknown[0]!r}; choices: {list(FACTUALITY_SCORES)}")
        return value


class PairwiseGrader(GraderConfig):
    """After the run: which of two variants (or models) answered each example better."""

    type: Literal["pairwise"]
    variants: list[str] | None = Field(default=None, description="the two prompt variants")
    models: list[str] | None = Field(default=None, description="or the two model ids")
    rubric: str | list[str] = (
        "Which response answers the input better: correct, helpful, and faithful to the "
        "reference answer when one is given."
    )

    @model_validator(mode="after")
    def _two_sides(self) -> PairwiseGrader:
        sides = [s for s in (self.variants, self.models) if s is not None]
        if len(sides) != 1:
            raise ValueError("a pairwise grader needs 'variants: [A, B]' or 'models: [A, B]'")
        if len(sides[0]) != 2 or sides[0][0] == sides[0][1]:
            raise ValueError("a pairwise grader compares exactly two different names")
        return self

    @property
    def by(self) -> Literal["variant", "model"]:
        return "variant" if self.variants is not None else "model"

    @property
    def sides(self) -> tuple[str, str]:
        pair = self.variants if self.variants is not None else self.models
        assert pair is not None
        return pair[0], pair[1]


BUILTIN_GRADERS = RubricGrader | ClosedQAGrader | FactualityGrader | PairwiseGrader


def typed_grader(data: Any) -> GraderConfig:
    """A grader entry as its registered type's config (a dict, or an instance already)."""
    if isinstance(data, GraderConfig):
        return data
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("a grader needs 'type:' (rubric, closed_qa, factuality, pairwise, ...)")
    from evalkit.errors import SuiteError
    from evalkit.plugins.registry import grader_config

    try:
        model = grader_config(data["type"])
    except SuiteError as exc:
        raise ValueError(f"{exc.message} ({exc.hint})") from None
    config: GraderConfig = model.model_validate(data)
    return config
