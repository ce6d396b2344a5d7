"""The `gates:` section of a suite: what a run must clear to pass a release.

Each gate is one YAML mapping; its keys say which kind it is, so a PO writes no `type:`:

    gates:
      - metric: contains              # threshold on a metric or grader (mean / pass rate)
        min: 0.8
        bound: ci                     # the 95% lower bound, not just the mean, must clear 0.8
      - {metric: latency_ms, stat: p95, max: 2000}
      - {metric: contains, stat: "pass^3", min: 0.7}     # needs repeats >= 3
      - max_error_rate: 0.02
      - max_unscored_rate: 0.05
      - max_cost: 2.50                # $ for the whole run (or the filtered cells)
      - {metric: contains, max_flaky: 0}                  # needs repeats >= 2
      - regression: {baseline: main, metric: contains, max_drop: 0.02}

Every gate may also carry `name:`, `variant:` and `model:` (decide it only on those cells), and
`per: COLUMN` (decide it on each value of that dataset column in every cell; see
evalkit.gates.slices) except regression and cost gates.
"""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from evalkit.suite.limits import Count, Finite

# mean | pass_rate | pNN (percentile, e.g. p95 or p99.9) | pass@k | pass^k
STAT_PATTERN = r"^(mean|pass_rate|p\d{1,2}(\.\d+)?|pass@\d+|pass\^\d+)$"
_K = re.compile(r"^pass[@^](\d+)$")

Bound = Literal["point", "ci"]
# What a missing candidate result (an error, an unscored judgement, an example absent from the
# run) does to a gate: count as a fail (default), be left out (reported), or fail the gate.
Missing = Literal["fail", "exclude", "error"]


class _Gate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    variant: str | None = Field(default=None, description="decide only on this prompt variant")
    model: str | None = Field(default=None, description="decide only on this model id")
    per: str | None = Field(
        default=None,
        description="a dataset column: decide the gate on each of its values (slice) in every"
        " cell (not on regression or cost gates yet)",
    )


class ThresholdGate(_Gate):
    """A metric or grader must reach `min` and/or stay under `max` in every matching cell."""

    type: Literal["threshold"] = "threshold"
    metric: str
    stat: str = Field(default="mean", description="mean, pass_rate, p95 (any pNN), pass@k, pass^k")
    min: Finite | None = None
    max: Finite | None = None
    bound: Bound = Field(
        default="point", description="point: the estimate must clear; ci: its 95% bound must"
    )
    confidence: Finite = Field(default=0.95, gt=0, lt=1)
    missing: Missing = Field(
        default="fail",
        description="errors and unscored items: fail counts them as fails (pass rate 0, a score"
        " at the worst value), exclude leaves them out, error fails the gate when there are any",
    )

    @field_validator("stat")
    @classmethod
    def _known_stat(cls, value: str) -> str:
        if not re.match(STAT_PATTERN, value):
            raise ValueError(
                f"unknown stat '{value}': use mean, pass_rate, a percentile such as p95, "
                "pass@k or pass^k (e.g. pass^3)"
            )
        return value

    @model_validator(mode="after")
    def _has_threshold(self) -> ThresholdGate:
        if self.min is None and self.max is None:
            raise ValueError(f"gate on '{self.metric}' needs 'min' or 'max'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gate on '{self.metric}': min {self.min} > max {self.max}")
        return self

    @property
    def k(self) -> int | None:
        """k of a pass@k / pass^k stat, else None."""
        match = _K.match(self.stat)
        return int(match.group(1)) if match else None


class ErrorRateGate(_Gate):
    """At most this share of items may fail (provider errors), per cell."""

    type: Literal["error_rate"] = "error_rate"
    max_error_rate: Finite = Field(ge=0, le=1)
    bound: Bound = "point"
    confidence: Finite = Field(default=0.95, gt=0, lt=1)


class UnscoredRateGate(_Gate):
    """At most this share of answered items may be unscored (e.g. a judge reply not parsed)."""

    type: Literal["unscored_rate"] = "unscored_rate"
    max_unscored_rate: Finite = Field(ge=0, le=1)
    metric: str | None = Field(default=None, description="one metric; default: any metric")
    bound: Bound = "point"
    confidence: Finite = Field(default=0.95, gt=0, lt=1)


class CostGate(_Gate):
    """The total cost ($) of the run, or of the matching cells, must stay under `max_cost`."""

    type: Literal["cost"] = "cost"
    max_cost: Finite = Field(ge=0)


