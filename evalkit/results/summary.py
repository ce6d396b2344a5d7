"""Aggregate result records into the run summary: one cell per variant x model.

Each metric or grader becomes a mean (or pass rate) with a 95% confidence interval and n; the
cell also carries errors, cache hits, latency percentiles, tokens and cost. Unscored items are
counted, never folded into the mean.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from evalkit.stats.intervals import summarize

CONFIDENCE = 0.95


def aggregate(
    records: list[dict[str, Any]], variants: list[str], models: list[str]
) -> list[dict[str, Any]]:
    """Cells in suite order (variants, then models), only those that have records."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["variant"], record["model"])].append(record)
    cells = []
    for variant in variants:
        for model in models:
            group = groups.get((variant, model))
            if group:
                cells.append(_cell(variant, model, group))
    return cells


def _cell(variant: str, model: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r.get("error") is None]
    latencies = np.array([r["latency_ms"] for r in ok if not r.get("cached")], dtype=float)
    costs = [r["cost"] for r in records if r.get("cost") is not None]
    return {
        "variant": variant,
        "model": model,
        "items": len(records),
        "errors": len(records) - len(ok),
        "cached": sum(1 for r in records if r.get("cached")),
        "latency_ms": _latency(latencies),
        "tokens": _tokens(ok),
        "cost": {"total": float(sum(costs)), "per_item": float(np.mean(costs))} if costs else None,
        "metrics": _metrics(ok),
    }


def _latency(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:  # all served from cache: no fresh latency to report
        return {"mean": None, "p50": None, "p95": None}
    return {
        "mean": float(values.mean()),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
    }


def _tokens(records: list[dict[str, Any]]) -> dict[str, float]:
    inputs = [r["usage"]["input_tokens"] for r in records]
    outputs = [r["usage"]["output_tokens"] for r in records]
    n = max(len(records), 1)
    return {
        "input": float(sum(inputs)),
        "output": float(sum(outputs)),
        "mean_input": sum(inputs) / n,
        "mean_output": sum(outputs) / n,
    }


def _metrics(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record["scores"]))
    return {
        name: metric_stats([(r["example_id"], r["scores"].get(name)) for r in records])
        for name in names
    }


def metric_stats(scores: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """Mean or pass rate with its CI over scored items; skipped and unscored items are counted.

    With repeats, an example's repeats are averaged first: they are correlated, and counting
    them as separate examples would make the interval too narrow.
    """
    present = [(eid, s) for eid, s in scores if s is not None and not s.get("skipped")]
    scored = [s for _, s in present if s["value"] is not None]
    is_pass_fail = bool(scored) and all(
        s.get("passed") is not None and float(s["value"]) == float(s["passed"]) for s in scored
    )
    kind = "pass_rate" if is_pass_fail else "mean"
    stats = summarize(_per_example(present), kind=kind, confidence=CONFIDENCE)
    stats["kind"] = kind
    stats["n_items"] = len(scored)
    stats["n_unscored"] = len(present) - len(scored)
    stats["skipped"] = len(scores) - len(present)
    if scored and all(0.0 <= float(s["value"]) <= 1.0 for s in scored):
        _clip_unit(stats)  # a t interval can overshoot a bounded score's range
    judged = [s["passed"] for s in scored if s.get("passed") is not None]
    if kind == "mean" and judged:
        stats["pass_rate"] = sum(judged) / len(judged)
    return stats


def _per_example(present: list[tuple[str, dict[str, Any]]]) -> list[float]:
    by_example: dict[str, list[float]] = defaultdict(list)
    for example_id, score in present:
        if score["value"] is not None:
            by_example[example_id].append(float(score["value"]))
    return [sum(v) / len(v) for v in by_example.values()]


def _clip_unit(stats: dict[str, Any]) -> None:
    for key in ("ci_low", "ci_high"):
        value = stats.get(key)
        if value is not None and not np.isnan(value):
            stats[key] = min(max(value, 0.0), 1.0)
