"""Write traces to MLflow in bulk: thousands of items in seconds, not requests per assessment.

MLflow's trace API is made for one trace at a time: `create_assessment` is a transaction (or
an HTTP request) per score, `start_trace` two transactions per trace, and `log_spans`, though
batched, merges and flushes row by row (about 17 ms per trace on a 2-core machine). So:

- a SQL store (the default local SQLite file, or a database URI): the rows those calls would
  write, inserted in one transaction per batch (trace_rows.py); if that fails (a schema this
  evalkit does not know), the batch and the rest of the run go through the API below;
- a tracking server: one `start_trace` per trace carrying its tags, metadata, previews and
  every assessment (one request per trace, not one per score), from a few threads, then the
  spans in one `log_spans` request per batch. A server writes each trace as its own
  transaction: expect tens of traces a second, not thousands (`tracking.traces` caps them).

A batch that fails raises: the caller warns and `evalkit log` repeats it later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from evalkit.trackers.mlflow.traces import Feedback, TraceParts, span_dict

if TYPE_CHECKING:
    from mlflow import MlflowClient

SPAN_BATCH = 500  # traces per log_spans call
REST_THREADS = 8


def write_traces(
    client: MlflowClient, experiment_id: str, batch: Sequence[TraceParts], *, sql: bool
) -> bool:
    """Write `batch`; `sql`: straight into the store's tables (trace_rows.py). Returns whether
    that still works: a schema this evalkit does not know makes it write through MLflow's API
    from then on (slower, same result)."""
    store = client._tracking_client.store  # spans and bulk rows have no public client method
    sql_store = sql
    for start in range(0, len(batch), SPAN_BATCH):
        part = batch[start : start + SPAN_BATCH]
        if sql and not _rollups():
            try:
                from evalkit.trackers.mlflow.trace_rows import insert_traces

                insert_traces(store, experiment_id, part, _spans(part))
                continue
            except Exception as exc:
                logging.getLogger(__name__).warning(
                    "bulk trace rows failed (%s); using the API", exc
                )
                sql = False
        # threads only help a server: a local database takes one writer at a time
        _rest_batch(store, experiment_id, part, threads=1 if sql_store else REST_THREADS)
    return sql


def _rollups() -> bool:
    """Opt-in SQL trace rollups need MLflow's own per-trace bookkeeping: use its API."""
    try:
        from mlflow.store.tracking.utils.sql_trace_rollups import rollups_enabled
    except ImportError:
        return False
    return bool(rollups_enabled())


def _spans(batch: Sequence[TraceParts]) -> list[Any]:
    from mlflow.entities import Span

    return [Span.from_dict(span_dict(parts)) for parts in batch]


def _rest_batch(store: Any, experiment_id: str, batch: Sequence[TraceParts], threads: int) -> None:
    from mlflow.entities import TraceInfo, TraceLocation, TraceState

    def start(parts: TraceParts) -> None:
        info = TraceInfo(
            trace_id=parts.trace_id,
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=parts.start_ns // 1_000_000,
            state=TraceState.OK if parts.ok else TraceState.ERROR,
            request_preview=parts.preview,
            response_preview=(parts.response or "")[:1000],
            execution_duration=(parts.end_ns - parts.start_ns) // 1_000_000,
            trace_metadata=dict(parts.metadata),
            tags=dict(parts.tags),
            assessments=[entity(item, parts) for item in parts.feedback],
        )
        store.start_trace(info)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(start, batch))
    store.log_spans(experiment_id, _spans(batch))


def entity(item: Feedback, parts: TraceParts) -> Any:
    """A score as mlflow's Feedback entity, on the trace's root span."""
    from mlflow.entities import AssessmentError, AssessmentSource
    from mlflow.entities import Feedback as MlflowFeedback

    error = None
    if item.error is not None:
        error = AssessmentError(error_code="UNSCORED", error_message=item.error)
    return MlflowFeedback(
        name=item.name,
        value=item.value,
        error=error,
        rationale=item.rationale,
        source=AssessmentSource(source_type=item.source_type, source_id=item.source_id),
        trace_id=parts.trace_id,
        span_id=parts.span_id,
        metadata=dict(item.metadata),
    )


def delete_traces(client: MlflowClient, experiment_id: str, trace_ids: Sequence[str]) -> None:
    for start in range(0, len(trace_ids), 100):
        client.delete_traces(experiment_id, trace_ids=list(trace_ids[start : start + 100]))


def run_trace_ids(client: MlflowClient, experiment_id: str, run_id: str) -> list[str]:
    """The traces an earlier logging of this evalkit run left (before logging it anew)."""
    from evalkit.trackers.mlflow.rundata import TAG_PREFIX

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
            return trace_ids
