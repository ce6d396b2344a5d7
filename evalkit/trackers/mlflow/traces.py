"""Per-example traces with assessments, for MLflow 3's GenAI evaluation view.

Each traced item becomes a trace: a root span (inputs: the dataset row, outputs: the model's
answer) with one chat-model child span (the rendered messages, token usage), linked to the
child run of its variant x model, and one feedback assessment per metric (value, pass/fail,
reason). Two cells or two runs can then be compared example by example in the UI.

Cost: spans of all traces go up in one batched request per TRACE_BATCH traces, but MLflow has
no batch call for assessments (one request each, ~10-30 ms against a SQLite-backed server), so
only a fixed sample of examples is traced (`tracking.traces`, default 100 items); the table
artifact always holds every row. The sample is chosen by a hash of the example id, so two runs
of the same dataset trace the same examples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from evalkit.trackers.mlflow.rundata import TAG_PREFIX, RunData

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Span

TRACE_BATCH = 500  # traces per span upload
LINK_BATCH = 100  # MLflow's limit for link_traces_to_run
ASSESSMENT_THREADS = 8


def sample_records(records: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The records of the examples first in hash order, whole examples, at most `budget` items."""
    by_example: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_example[str(record["example_id"])].append(record)
    order = sorted(by_example, key=lambda e: hashlib.sha256(e.encode()).hexdigest())
    chosen: list[dict[str, Any]] = []
    for example_id in order:
        group = by_example[example_id]
        if len(chosen) + len(group) > budget:
            if not chosen:  # an example with more items than the budget: trace part of it
                chosen.extend(group[:budget])
            break
        chosen.extend(group)
    return chosen


def log_traces(
    client: MlflowClient,
    experiment_id: str,
    run: RunData,
    cell_runs: dict[tuple[str, str], str],
    budget: int,
    concurrent: bool,
) -> int:
    """Log traces for a sample of items; returns how many were logged."""
    records = [
        r for r in sample_records(run.records, budget) if (r["variant"], r["model"]) in cell_runs
    ]
    if not records:
        return 0
    built = [_build(run, record) for record in records]
    store = client._tracking_client.store  # the batched span upload has no public client method
    for start in range(0, len(built), TRACE_BATCH):
        spans = [span for trace in built[start : start + TRACE_BATCH] for span in trace["spans"]]
        store.log_spans(experiment_id, spans)
    _link(client, built, cell_runs)
    _assess(client, built, cell_runs, concurrent)
    return len(built)


def _link(
    client: MlflowClient, built: list[dict[str, Any]], cell_runs: dict[tuple[str, str], str]
) -> None:
    by_run: dict[str, list[str]] = defaultdict(list)
    for trace in built:
        by_run[cell_runs[trace["cell"]]].append(trace["trace_id"])
    for run_id, trace_ids in by_run.items():
        for start in range(0, len(trace_ids), LINK_BATCH):
            client.link_traces_to_run(trace_ids[start : start + LINK_BATCH], run_id)


def _assess(
    client: MlflowClient,
    built: list[dict[str, Any]],
    cell_runs: dict[tuple[str, str], str],
    concurrent: bool,
) -> None:
    from mlflow.entities import AssessmentError, AssessmentSource, Feedback

    store = client._tracking_client.store
    feedback = []
    for trace in built:
        source_run = cell_runs[trace["cell"]]
        for name, score in trace["scores"].items():
            value = score.get("passed") if _is_pass_fail(score) else score.get("value")
            feedback.append(
                Feedback(
                    name=name,
                    value=value,
                    error=None
                    if value is not None
                    else AssessmentError(error_code="UNSCORED", error_message=score.get("reason")),
                    rationale=score.get("reason"),
                    source=AssessmentSource(source_type="CODE", source_id=f"evalkit:{name}"),
                    trace_id=trace["trace_id"],
                    span_id=trace["root_span_id"],
                    metadata={"mlflow.assessment.sourceRunId": source_run},
                )
            )
    # SQLite in this process serialises writers: threads would only contend for its lock
    workers = ASSESSMENT_THREADS if concurrent else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(store.create_assessment, feedback))


