"""Per-example results as a flat table (one row per item), for MLflow's table artifact view.

Columns: example_id, variant, model, repeat, output, one `score_<metric>` column per metric and
grader (plus `pass_<metric>` where it says pass or fail), `reason_<metric>` where there is one,
the dataset row (one `input_<field>` column per field), the full prompt sent (every message,
system included, as "[role] text" blocks), error, latency, tokens, cost, cached.

No column name holds a dot: MLflow's table view reads "score.contains" as a path into nested
data and shows the column empty. Secrets are scrubbed from every text cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from evalkit.results.redaction import Redactor
from evalkit.results.schema import ResultRecord

if TYPE_CHECKING:
    import pandas as pd

_NOT_PLAIN = re.compile(r"[^\w\-]+")


def column(prefix: str, name: str) -> str:
    """`score_rouge_l` for metric "rouge.l": a name the table view shows as a column."""
    return f"{prefix}_{_NOT_PLAIN.sub('_', name).strip('_') or 'value'}"


def result_row(record: ResultRecord, redactor: Redactor) -> dict[str, Any]:
    row: dict[str, Any] = {
        "example_id": record.example_id,
        "variant": record.variant,
        "model": record.model,
        "repeat": record.repeat,
        "output": _text(record.output, redactor),
    }
    # the scores next to the output, where the table opens; then why, then what was asked
    for name, score in record.scores.items():
        row[column("score", name)] = score.value
        if score.passed is not None:
            row[column("pass", name)] = score.passed
    for name, score in record.scores.items():
        if score.reason:
            row[column("reason", name)] = _text(score.reason, redactor)
    for name, value in (record.inputs or {}).items():
        if value != record.example_id:  # the id column again
            row[column("input", str(name))] = _text(value, redactor)
    row["prompt"] = _text(prompt_text(record.messages), redactor)
    row.update(
        error=_text(record.error, redactor),
        latency_ms=record.latency_ms,
        input_tokens=record.usage.input_tokens,
        output_tokens=record.usage.output_tokens,
        cost=record.cost,
        cached=record.cached,
    )
    return row


def result_rows(records: Iterable[ResultRecord], redactor: Redactor) -> list[dict[str, Any]]:
    return [result_row(r, redactor) for r in records]


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as one frame; a column a row lacks (a metric an errored item never got) is empty."""
    import pandas as pd

    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pd.DataFrame(rows, columns=list(columns))


def prompt_text(messages: list[dict[str, Any]] | None) -> str | None:
    """Every message, so two variants that differ only in the system prompt differ here too."""
    if not messages:
        return None
    return "\n\n".join(f"[{m.get('role', 'user')}] {_content(m)}" for m in messages)


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def last_user_message(messages: list[dict[str, Any]] | None) -> str | None:
    for message in reversed(messages or []):
        if message.get("role") == "user":
            return _content(message)
    return None


def _text(value: Any, redactor: Redactor) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return redactor.text(text)
