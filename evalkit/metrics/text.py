"""Text metrics: exact match, substrings, regular expressions, labels and length.

Arguments arrive rendered for the row, so a list written as a template may arrive as its string
form and a number as a string; `as_list` and `as_float` accept both. The helpers here are shared
by the other metric modules.
"""

from __future__ import annotations

import ast
import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.records import Score

P = ParamSpec("P")
R = TypeVar("R")

_SPACES = re.compile(r"\s+")
# Trailing decoration a model adds around a label: "Positive." / "**positive**" / "'neg'".
_LABEL_WRAPPERS = " \t\r\n\"'`*_"
_LABEL_TRAILING = ".!?,;:"


def requires_output(
    fn: Callable[Concatenate[ScoreContext, P], R],
) -> Callable[Concatenate[ScoreContext, P], R | Score]:
    """Unscored instead of a verdict when the call failed (else not_contains would pass)."""

    @functools.wraps(fn)
    def wrapper(ctx: ScoreContext, /, *args: P.args, **kwargs: P.kwargs) -> R | Score:
        if ctx.output is None:
            return Score(value=None, reason="no output to score")
        return fn(ctx, *args, **kwargs)

    return wrapper


def as_list(value: Any) -> list[str]:
    """A list of strings from a YAML list, one string, or a rendered list ("['a', 'b']")."""
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("[") and text.endswith("]"):
        try:  # literal_eval is safe: it only builds literals, it never calls anything
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
    return [text]


