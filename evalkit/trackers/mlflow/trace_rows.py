"""Traces straight into a SQL tracking store: one transaction per batch of hundreds of traces.

MLflow's own writers are made for one trace at a time: `start_trace` is two transactions per
trace, `log_spans` merges each tag and flushes each new trace row (about 17 ms per trace here,
so 4,000 items took over a minute), `create_assessment` is a transaction per score. This
writes the rows those calls would write (what `start_trace` then `log_spans` leave for a
finished single-span trace), as a few bulk INSERTs:

- trace_info: timestamp, duration (the item's latency), state, the Request and Response
  previews, the trace name, token counts;
- trace_tags: evalkit's tags, the trace's artifact location and `spansLocation =
  TRACKING_STORE` (its spans are rows of this database, as `log_spans` marks them);
- trace_request_metadata: the source run (the child run's Traces tab), the schema version, and
  the "finalized" marker `start_trace` sets;
- spans: the root span, its content serialised by MLflow's own `translate_span_when_storing`;
- assessments: MLflow's own `SqlAssessments.from_mlflow_entity`, as `create_assessment` does.

The row classes come from the installed MLflow, so a column it adds with a default is filled
by the database; anything else that changed makes the batch fail, and trace_sinks.py then
writes it (and the rest of the run) through MLflow's API instead. Tests read every field back
through `MlflowClient` and the UI in a browser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evalkit.trackers.mlflow.traces import TraceParts


def insert_traces(
    store: Any, experiment_id: str, batch: Sequence[TraceParts], spans: list[Any]
) -> None:
    """Insert `batch` (with its mlflow Span entities, in the same order) in one transaction."""
    from mlflow.store.tracking.dbmodels.models import (
        SqlAssessments,
        SqlSpan,
        SqlTraceInfo,
        SqlTraceMetadata,
        SqlTraceTag,
    )
    from mlflow.tracing.constant import (
        TRACE_SCHEMA_VERSION,
        TRACE_SCHEMA_VERSION_KEY,
        SpansLocation,
        TraceMetadataKey,
        TraceTagKey,
    )
    from sqlalchemy import insert

    from evalkit.trackers.mlflow.trace_sinks import entity

    experiment = store.get_experiment(experiment_id)
    infos, tags, metadata, span_rows, assessments = [], [], [], [], []
    for parts, span in zip(batch, spans, strict=True):
        infos.append(_info(parts, experiment_id))
        location = store._get_trace_artifact_location_tag(experiment, parts.trace_id)
        trace_tags = {
            **{k: v for k, v in parts.tags.items() if k != "mlflow.traceName"},
            location.key: location.value,
            TraceTagKey.SPANS_LOCATION: SpansLocation.TRACKING_STORE.value,
        }
        tags += [
            {"request_id": parts.trace_id, "key": k, "value": v} for k, v in trace_tags.items()
        ]
        trace_metadata = {
            **parts.metadata,
            TRACE_SCHEMA_VERSION_KEY: str(TRACE_SCHEMA_VERSION),
            TraceMetadataKey.TRACE_INFO_FINALIZED: "true",
        }
        metadata += [
            {"request_id": parts.trace_id, "key": k, "value": v} for k, v in trace_metadata.items()
        ]
        span_rows.append(_span_row(parts, span, experiment_id))
        for item in parts.feedback:
            row = SqlAssessments.from_mlflow_entity(entity(item, parts))
            row.experiment_id = int(experiment_id)
            row.trace_timestamp_ms = parts.start_ns // 1_000_000
            assessments.append(row)
    with store.ManagedSessionMaker(read_only=False) as session:
        session.execute(insert(SqlTraceInfo), infos)
        session.execute(insert(SqlTraceTag), tags)
        session.execute(insert(SqlTraceMetadata), metadata)
        session.execute(insert(SqlSpan), span_rows)
        session.add_all(assessments)


def _info(parts: TraceParts, experiment_id: str) -> dict[str, Any]:
    usage = parts.attributes.get("mlflow.chat.tokenUsage") or {}
    return {
        "request_id": parts.trace_id,
        "experiment_id": int(experiment_id),
        "timestamp_ms": parts.start_ns // 1_000_000,
        "execution_time_ms": (parts.end_ns - parts.start_ns) // 1_000_000,
        "status": "OK" if parts.ok else "ERROR",
        "client_request_id": None,
        "request_preview": parts.preview,
        "response_preview": (parts.response or "")[:1000],
        "trace_name": parts.tags.get("mlflow.traceName"),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "total_tokens": usage.get("total_tokens"),
        "db_payload_generation": 1,  # log_spans' mark of a trace whose spans are DB rows
    }


def _span_row(parts: TraceParts, span: Any, experiment_id: str) -> dict[str, Any]:
    from mlflow.tracing.otel.translation import translate_span_when_storing
    from mlflow.tracing.utils import TraceJSONEncoder

    content = json.dumps(
        translate_span_when_storing(span), cls=TraceJSONEncoder, ensure_ascii=False
    )
    return {
        "trace_id": parts.trace_id,
        "experiment_id": int(experiment_id),
        "span_id": span.span_id,
        "parent_span_id": None,
        "name": span.name,
        "type": span.span_type,
        "status": getattr(span.status.status_code, "value", span.status.status_code),
        "start_time_unix_nano": span.start_time_ns,
        "end_time_unix_nano": span.end_time_ns,
        "content": content,
        "model_name": parts.attributes.get("mlflow.llm.model"),
    }
