"""Per-slice metrics of a cell's child run: `slice.<column>.<value>.<metric>` = the slice's mean.

No mlflow here. A slice value is dataset text ("Settings > Billing", "(missing)", a URL), and
MLflow accepts only letters, digits, `_ - . space : /` in a metric name and refuses names that
are not normalised paths ("a//b", "x/../y"), so each part is sanitised here, slashes included;
two values that sanitise alike get a short hash each, so neither overwrites the other. The
interval goes into a tag of the same name under `evalkit.ci.`, as the cell's own metrics do.

The summary already caps each column (evalkit.results.slices.MAX_SLICE_VALUES values); on top,
at most MAX_SLICE_METRICS are logged per child run (columns, values, then metrics, in summary
order), so a wide suite cannot flood the metric picker: beyond it the tag
`evalkit.slices_truncated` says how many were left out (summary.json has them all).
"""

from __future__ import annotations

import re

from evalkit.records import stable_hash
from evalkit.results.schema import CellSummary
from evalkit.results.slices import MISSING, OTHER
from evalkit.trackers.mlflow.rundata import TAG_PREFIX, interval_text, rounded

MAX_SLICE_METRICS = 100
MAX_PART = 60  # characters of one sanitised column, value or metric name
_BAD = re.compile(r"[^\w\- .:]+")  # no "/": a slash in a value would make a path of the name
_SPECIAL = {MISSING: "_missing", OTHER: "_other"}


def name_part(text: str) -> str:
    """One part of a metric name: MLflow's characters only, no slash, at most MAX_PART."""
    if text in _SPECIAL:
        return _SPECIAL[text]
    cleaned = _BAD.sub("_", text).strip(" .") or "_"
    return cleaned[:MAX_PART]


def slice_values(cell: CellSummary) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, tags) of the cell's slices, at most MAX_SLICE_METRICS metrics."""
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    total = 0
    for column in cell.slices:
        names = _value_names(column.column, [v.value for v in column.values])
        for value in column.values:
            for metric, stats in value.metrics.items():
                if stats.mean is None:
                    continue
                total += 1
                if len(metrics) >= MAX_SLICE_METRICS:
                    continue
                key = f"{names[value.value]}.{name_part(metric)}"
                metrics[key] = rounded(stats.mean)
                interval = interval_text(stats)
                if interval:
                    tags[f"{TAG_PREFIX}ci.{key}"] = interval
    if total > len(metrics):
        tags[f"{TAG_PREFIX}slices_truncated"] = (
            f"{len(metrics)} of {total} slice metrics logged; summary.json has all of them"
        )
    return metrics, tags


def _value_names(column: str, values: list[str]) -> dict[str, str]:
    """value -> "slice.<column>.<value>", unique even when two values sanitise alike."""
    parts = {v: name_part(v) for v in values}
    taken = list(parts.values())
    out = {}
    for value, part in parts.items():
        if taken.count(part) > 1:
            part = f"{part[: MAX_PART - 7]}-{stable_hash(value)[:6]}"
        out[value] = f"slice.{name_part(column)}.{part}"
    return out
