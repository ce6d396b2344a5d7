"""What gates decide: one GateResult per gate and cell, and the Verdict over all of them.

The verdict goes into the summary as a typed VerdictDoc (summary.verdict), and every reporter
(terminal, Markdown, JUnit, pytest) reads that document, so `evalkit gate` on a finished run and
`evalkit run` report the same thing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from evalkit.results.schema import FlakyReport, GateResultDoc, VerdictCounts, VerdictDoc

Status = Literal["pass", "fail", "skip", "inconclusive", "not_comparable"]


@dataclass
class GateResult:
    name: str
    type: str
    status: Status
    message: str
    observed: float | None = None
    threshold: str = ""  # human form: ">= 0.8", "<= 2000", "drop <= 0.02"
    metric: str | None = None
    variant: str | None = None
    model: str | None = None
    statistics: dict[str, Any] = field(default_factory=dict)
    slice_column: str | None = None  # set for a per-slice gate (`per:`), see gates.slices
    slice_value: str | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)  # regressed / flaky examples
    index: int = -1  # position of the gate in the suite's `gates:` list (set by decide)
    # whether an inconclusive / not comparable result fails the run (the gate's policy)
    blocking: bool = True

    @property
    def passed(self) -> bool:
        """A skipped gate (an absent baseline with if_missing: skip) does not fail the run; an
        inconclusive or not comparable one does unless its policy lets it pass."""
        if self.status in ("inconclusive", "not_comparable"):
            return not self.blocking
        return self.status != "fail"

    def to_doc(self) -> GateResultDoc:
        return GateResultDoc(
            name=self.name,
            index=self.index,
            type=self.type,
            passed=self.passed,
            status=self.status,
            observed=clean_json(self.observed),
            threshold=self.threshold,
            metric=self.metric,
            variant=self.variant,
            model=self.model,
            slice_column=self.slice_column,
            slice_value=self.slice_value,
            statistics=clean_json(self.statistics),
            message=self.message,
            examples=clean_json(self.examples),
        )


@dataclass
class Verdict:
    gates: list[GateResult]
    flaky: list[FlakyReport] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def to_doc(self) -> VerdictDoc:
        return VerdictDoc(
            passed=self.passed,
            decided_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            counts=VerdictCounts(
                gates=len(self.gates),
                failed=len(self.failed),
                skipped=sum(1 for g in self.gates if g.status == "skip"),
                inconclusive=sum(1 for g in self.gates if g.status == "inconclusive"),
                not_comparable=sum(1 for g in self.gates if g.status == "not_comparable"),
            ),
            gates=[g.to_doc() for g in self.gates],
        )


def clean_json(value: Any) -> Any:
    """NaN and inf become None (JSON has no NaN; a reader should see "undefined", not 0)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return clean_json(value.item())
    return value


def cell_label(variant: str | None, model: str | None) -> str:
    if variant is None and model is None:
        return "all"
    return f"{variant or '*'}/{model or '*'}"
