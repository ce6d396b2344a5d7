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

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evalkit.results.schema_base import SCHEMA_VERSION, Doc, SchemaVersionError, Stats, Versioned
from evalkit.results.schema_summary import (
    Calibration,
    CellSummary,
    ColumnSlices,
    CostStats,
    Counts,
    FlakyReport,
    GateResultDoc,
    GateStatus,
    GraderTotals,
    Judging,
    LatencyStats,
    MetricStats,
    PairwiseCell,
    PairwiseSummary,
    RunSummary,
    SliceStats,
    Spent,
    Status,
    TokenStats,
    VerdictCounts,
    VerdictDoc,
    WinStats,
)

__all__ = [
    "SCHEMA_VERSION",
    "Calibration",
    "CellSummary",
    "ColumnSlices",
    "CostStats",
    "Counts",
    "DatasetInfo",
    "Doc",
    "FlakyReport",
    "GateResultDoc",
    "GateStatus",
    "GraderInfo",
    "GraderTotals",
    "Judging",
    "LatencyStats",
    "MetricInfo",
    "MetricStats",
    "ModelInfo",
    "PairRecord",
    "PairSide",
    "PairwiseCell",
    "PairwiseSummary",
    "ResultRecord",
    "RunManifest",
    "RunOptionsInfo",
    "RunSummary",
    "SchemaVersionError",
    "ScoreDoc",
    "ShardInfo",
    "SliceStats",
    "Spent",
    "Stats",
    "Status",
    "SuiteInfo",
    "TokenStats",
    "UsageDoc",
    "VariantInfo",
    "VerdictCounts",
    "VerdictDoc",
    "Versioned",
    "WinStats",
]

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
    group_by: list[str] | None = None  # --group-by columns, after the suite's group_by


class ShardInfo(Doc):
    """A shard run's slice: shard `index` of `count` (1-based), holding `examples` examples.

    `positions` maps each of its example ids to the example's place in the whole dataset, so
    a merge puts the records back in the order an unsharded run has them."""

    index: int
    count: int
    examples: int = 0
    positions: dict[str, int] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


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
    # Sharded runs (docs/ci.md): the slice this run covers (None: all of it), the id that the
    # shards of one evaluation share, and for a merged run the shard runs it was made from.
    # A shard's `dataset` describes the whole dataset (digest, rows: shards of the same data
    # compare equal); its `total` and `shard.examples` count its own slice.
    shard: ShardInfo | None = None
    group: str | None = None
    merged_from: list[str] = Field(default_factory=list)

    def model_info(self, model_id: str) -> ModelInfo | None:
        return next((m for m in self.models if m.id == model_id), None)


def dump_json(doc: BaseModel, *, indent: int | None = None) -> str:
    """A document as JSON (NaN/inf as null: JSON has neither)."""
    return doc.model_dump_json(indent=indent, exclude_none=False)
