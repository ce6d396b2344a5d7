"""Per-example results as a flat table (one row per item), for MLflow's table artifact view.

Columns: example_id, variant, model, repeat, the dataset row (one `input.<field>` column per
field, so the UI can show and filter them), the prompt sent (last user message), output, one
`score.<metric>` column per metric (plus `passed.<metric>` / `reason.<metric>` where metrics say
so), error, latency, tokens, cost, cached. Secrets are scrubbed from every text cell.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from evalkit.results.redaction import Redactor

if TYPE_CHECKING:
    import pandas as pd


def result_rows(records: list[dict[str, Any]], redactor: Redactor) -> list[dict[str, Any]]:
    input_fields = _ordered_keys(r.get("inputs") or {} for r in records)
    metric_names = _ordered_keys(r.get("scores") or {} for r in records)
    return [_row(r, input_fields, metric_names, redactor) for r in records]


def results_frame(records: list[dict[str, Any]], redactor: Redactor) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(result_rows(records, redactor))


def _ordered_keys(mappings: Any) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def _row(
    record: dict[str, Any], inputs: list[str], metrics: list[str], redactor: Redactor
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "example_id": record["example_id"],
        "variant": record["variant"],
        "model": record["model"],
        "repeat": record.get("repeat", 0),
    }
    values = record.get("inputs") or {}
    for name in inputs:
        row[f"input.{name}"] = _text(values.get(name), redactor)
    row["prompt"] = _text(last_user_message(record.get("messages")), redactor)
    row["output"] = _text(record.get("output"), redactor)
    scores = record.get("scores") or {}
    for name in metrics:
        score = scores.get(name) or {}
        row[f"score.{name}"] = score.get("value")
        if score.get("passed") is not None:
            row[f"passed.{name}"] = score["passed"]
        if score.get("reason"):
            row[f"reason.{name}"] = _text(score["reason"], redactor)
    usage = record.get("usage") or {}
    row.update(
        error=_text(record.get("error"), redactor),
        latency_ms=record.get("latency_ms"),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cost=record.get("cost"),
        cached=bool(record.get("cached")),
    )
    return row


def last_user_message(messages: list[dict[str, str]] | None) -> str | None:
    for message in reversed(messages or []):
        if message.get("role") == "user":
            return message.get("content")
    return None


def _text(value: Any, redactor: Redactor) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return redactor.text(text)
