"""Result records as a pandas DataFrame: one row per item, one column per score value/passed.

    frame = records_frame(result.records())
    frame.groupby("variant")["score_contains_value"].mean()

Column names have no dots (BI tools and the MLflow table view read dots as nesting).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from evalkit.results.schema import ResultRecord

if TYPE_CHECKING:
    import pandas as pd

_UNSAFE = re.compile(r"[^0-9A-Za-z_]+")


def column_name(name: str) -> str:
    """A metric or dataset column name as a column name: no dots, spaces or dashes
    ("rouge-l" -> "rouge_l"), so pandas attributes, BI tools and MLflow read it as one name."""
    return _UNSAFE.sub("_", name).strip("_") or "_"


def record_row(record: ResultRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": record.run_id,
        "example_id": record.example_id,
        "variant": record.variant,
        "model": record.model,
        "repeat": record.repeat,
        "output": record.output,
        "error": record.error,
        "latency_ms": record.latency_ms,
        "cost": record.cost,
        "cached": record.cached,
        "input_tokens": record.usage.input_tokens,
        "output_tokens": record.usage.output_tokens,
    }
    for name, score in record.scores.items():
        column = column_name(name)
        row[f"score_{column}_value"] = score.value
        row[f"score_{column}_passed"] = score.passed
        row[f"score_{column}_reason"] = score.reason
    return row


def records_frame(records: list[ResultRecord]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([record_row(r) for r in records])
