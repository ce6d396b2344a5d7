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
