"""One trace per item (example x variant x model x repeat), shaped for MLflow's GenAI views.

Pure (no mlflow): `trace_parts(record, ...)` gives what the writers in trace_sinks.py send.

- the trace's request is the rendered messages (system prompt included) as the root span's
  inputs, its response the output; the span lasts the item's own latency;
- the Request column (`request_preview`) names the example, not the prompt: the traces
  "compare to" view pairs rows by it, so the same example pairs up across variants whose
  prompts differ and across runs ("q4 · question: Opposite of hot?", plus the repeat when
  there are several);
- one assessment per metric and grader: the value (pass/fail for pass/fail scores), the
  reason, and for graders the judge as source; an unscored item says why;
- tags for the run, example, variant, model and repeat (filters in the UI), and the item's
  child run as `mlflow.sourceRun` so the child run's Traces tab lists it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from evalkit.results.redaction import Redactor
from evalkit.results.schema import ResultRecord, ScoreDoc
from evalkit.trackers.mlflow.rundata import TAG_PREFIX

PREVIEW_CHARS = 1000  # MLflow's request_preview column
SOURCE_RUN = "mlflow.sourceRun"
ASSESSMENT_RUN = "mlflow.assessment.sourceRunId"


@dataclass
class Feedback:
    """One metric's or grader's assessment of one item (what mlflow.entities.Feedback gets)."""

    name: str
    value: float | bool | None
    rationale: str | None
    source_type: str  # CODE (a metric) or LLM_JUDGE (a grader)
    source_id: str
    error: str | None = None  # unscored: why
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class TraceParts:
    trace_id: str  # "tr-<32 hex>"
    span_id: str  # 16 hex
    start_ns: int
    end_ns: int
    ok: bool
    name: str  # the root span: the model id
    preview: str  # the Request column: the example
    response: str | None
    inputs: dict[str, Any]  # {"messages": [...]}
    attributes: dict[str, Any]
    tags: dict[str, str]
    metadata: dict[str, str]
    feedback: list[Feedback]
    error: str = ""


def trace_id_for(run_id: str, key: str) -> str:
    """A stable id per run and item: logging the same item again targets the same trace."""
    return "tr-" + hashlib.sha256(f"{run_id}\x00{key}".encode()).hexdigest()[:32]


def trace_parts(
    record: ResultRecord,
    *,
    source_run: str,
    start_ms: int,
    redactor: Redactor,
    repeats: int = 1,
) -> TraceParts:
    """The trace of one item; `start_ms`: when it started (epoch ms; the span lasts latency)."""
    trace_id = trace_id_for(record.run_id, record.key)
    start_ns = start_ms * 1_000_000
    duration_ns = max(int(record.latency_ms * 1_000_000), 0)
    output = None if record.error else redactor.text(record.output or "")
    tags = trace_tags(record)
    usage = record.usage
    attributes: dict[str, Any] = {
        "mlflow.spanType": "CHAT_MODEL",
        "mlflow.spanOutputs": output,
        "mlflow.llm.model": record.model,
        "mlflow.chat.tokenUsage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    }
    return TraceParts(
        trace_id=trace_id,
        span_id=trace_id[3:19],
        start_ns=start_ns,
        end_ns=start_ns + duration_ns,
        ok=record.error is None,
        name=record.model,
        preview=request_preview(record, redactor, repeats),
        response=output if output is not None else redactor.text(record.error or ""),
        inputs={"messages": redactor.value(record.messages or [])},
        attributes=attributes,
        tags=tags,
        metadata={SOURCE_RUN: source_run},
        feedback=[feedback(n, s, source_run) for n, s in record.scores.items()],
        error=redactor.text(record.error or ""),
    )


def trace_tags(record: ResultRecord) -> dict[str, str]:
    tags = {
        "mlflow.traceName": record.example_id,
        f"{TAG_PREFIX}run_id": record.run_id,
        f"{TAG_PREFIX}example_id": record.example_id,
        f"{TAG_PREFIX}variant": record.variant,
        f"{TAG_PREFIX}model": record.model,
        f"{TAG_PREFIX}repeat": str(record.repeat),
    }
    if record.cached:
        tags[f"{TAG_PREFIX}cached"] = "true"
    return tags


def request_preview(record: ResultRecord, redactor: Redactor, repeats: int = 1) -> str:
    """The example, as the compare view's pairing key: its id and its dataset fields."""
    fields = " · ".join(
        f"{name}: {_short(value)}"
        for name, value in (record.inputs or {}).items()
        if str(value) != record.example_id
    )
    text = f"{record.example_id} · {fields}" if fields else record.example_id
    if repeats > 1:
        text = f"{text} · repeat {record.repeat}"
    text = redactor.text(text)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return " ".join(text.split())


def feedback(name: str, score: ScoreDoc, source_run: str) -> Feedback:
    """A metric's score as MLflow feedback; a pass/fail score is a boolean (the UI shows a pass
    rate), anything else its value, with the pass/fail verdict kept in the metadata."""
    judge = _judge(score)
    metadata = {ASSESSMENT_RUN: source_run}
    if score.passed is not None:
        metadata["evalkit.passed"] = "true" if score.passed else "false"
    if score.skipped:
        metadata["evalkit.skipped"] = "true"
    value: float | bool | None = score.value
    if is_pass_fail(score):
        value = score.passed
    return Feedback(
        name=name,
        value=value,
        rationale=score.reason,
        source_type="LLM_JUDGE" if judge else "CODE",
        source_id=judge or f"evalkit:{name}",
        error=None if value is not None else (score.reason or "unscored"),
        metadata=metadata,
    )


def is_pass_fail(score: ScoreDoc) -> bool:
    return (
        score.passed is not None
        and score.value is not None
        and float(score.value) == float(score.passed)
    )


def _judge(score: ScoreDoc) -> str | None:
    judge = (score.meta or {}).get("judge")
    if isinstance(judge, list):
        return ",".join(str(j) for j in judge)
    return str(judge) if judge else None


def span_dict(parts: TraceParts) -> dict[str, Any]:
    """The root span in MLflow's serialised (v3) form: attribute values are JSON strings."""
    import base64

    attrs = {
        "mlflow.traceRequestId": parts.trace_id,
        "mlflow.spanInputs": parts.inputs,
        **parts.attributes,
    }
    raw_trace = bytes.fromhex(parts.trace_id[3:])
    return {
        "trace_id": base64.b64encode(raw_trace).decode("ascii"),
        "span_id": base64.b64encode(bytes.fromhex(parts.span_id)).decode("ascii"),
        "parent_span_id": None,
        "name": parts.name,
        "start_time_unix_nano": parts.start_ns,
        "end_time_unix_nano": parts.end_ns,
        "events": [],
        "status": {
            "code": "STATUS_CODE_OK" if parts.ok else "STATUS_CODE_ERROR",
            "message": parts.error,
        },
        "attributes": {k: json.dumps(v, ensure_ascii=False, default=str) for k, v in attrs.items()},
    }


def traced(record: ResultRecord, cap: int | None, total: int, logged: int) -> bool:
    """Whether an item gets a trace: every one, or with a cap at most `cap` of them, chosen by
    example id so two runs of the same dataset trace (nearly) the same examples and pair up."""
    if cap is None:
        return True
    if cap <= 0 or logged >= cap:
        return False
    if total <= cap:
        return True
    # a share of the examples by a hash of the id (the same ones run after run, all of an
    # example's items), a little under cap/total so that the hard stop at `cap`, which depends
    # on the order items finish in, seldom decides much
    digest = hashlib.sha256(record.example_id.encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 0x1_0000_0000 < 0.9 * cap / total
