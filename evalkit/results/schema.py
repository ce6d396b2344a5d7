"""The typed, versioned documents a run writes, and the only place that reads or writes them.

    runs/<run_id>/run.json       RunManifest   what was run (enough to resume and to log it)
    runs/<run_id>/results.jsonl  ResultRecord  one line per finished item
    runs/<run_id>/pairwise.jsonl PairRecord    one line per judged pair (pairwise graders)
    runs/<run_id>/summary.json   RunSummary    cells, counts, judging, pairwise, verdict

Every document carries `schema_version`. Version 1 (evalkit 0.1, key "v") is read as is: its
shapes are these, only NaN stood where there was no value. A document from a newer evalkit is
refused with a message that says so, instead of being half read.

Readers take these objects (`summary.cells[0].metrics["contains"].mean`), never nested dicts.
Scores and stats may carry fields a plugin adds (`extra="allow"`); everything else is fixed.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 2
Status = Literal["complete", "incomplete", "interrupted"]
GateStatus = Literal["pass", "fail", "skip", "inconclusive"]


class SchemaVersionError(ValueError):
    """A document written by a newer evalkit than this one."""


class Doc(BaseModel):
    """Base of every document: unknown keys are ignored (a field a newer minor version adds)."""

    model_config = ConfigDict(extra="ignore")


class Stats(Doc):
    """A document of statistics: version 1 wrote NaN for "no value", read here as None."""

    @model_validator(mode="before")
    @classmethod
    def _finite(cls, data: Any) -> Any:
        # version 1 wrote NaN for "no value"; JSON has no NaN and a reader should see None
        if isinstance(data, dict):
            return {k: None if _is_nan(v) else v for k, v in data.items()}
        return data


class Versioned(Doc):
    """A top-level document. Version 1 named the field "v"; both spellings are read."""

    schema_version: int = Field(
        default=SCHEMA_VERSION, validation_alias=AliasChoices("schema_version", "v")
    )

    def check_version(self, where: str) -> None:
        """Refuse a document a newer evalkit wrote: reading it partly would mislead."""
        if self.schema_version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where} was written by a newer evalkit (schema version {self.schema_version};"
                f" this one reads up to {SCHEMA_VERSION}): upgrade evalkit to read it"
            )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- result records ---------------------------------------------------------------------------


class UsageDoc(Doc):
    input_tokens: int = 0
    output_tokens: int = 0


class ScoreDoc(Doc):
    """One metric's or grader's score of one item. value None: unscored (reason says why)."""

    model_config = ConfigDict(extra="allow")

    value: float | None = None
    passed: bool | None = None
    reason: str | None = None
    meta: dict[str, Any] | None = None
    skipped: bool = False

    @property
    def scored(self) -> bool:
        return self.value is not None and not self.skipped


class ResultRecord(Versioned):
    """One finished item (example x variant x model x repeat): a line of results.jsonl."""

    run_id: str
    key: str
    example_id: str
    variant: str
    model: str
    repeat: int = 0
    inputs: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    output: str | None = None
    usage: UsageDoc = Field(default_factory=UsageDoc)
    latency_ms: float = 0.0
    cost: float | None = None
    cached: bool = False
    attempts: int = 1
    scores: dict[str, ScoreDoc] = Field(default_factory=dict)
    error: str | None = None

    @field_validator("example_id", mode="before")
    @classmethod
    def _str_id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @property
    def ok(self) -> bool:
        """The call succeeded (an error is the error-rate gate's business)."""
        return self.error is None

    @property
    def cell(self) -> tuple[str, str]:
        return (self.variant, self.model)


class PairSide(Doc):
    variant: str
    model: str
    output: str | None = None


class PairRecord(Doc):
    """One pairwise judgement (both orders) of two outputs for the same example and repeat."""

    model_config = ConfigDict(extra="allow")

    grader: str
    key: str
    example_id: str
    repeat: int = 0
    by: Literal["variant", "model"]
    a: PairSide
    b: PairSide
    outcome: Literal["a", "b", "tie"] | None = None
    inconsistent: bool = False
    orders: list[dict[str, Any]] = Field(default_factory=list)
    reason: str | None = None
    judge: str | list[str] | None = None
    judge_hash: str | dict[str, str] | None = None
    calls: int = 0
    cost: float = 0.0


# --- run manifest -----------------------------------------------------------------------------


class SuiteInfo(Doc):
    name: str
    description: str | None = None
    path: str | None = None
    hash: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class DatasetInfo(Doc):
    name: str | None = None
    digest: str | None = None
    rows: int = 0
    path: str | None = None


class VariantInfo(Doc):
    hash: str
    template: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)


class ModelInfo(Doc):
    """A model as run (options redacted: an interpolated ${SECRET} never reaches run.json)."""

    model_config = ConfigDict(extra="allow")

    id: str
    provider: str
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)


class MetricInfo(Doc):
    name: str
    type: str
    args: dict[str, Any] = Field(default_factory=dict)


class GraderInfo(Doc):
    name: str
    type: str
    judges: list[str] = Field(default_factory=list)
    prompt_hash: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class RunOptionsInfo(Doc):
    """The command-line choices a resume must repeat (filters, limit)."""

    limit: int | None = None
    variants: list[str] | None = None
    models: list[str] | None = None
    no_cache: bool = False
    max_cost: float | None = None