def _is_pass_fail(score: dict[str, Any]) -> bool:
    value, passed = score.get("value"), score.get("passed")
    return passed is not None and value is not None and float(value) == float(passed)


def _build(run: RunData, record: dict[str, Any]) -> dict[str, Any]:
    trace_bytes, root_bytes, child_bytes = (secrets.token_bytes(n) for n in (16, 8, 8))
    trace_id = "tr-" + trace_bytes.hex()
    end = time.time_ns()
    start = end - int(float(record.get("latency_ms") or 0) * 1e6)
    status = "STATUS_CODE_ERROR" if record.get("error") else "STATUS_CODE_OK"
    output = run.redactor.value(record.get("output") if not record.get("error") else None)
    common = {"trace_id": trace_bytes, "trace_uri": trace_id, "start": start, "end": end}
    root_attrs = {
        "mlflow.spanType": "CHAIN",
        # the dataset row as the request: traces of one example pair up across runs and cells
        "mlflow.spanInputs": run.redactor.value(record.get("inputs") or {}),
        "mlflow.spanOutputs": output,
        **{f"mlflow.traceTag.{k}": v for k, v in _trace_tags(run, record).items()},
    }
    usage = record.get("usage") or {}
    child_attrs = {
        "mlflow.spanType": "CHAT_MODEL",
        "mlflow.spanInputs": {"messages": run.redactor.value(record.get("messages") or [])},
        "mlflow.spanOutputs": output,
        "mlflow.llm.model": record["model"],
        "mlflow.chat.tokenUsage": {
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "total_tokens": usage.get("input_tokens", 0) + usage.get("output_tokens", 0),
        },
    }
    error = run.redactor.text(str(record.get("error") or ""))
    root = _span(common, root_bytes, None, str(record["example_id"]), root_attrs, status, error)
    child = _span(common, child_bytes, root_bytes, record["model"], child_attrs, status, error)
    return {
        "trace_id": trace_id,
        "root_span_id": root_bytes.hex(),
        "cell": (record["variant"], record["model"]),
        "scores": record.get("scores") or {},
        "spans": [root, child],
    }


def _trace_tags(run: RunData, record: dict[str, Any]) -> dict[str, str]:
    return {
        "mlflow.traceName": str(record["example_id"]),
        f"{TAG_PREFIX}run_id": run.run_id,
        f"{TAG_PREFIX}example_id": str(record["example_id"]),
        f"{TAG_PREFIX}variant": record["variant"],
        f"{TAG_PREFIX}model": record["model"],
        f"{TAG_PREFIX}repeat": str(record.get("repeat", 0)),
    }


def _span(
    common: dict[str, Any],
    span_bytes: bytes,
    parent_bytes: bytes | None,
    name: str,
    attributes: dict[str, Any],
    status: str,
    message: str,
) -> Span:
    """A finished span in MLflow's serialised (v3) form: attribute values are JSON strings."""
    from mlflow.entities import Span

    attrs = {"mlflow.traceRequestId": common["trace_uri"], **attributes}
    return Span.from_dict(
        {
            "trace_id": _b64(common["trace_id"]),
            "span_id": _b64(span_bytes),
            "parent_span_id": _b64(parent_bytes) if parent_bytes else None,
            "name": name,
            "start_time_unix_nano": common["start"],
            "end_time_unix_nano": common["end"],
            "events": [],
            "status": {"code": status, "message": message},
            "attributes": {
                k: json.dumps(v, ensure_ascii=False, default=str) for k, v in attrs.items()
            },
        }
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def delete_run_traces(client: MlflowClient, experiment_id: str, run_id: str) -> int:
    """Remove the traces an earlier logging of this evalkit run left (before logging anew)."""
    trace_ids: list[str] = []
    token = None
    while True:
        page = client.search_traces(
            locations=[experiment_id],
            filter_string=f"tag.`{TAG_PREFIX}run_id` = '{run_id}'",
            max_results=500,
            page_token=token,
            include_spans=False,
        )
        trace_ids.extend(t.info.trace_id for t in page)
        token = page.token
        if not token:
            break
    for start in range(0, len(trace_ids), LINK_BATCH):
        client.delete_traces(experiment_id, trace_ids=trace_ids[start : start + LINK_BATCH])
    return len(trace_ids)