def as_float(value: Any, name: str) -> float | None:
    """A number from a YAML number or a rendered string; None stays None."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise SuiteError(f"'{name}' must be a number, got {value!r}") from None


def with_threshold(value: float, threshold: Any, **extra: Any) -> Score:
    """A Score whose `passed` is value >= threshold, or None when no threshold is set."""
    limit = as_float(threshold, "threshold")
    passed = None if limit is None else value >= limit
    return Score(value=value, passed=passed, meta=extra or None)


def normalise(
    text: str,
    *,
    ignore_case: bool = False,
    strip: bool = True,
    normalize_whitespace: bool = False,
    remove_punctuation: bool = False,
) -> str:
    """Apply the text options that the comparison metrics share."""
    if remove_punctuation:
        text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    if normalize_whitespace:
        text = _SPACES.sub(" ", text)
    if strip:
        text = text.strip()
    # casefold, not lower: "Straße" matches "STRASSE"
    return text.casefold() if ignore_case else text


@register_metric("equals", primary="value")
@requires_output
def equals(
    ctx: ScoreContext,
    value: Any,
    *,
    ignore_case: bool = False,
    strip: bool = True,
    normalize_whitespace: bool = False,
    remove_punctuation: bool = False,
) -> bool:
    """Output equals the value after stripping (options normalise case, spaces, punctuation).

    - equals: "{{ expected }}"
    """
    opts = {
        "ignore_case": ignore_case,
        "strip": strip,
        "normalize_whitespace": normalize_whitespace,
        "remove_punctuation": remove_punctuation,
    }
    return normalise(ctx.text, **opts) == normalise(str(value), **opts)


def _haystack(ctx: ScoreContext, ignore_case: bool, normalize_whitespace: bool) -> str:
    return normalise(
        ctx.text, ignore_case=ignore_case, strip=False, normalize_whitespace=normalize_whitespace
    )


def _needles(values: Any, ignore_case: bool, normalize_whitespace: bool) -> list[str]:
    return [
        normalise(
            v, ignore_case=ignore_case, strip=False, normalize_whitespace=normalize_whitespace
        )
        for v in as_list(values)
    ]


def _contains(text: str, value: Any, ignore_case: bool, normalize_whitespace: bool) -> bool:
    if not (ignore_case or normalize_whitespace):
        return str(value) in text  # the common case stays a single substring test
    opts = {
        "ignore_case": ignore_case,
        "strip": False,
        "normalize_whitespace": normalize_whitespace,
    }
    return normalise(str(value), **opts) in normalise(text, **opts)


@register_metric("contains", primary="value")
@requires_output
def contains(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> bool:
    """Output contains the value (options: ignore_case, normalize_whitespace).

    - contains: "{{ expected }}"
    """
    return _contains(ctx.text, value, ignore_case, normalize_whitespace)


@register_metric("icontains", primary="value")
@requires_output
def icontains(ctx: ScoreContext, value: Any, *, normalize_whitespace: bool = False) -> bool:
    """Output contains the value, ignoring case.

    - icontains: "{{ expected }}"
    """
    return _contains(ctx.text, value, True, normalize_whitespace)


@register_metric("contains_any", primary="values")
@requires_output
def contains_any(
    ctx: ScoreContext, values: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> Score:
    """Output contains at least one of the values; meta records which (option: ignore_case).

    - contains_any: ["refund", "money back"]
    """
    text = _haystack(ctx, ignore_case, normalize_whitespace)
    found = [v for v in _needles(values, ignore_case, normalize_whitespace) if v in text]
    if found:
        return Score(value=1.0, passed=True, meta={"found": found})
    return Score(value=0.0, passed=False, reason="none of the values found")


@register_metric("contains_all", primary="values")
@requires_output
def contains_all(
    ctx: ScoreContext, values: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> Score:
    """Output contains every one of the values; the reason lists those missing.

    - contains_all: ["{{ city }}", "{{ country }}"]
    """
    text = _haystack(ctx, ignore_case, normalize_whitespace)
    missing = [v for v in _needles(values, ignore_case, normalize_whitespace) if v not in text]
    if missing:
        return Score(value=0.0, passed=False, reason="missing: " + ", ".join(map(repr, missing)))
    return Score(value=1.0, passed=True)


@register_metric("not_contains", primary="value")
@requires_output
def not_contains(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> Score:
    """Output contains none of the value(s); the reason lists those found.

    - not_contains: ["As an AI", "I cannot"]
    """
    text = _haystack(ctx, ignore_case, normalize_whitespace)
    found = [v for v in _needles(value, ignore_case, normalize_whitespace) if v in text]
    if found:
        return Score(value=0.0, passed=False, reason="found: " + ", ".join(map(repr, found)))
    return Score(value=1.0, passed=True)


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile once per (pattern, flags); a bad pattern is a SuiteError (binding may pre-check)."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise SuiteError(
            f"invalid regular expression {pattern!r}: {exc}",
            hint="in YAML, single-quote patterns so backslashes stay as written: '\\d+'",
        ) from None


@register_metric("regex", primary="pattern")
@requires_output
def regex(
    ctx: ScoreContext,
    pattern: str,
    *,
    ignore_case: bool = False,
    multiline: bool = False,
    dotall: bool = False,
    full: bool = False,
) -> Score:
    """Output matches the regular expression (search; `full: true` matches the stripped output).

    - regex: '^\\d{4}-\\d{2}-\\d{2}$'
    """
    flags = (
        (re.IGNORECASE if ignore_case else 0)
        | (re.MULTILINE if multiline else 0)
        | (re.DOTALL if dotall else 0)
    )
    compiled = compile_pattern(str(pattern), flags)
    match = compiled.fullmatch(ctx.text.strip()) if full else compiled.search(ctx.text)
    if match is None:
        return Score(value=0.0, passed=False, reason=f"no match for {compiled.pattern!r}")
    meta: dict[str, Any] = {"match": match.group(0)[:200]}
    if match.groupdict():
        meta["groups"] = match.groupdict()
    return Score(value=1.0, passed=True, meta=meta)


@register_metric("starts_with", primary="value")
@requires_output
def starts_with(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, strip: bool = True
) -> bool:
    """Output starts with the value (leading whitespace ignored unless `strip: false`).

    - starts_with: "Dear customer"
    """
    text = normalise(ctx.text, ignore_case=ignore_case, strip=strip)
    return text.startswith(normalise(str(value), ignore_case=ignore_case, strip=strip))


@register_metric("ends_with", primary="value")
@requires_output
def ends_with(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, strip: bool = True
) -> bool:
    """Output ends with the value (trailing whitespace ignored unless `strip: false`).

    - ends_with: "Best regards"
    """
    text = normalise(ctx.text, ignore_case=ignore_case, strip=strip)
    return text.endswith(normalise(str(value), ignore_case=ignore_case, strip=strip))


def _clean_label(text: str, ignore_case: bool) -> str:
    text = text.strip(_LABEL_WRAPPERS).rstrip(_LABEL_TRAILING).strip(_LABEL_WRAPPERS)
    return text.casefold() if ignore_case else text


@register_metric("one_of", primary="labels")
@requires_output
def one_of(ctx: ScoreContext, labels: Any, *, ignore_case: bool = False) -> Score:
    """Output is exactly one of the labels, ignoring quotes, ** and trailing punctuation.

    - one_of: [positive, negative, neutral]
    """
    answer = _clean_label(ctx.text, ignore_case)
    for label in as_list(labels):
        if _clean_label(label, ignore_case) == answer:
            return Score(value=1.0, passed=True, meta={"label": label})
    shown = ctx.text.strip()[:80]
    return Score(value=0.0, passed=False, reason=f"{shown!r} is not one of {as_list(labels)}")


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
