"""The records that flow through a run: examples, requests, generations, scores, results.

These are plain dataclasses (slots, cheap to create) because a run makes tens of thousands of
them; pydantic is reserved for validating what users write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.results.schema import ResultRecord, ScoreDoc

# {"role": "system"|"user"|"assistant", "content": "...", "name": "..."}: `name` only when
# the prompt gave one (OpenAI-style few-shot turns); providers receive the keys as they are.
Message = dict[str, str]


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short, stable hex digest of any JSON-serialisable object (key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


@dataclass(slots=True, frozen=True)
class Assertions:
    """A row's own assertions (an `assert` column or a suite's `tests:`), bound by the plan.

    `metrics` are scored on this row after the suite's metrics; the row's own graders are bound
    once per distinct config and know which examples they judge. `verdict` names the score that
    says whether every assertion of the row passed (promptfoo's test verdict).
    """

    metrics: tuple[Any, ...] = ()  # evalkit.metrics.bind.BoundMetric (records imports nothing)
    verdict: str | None = None


@dataclass(slots=True, frozen=True)
class Example:
    """One dataset row with its stable id (an id column, else a content hash of the row)."""

    id: str
    row: dict[str, Any]
    line: int | None = None  # line (JSONL/CSV) or index where the row came from, for messages
    assertions: Assertions | None = field(default=None, compare=False)


@dataclass(slots=True)
class GenerationRequest:
    """What a provider receives: the rendered messages and the model parameters."""

    messages: list[Message]
    params: dict[str, Any]
    model: str
    repeat: int = 0
    row: dict[str, Any] = field(default_factory=dict)  # function/replay providers need the row
    example_id: str = ""
    variant: str = ""


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class Generation:
    """What a provider returns. `error` is set instead of raising when an item failed."""

    output: str | None
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    cost: float | None = None
    cached: bool = False
    error: str | None = None
    attempts: int = 1
    raw: dict[str, Any] | None = None  # provider extras worth keeping (finish reason, logprobs)

    def to_cache(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict: that deep-copies every value, once per call
        return {
            "output": self.output,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
            },
            "latency_ms": self.latency_ms,
            "cost": self.cost,
            "error": self.error,
            "attempts": self.attempts,
            "raw": self.raw,
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> Generation:
        usage = Usage(**data.pop("usage", {}))
        return cls(usage=usage, cached=True, **data)


@dataclass(slots=True)
class Score:
    """The result of one metric or grader on one item.

    `value` is None when the item could not be scored; `reason` then says why. A score is never
    silently 0 or a pass.
    """

    value: float | None
    passed: bool | None = None
    reason: str | None = None
    meta: dict[str, Any] | None = None
    skipped: bool = False  # not scored on purpose (a grader's only_if): counted, not unscored

    def to_doc(self) -> ScoreDoc:
        from evalkit.results.schema import ScoreDoc

        return ScoreDoc(
            value=self.value,
            passed=self.passed,
            reason=self.reason,
            meta=self.meta or None,
            skipped=self.skipped,
        )


@dataclass(slots=True, frozen=True)
class WorkItem:
    """One cell of the matrix: example x variant x model x repeat."""

    example: Example
    variant: str
    model: str
    repeat: int = 0

    @property
    def key(self) -> str:
        """The item's id in results.jsonl; resume skips keys that are already done."""
        return f"{self.example.id}|{self.variant}|{self.model}|{self.repeat}"


def result_record(
    run_id: str,
    item: WorkItem,
    messages: list[Message] | None,
    gen: Generation,
    scores: dict[str, Score],
) -> ResultRecord:
    """The typed record written as one line of results.jsonl (the contract in DESIGN.md)."""
    from evalkit.results.schema import ResultRecord, UsageDoc

    return ResultRecord(
        run_id=run_id,
        key=item.key,
        example_id=item.example.id,
        variant=item.variant,
        model=item.model,
        repeat=item.repeat,
        inputs=item.example.row,
        messages=messages,
        output=gen.output,
        usage=UsageDoc(input_tokens=gen.usage.input_tokens, output_tokens=gen.usage.output_tokens),
        latency_ms=round(gen.latency_ms, 3),
        cost=gen.cost,
        cached=gen.cached,
        attempts=gen.attempts,
        scores={name: s.to_doc() for name, s in scores.items()},
        error=gen.error,
    )
