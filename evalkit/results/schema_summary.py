"""The typed summary of a run (summary.json): cells, counts, judging, pairwise, verdict.

Part of the run documents; import them from evalkit.results.schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from evalkit.results.schema_base import Doc, Stats, Versioned

Status = Literal["complete", "incomplete", "interrupted"]
GateStatus = Literal["pass", "fail", "skip", "inconclusive", "not_comparable"]


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
    not_asserted: int = 0  # answered items whose row does not carry this assertion
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


class SliceStats(Doc):
    """One value of a slice column within a cell: its items, errors and every metric's stats.

    `value` is the column's value as text; "(missing)" holds the rows without the column (or
    with null / empty), "(other)" the values beyond the cap (see evalkit.results.slices)."""

    value: str
    items: int = 0
    errors: int = 0
    metrics: dict[str, MetricStats] = Field(default_factory=dict)


class ColumnSlices(Doc):
    """A cell's slices by one dataset column (`group_by:` in the suite, or --group-by)."""

    column: str
    values: list[SliceStats] = Field(default_factory=list)
    distinct: int = 0  # distinct values of the column in the run (before the cap)
    folded: int = 0  # of those, how many were folded into "(other)"


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
    slices: list[ColumnSlices] = Field(default_factory=list)  # empty without group_by

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
    type: str = ""
    passed: bool
    status: GateStatus
    observed: float | None = None
    threshold: str = ""
    metric: str | None = None
    variant: str | None = None
    model: str | None = None
    slice_column: str | None = None  # a per-slice gate (`per: category`): the column
    slice_value: str | None = None  # ... and the value this result decided
    statistics: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    examples: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _status_from_passed(cls, data: Any) -> Any:
        # a hand-written (or older tool's) gate entry may give only `passed`
        if isinstance(data, dict) and "status" not in data and "passed" in data:
            return {**data, "status": "pass" if data["passed"] else "fail"}
        return data


class VerdictCounts(Doc):
    gates: int = 0
    failed: int = 0  # gate checks that fail the run (inconclusive ones included, by policy)
    skipped: int = 0
    inconclusive: int = 0
    not_comparable: int = 0


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