class FlakyGate(_Gate):
    """At most `max_flaky` examples per cell may both pass and fail across repeats."""

    type: Literal["flaky"] = "flaky"
    metric: str
    max_flaky: Count = Field(ge=0)


class RegressionGate(_Gate):
    """Fails when the run is worse than a baseline run by more than `max_drop`, significantly.

    Written nested, as in `regression: {baseline: main, metric: contains, max_drop: 0.02}`.
    """

    model_config = ConfigDict(json_schema_extra=lambda schema, _: _nested_schema(schema))

    type: Literal["regression"] = "regression"
    baseline: str = Field(description="a baseline name (evalkit baseline set) or a run id")
    metric: str
    stat: Literal["mean", "pass_rate"] | None = Field(
        default=None, description="default: pass_rate for pass/fail metrics, else mean"
    )
    max_drop: Finite = Field(default=0.0, ge=0, description="tolerated drop, in metric units")
    alpha: Finite = Field(default=0.05, gt=0, lt=0.5)
    baseline_variant: str | None = Field(default=None, description="default: the same variant")
    baseline_model: str | None = Field(default=None, description="default: the same model")
    on_mismatch: Literal["warn", "fail"] = Field(
        default="warn",
        description="examples only in this run (new ones): report them, or fail the gate",
    )
    missing: Missing = Field(
        default="fail",
        description="a baseline example this run has no result for (an error, unscored, absent"
        " or its row changed): fail counts it as a fail, exclude leaves it out, error fails",
    )
    inconclusive: Literal["fail", "pass"] = Field(
        default="fail",
        description="a gate that could not have seen the drop it guards (too few examples)",
    )
    on_judge_change: Literal["fail", "compare"] = Field(
        default="fail",
        description="the judge (model, prompt, params) differs from the baseline's: the scores"
        " are not comparable; compare anyway with a warning",
    )
    if_missing: Literal["fail", "skip"] = Field(
        default="fail", description="when the baseline does not exist (e.g. the first CI run)"
    )
    n_resamples: Count = Field(default=5000, ge=100, le=1_000_000)
    seed: Count = 0

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """`{regression: {...}, name: x}` -> one flat mapping."""
        if isinstance(data, dict) and "regression" in data:
            data = dict(data)
            inner = data.pop("regression")
            if not isinstance(inner, dict):
                raise ValueError("regression: needs a mapping {baseline, metric, max_drop}")
            data.update(inner)
        return data


def _nested_schema(schema: dict[str, Any]) -> None:
    """JSON Schema for editors: the nested `regression: {...}` a PO writes, or the flat form."""
    flat = {k: v for k, v in schema.items() if k not in ("title", "description")}
    outer = {k: flat["properties"][k] for k in ("name", "variant", "model")}
    nested = {
        "type": "object",
        "properties": {"regression": copy.deepcopy(flat), **copy.deepcopy(outer)},
        "required": ["regression"],
        "additionalProperties": False,
    }
    meta: dict[str, Any] = {k: schema[k] for k in ("title", "description") if k in schema}
    schema.clear()
    schema.update(meta, anyOf=[nested, flat])


# The key that identifies each gate kind in YAML, in the order they are tried.
_KEYS = (
    ("regression", "regression"),
    ("max_error_rate", "error_rate"),
    ("max_unscored_rate", "unscored_rate"),
    ("max_cost", "cost"),
    ("max_flaky", "flaky"),
)


def _gate_kind(data: Any) -> str:
    if isinstance(data, dict):
        if "type" in data:
            return str(data["type"])
        for key, kind in _KEYS:
            if key in data:
                return kind
        return "threshold"
    return str(getattr(data, "type", "threshold"))


Gate = Annotated[
    Annotated[ThresholdGate, Tag("threshold")]
    | Annotated[ErrorRateGate, Tag("error_rate")]
    | Annotated[UnscoredRateGate, Tag("unscored_rate")]
    | Annotated[CostGate, Tag("cost")]
    | Annotated[FlakyGate, Tag("flaky")]
    | Annotated[RegressionGate, Tag("regression")],
    Discriminator(_gate_kind),
]

AnyGate = ThresholdGate | ErrorRateGate | UnscoredRateGate | CostGate | FlakyGate | RegressionGate


def parse_gates(data: Any) -> list[AnyGate]:
    """Validate a `gates:` list outside a full suite (e.g. from a finished run's suite.yaml)."""
    from pydantic import TypeAdapter

    gates: list[AnyGate] = TypeAdapter(list[Gate]).validate_python(data or [])
    return gates
