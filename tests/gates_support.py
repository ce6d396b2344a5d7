"""Synthetic result records for gate tests (the shape of evalkit.records.result_record)."""

from __future__ import annotations

from typing import Any

from evalkit.results.schema import ResultRecord


def rec(
    example_id: str,
    scores: dict[str, Any] | None = None,
    *,
    variant: str = "v",
    model: str = "m",
    repeat: int = 0,
    error: str | None = None,
    latency_ms: float = 10.0,
    cost: float | None = None,
    inputs: dict[str, Any] | None = None,
    output: str | None = "out",
    run_id: str = "current",
) -> ResultRecord:
    """One record. A score given as a bool or 0/1 int is pass/fail; a float is a plain value;
    None is unscored; a dict is used as is."""
    return ResultRecord.model_validate(
        {
            "run_id": run_id,
            "key": f"{example_id}|{variant}|{model}|{repeat}",
            "example_id": example_id,
            "variant": variant,
            "model": model,
            "repeat": repeat,
            "inputs": inputs if inputs is not None else {"id": example_id},
            "output": None if error else output,
            "usage": {"input_tokens": 3, "output_tokens": 2},
            "latency_ms": latency_ms,
            "cost": cost,
            "cached": False,
            "scores": {} if error else {k: _score(v) for k, v in (scores or {}).items()},
            "error": error,
        }
    )


def _score(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if value is None:
        return {"value": None, "passed": None, "reason": "judge reply not parsed"}
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return {"value": float(value), "passed": bool(value)}
    return {"value": float(value), "passed": None}


def pass_fail(outcomes: dict[str, bool], metric: str = "ok", **kw: Any) -> list[ResultRecord]:
    """One pass/fail record per example: {"e1": True, ...}."""
    return [rec(i, {metric: passed}, **kw) for i, passed in outcomes.items()]


def flips(n: int, passing: int, prefix: str = "e") -> dict[str, bool]:
    """n examples, the first `passing` pass."""
    return {f"{prefix}{i:03d}": i < passing for i in range(n)}