class RunManifest(Versioned):
    run_id: str
    created_at: str = ""
    evalkit_version: str = ""
    python: str = ""
    git_commit: str | None = None
    suite: SuiteInfo
    dataset: DatasetInfo = Field(default_factory=DatasetInfo)
    variants: dict[str, VariantInfo] = Field(default_factory=dict)
    models: list[ModelInfo] = Field(default_factory=list)
    metrics: list[MetricInfo] = Field(default_factory=list)
    graders: list[GraderInfo] = Field(default_factory=list)
    repeats: int = 1
    total: int = 0
    options: RunOptionsInfo = Field(default_factory=RunOptionsInfo)

    def model_info(self, model_id: str) -> ModelInfo | None:
        return next((m for m in self.models if m.id == model_id), None)


# --- summary ----------------------------------------------------------------------------------


class MetricStats(Stats):
    """A metric's (or grader's) value in one cell: mean or pass rate with its interval and n."""

    model_config = ConfigDict(extra="allow")

    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0  # examples that entered the estimate (repeats averaged first)
    n_unscored: int = 0
    confidence: float = 0.95
    method: str = ""
    kind: Literal["pass_rate", "mean"] = "mean"
    n_items: int = 0
    skipped: int = 0
    pass_rate: float | None = None


class LatencyStats(Stats):
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None


class TokenStats(Doc):
    input: float = 0.0
    output: float = 0.0
    mean_input: float = 0.0
    mean_output: float = 0.0


class CostStats(Doc):
    total: float = 0.0
    per_item: float = 0.0


class CellSummary(Doc):
    """One variant x model of the matrix."""

    variant: str
    model: str
    items: int = 0
    errors: int = 0
    cached: int = 0
    latency_ms: LatencyStats = Field(default_factory=LatencyStats)
    tokens: TokenStats = Field(default_factory=TokenStats)
    cost: CostStats | None = None
    metrics: dict[str, MetricStats] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.variant} x {self.model}"


class Counts(Doc):
    total: int = 0
    done: int = 0
    errors: int = 0
    cached: int = 0
    calls_this_session: int = 0


class Spent(Doc):
    total: float = 0.0
    by_model: dict[str, float] = Field(default_factory=dict)


class GraderTotals(Doc):
    calls: int = 0
    cost: float = 0.0


class Judging(Doc):
    """Judge calls made and their cost, per grader (the cells' cost is the models' only)."""

    calls: int = 0
    cost: float = 0.0
    graders: dict[str, GraderTotals] = Field(default_factory=dict)


class WinStats(Stats):
    model_config = ConfigDict(extra="allow")

    n: int = 0
    wins_a: int = 0
    wins_b: int = 0
    ties: int = 0
    inconsistent: int = 0
    n_unscored: int = 0
    win_rate_a: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class PairwiseCell(WinStats):
    """Win stats within one value of the other dimension (a model, when comparing variants)."""

    variant: str | None = None
    model: str | None = None


class PairwiseSummary(Doc):
    a: str
    b: str
    by: Literal["variant", "model"]
    judge: list[str] = Field(default_factory=list)
    cells: list[PairwiseCell] = Field(default_factory=list)
    overall: WinStats = Field(default_factory=WinStats)
    note: str | None = None


class Calibration(Stats):
    """Agreement of a grader with a human label column (kappa, accuracy, confusion, ...)."""

    model_config = ConfigDict(extra="allow")

    human_label: str
    n: int = 0
    n_invalid: int = 0
    kappa: float | None = None
    accuracy: float | None = None
    by_judge: dict[str, dict[str, Any]] | None = None


class FlakyReport(Stats):
    variant: str
    model: str
    metric: str
    repeats: int
    counts: dict[str, int] = Field(default_factory=dict)
    flaky: list[str] = Field(default_factory=list)
    pass_at_k: dict[str, float | None] = Field(default_factory=dict)
    pass_hat_k: dict[str, float | None] = Field(default_factory=dict)


class GateResultDoc(Stats):
    """One gate decided on one cell (or on the whole run, for cost)."""

    name: str
    index: int = -1
    type: str
    passed: bool
    status: GateStatus
    observed: float | None = None
    threshold: str = ""
    metric: str | None = None
    variant: str | None = None
    model: str | None = None
    statistics: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    examples: list[dict[str, Any]] = Field(default_factory=list)


class VerdictCounts(Doc):
    gates: int = 0
    failed: int = 0
    skipped: int = 0


class VerdictDoc(Doc):
    passed: bool
    decided_at: str = ""
    counts: VerdictCounts = Field(default_factory=VerdictCounts)
    gates: list[GateResultDoc] = Field(default_factory=list)

    @property
    def failed(self) -> list[GateResultDoc]:
        return [g for g in self.gates if not g.passed]


class RunSummary(Versioned):
    run_id: str
    suite: str = ""
    finished_at: str = ""
    status: Status = "incomplete"
    stopped_reason: str | None = None
    counts: Counts = Field(default_factory=Counts)
    cost: float = 0.0
    spent: Spent = Field(default_factory=Spent)
    cells: list[CellSummary] = Field(default_factory=list)
    judging: Judging | None = None
    pairwise: dict[str, PairwiseSummary] | None = None
    calibration: dict[str, Calibration] | None = None
    verdict: VerdictDoc | None = None
    flaky: list[FlakyReport] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def cell(self, variant: str, model: str) -> CellSummary | None:
        return next((c for c in self.cells if c.variant == variant and c.model == model), None)


def dump_json(doc: BaseModel, *, indent: int | None = None) -> str:
    """A document as JSON (NaN/inf as null: JSON has neither)."""
    return doc.model_dump_json(indent=indent, exclude_none=False)
