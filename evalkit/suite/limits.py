"""The limits that keep hostile or broken input from hanging evalkit or exhausting memory.

Every file a suite names is read through these bounds before anything is built from it; each
limit is far above what a real suite needs (documented in docs/safety.md). A value shown in an
error message is shortened with `short()`, so a multi-megabyte value is never echoed in full.

    if len(text) > LIMITS.yaml_chars: ...
    f"unknown key '{short(key)}'"
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field


@dataclass(frozen=True)
class Limits:
    yaml_chars: int = 4_000_000  # a suite or a YAML prompt file (rows belong in a dataset)
    depth: int = 64  # nesting of a YAML document or a dataset row, aliases expanded
    nodes: int = 200_000  # YAML nodes as composed, every alias counted as its whole target
    string_chars: int = 1_000_000  # one YAML scalar
    expanded_chars: int = 8_000_000  # all scalar text of a document, aliases expanded
    concurrency: int = 1024  # workers of one run (the engine never starts more than items)
    repeats: int = 1000  # repeats of every item
    max_tokens: int = 1_000_000  # a model's output token limit (params.max_tokens, ...)
    timeout_s: float = 86_400.0  # one call: a day


LIMITS = Limits()

_SHORT = 80


def short(value: Any, limit: int = _SHORT) -> str:
    """`str(value)`, cut in the middle beyond `limit` characters, with its length noted."""
    text = str(value)
    if len(text) <= limit:
        return text
    half = max(8, (limit - 20) // 2)
    return f"{text[:half]}…({len(text):,} characters)…{text[-half:]}"


# Numbers in a suite: strict ints (`true` or `1.0e+12` are not a count) and finite floats.
Count = Annotated[int, Field(strict=True)]
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def first_non_finite(value: Any) -> str | None:
    """The path of the first NaN or infinity inside a JSON-like value, else None."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path or "the value"
        if isinstance(item, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
    return None


# Bounds on the model parameters that providers share (kind, lowest, highest); a provider
# checks which parameters it knows, these are the values no provider can use.
PARAM_BOUNDS: dict[str, tuple[type, float | None, float | None]] = {
    "temperature": (float, 0, 2),
    "top_p": (float, 0, 1),
    "top_k": (int, 0, 1_000_000),
    "max_tokens": (int, 1, LIMITS.max_tokens),
    "max_completion_tokens": (int, 1, LIMITS.max_tokens),
    "max_new_tokens": (int, 1, LIMITS.max_tokens),
    "max_output_tokens": (int, 1, LIMITS.max_tokens),
    "n": (int, 1, 128),
    "presence_penalty": (float, -2, 2),
    "frequency_penalty": (float, -2, 2),
    "top_logprobs": (int, 0, 20),
    "seed": (int, None, None),
}


def check_param(name: str, value: Any, kind: type, low: float | None, high: float | None) -> None:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int and not (numeric and isinstance(value, int)):
        raise ValueError(f"{name} must be a whole number, got {short(repr(value))}")
    if not numeric:
        raise ValueError(f"{name} must be a number, got {short(repr(value))}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{name} must be {span}, got {short(repr(value))}")


def finite(value: Any, what: str) -> Any:
    """NaN and infinity are no value evalkit can compare, hash or write as JSON."""
    where = first_non_finite(value)
    if where is not None:
        raise ValueError(f"{what}: {where} is NaN or infinite; write a finite number")
    return value
