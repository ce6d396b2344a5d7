"""Output length checks: a word count, a character count, or both bounded at once (`length`).

Words are runs of non-whitespace (Unicode whitespace splits them); characters are Unicode
code points of the output as it is, not stripped, so an emoji counts once. These are
promptfoo's `word-count` and `character-count` semantics.
"""

from __future__ import annotations

from typing import Any

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_float, requires_output
from evalkit.records import Score


def _count_verdict(count: int, unit: str, exact: Any, low: Any, high: Any) -> Score:
    """Pass when `count` equals `exact`, or lies within [low, high] (either bound optional)."""
    want, lo, hi = as_float(exact, "count"), as_float(low, "min"), as_float(high, "max")
    if want is None and lo is None and hi is None:
        raise SuiteError(f"a {unit} count needs a number, or min and/or max")
    if lo is not None and hi is not None and lo > hi:
        raise SuiteError(f"min ({lo:g}) is greater than max ({hi:g})")
    meta = {unit: count}
    if want is not None and count != want:
        return Score(
            value=0.0, passed=False, reason=f"{count} {unit}, expected {want:g}", meta=meta
        )
    if lo is not None and count < lo:
        return Score(value=0.0, passed=False, reason=f"{count} {unit} < min {lo:g}", meta=meta)
    if hi is not None and count > hi:
        return Score(value=0.0, passed=False, reason=f"{count} {unit} > max {hi:g}", meta=meta)
    return Score(value=1.0, passed=True, meta=meta)


@register_metric("word_count", primary="count")
@requires_output
def word_count(ctx: ScoreContext, count: Any = None, *, min: Any = None, max: Any = None) -> Score:
    """Output has exactly `count` words, or between min and max (inclusive).

    - word_count: {min: 20, max: 50}
    """
    return _count_verdict(len(ctx.text.split()), "words", count, min, max)


@register_metric("character_count", primary="count")
@requires_output
def character_count(
    ctx: ScoreContext, count: Any = None, *, min: Any = None, max: Any = None
) -> Score:
    """Output has exactly `count` characters (code points, not stripped), or min..max.

    - character_count: {max: 280}
    """
    return _count_verdict(len(ctx.text), "chars", count, min, max)


def _length_violations(chars: int, words: int, bounds: dict[str, Any]) -> list[str]:
    counts = {"chars": chars, "words": words}
    problems = []
    for key, raw in bounds.items():
        limit = as_float(raw, key)
        if limit is None:
            continue
        kind, unit = key.split("_")
        count = counts[unit]
        if (kind == "min" and count < limit) or (kind == "max" and count > limit):
            sign = "<" if kind == "min" else ">"
            problems.append(f"{count} {unit} {sign} {key} {limit:g}")
    return problems


@register_metric("length")
@requires_output
def length(
    ctx: ScoreContext,
    *,
    min_chars: Any = None,
    max_chars: Any = None,
    min_words: Any = None,
    max_words: Any = None,
) -> Score:
    """Output length is within bounds (min_chars, max_chars, min_words, max_words).

    - length: {max_words: 50}
    """
    text = ctx.text.strip()
    chars, words = len(text), len(text.split())
    bounds = {
        "min_chars": min_chars,
        "max_chars": max_chars,
        "min_words": min_words,
        "max_words": max_words,
    }
    problems = _length_violations(chars, words, bounds)
    meta = {"chars": chars, "words": words}
    if problems:
        return Score(value=0.0, passed=False, reason="; ".join(problems), meta=meta)
    return Score(value=1.0, passed=True, meta=meta)
