"""Text metrics: exact match, substrings, regular expressions and labels.

Arguments arrive bound for the row with their types: `value: "{{ answer }}"` is the row's
value itself (a list, a number, a mapping), a longer template is its rendered text. Several
expected values (a list) mean "any of" for equals, contains and starts/ends_with. `as_text`
writes a non-string value as JSON would (true, 42, ["a"]), so YAML `true` matches "true".
The helpers here are shared by the other metric modules.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.patterns import compile_pattern
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


def as_text(value: Any) -> str:
    """A value as the text a model would write: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | dict | list) or value is None:
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)  # YAML dates and the like


def as_list(value: Any) -> list[str]:
    """The expected values as strings: a list (or tuple) item by item, anything else as one.

    A string is always one value, even "[1, 2]": a list reaches a metric as a list (a single
    `{{ column }}` keeps the row value's type), so text is never re-parsed as code.
    """
    if isinstance(value, list | tuple | set):
        return [as_text(v) for v in value]
    return [as_text(value)]


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
    json: bool = False,
) -> Score | bool:
    """Output equals the value, or any value of a list; a mapping (or `json: true`) compares JSON.

    - equals: "{{ expected }}"
    """
    if json or isinstance(value, dict):
        from evalkit.metrics.structured import json_equals

        return json_equals(ctx.text, value)
    opts = {
        "ignore_case": ignore_case,
        "strip": strip,
        "normalize_whitespace": normalize_whitespace,
        "remove_punctuation": remove_punctuation,
    }
    output = normalise(ctx.text, **opts)
    if not isinstance(value, list | tuple):
        return output == normalise(as_text(value), **opts)
    return _any_of(as_list(value), lambda v: normalise(v, **opts) == output)


# Every text contains "" and starts with it: a check that cannot fail is a data error (often
# an empty cell), so it is unscored with the reason, as promptfoo refuses it.
def _nothing_to_find() -> Score:
    return Score(value=None, reason="the expected value is empty: nothing to look for")


def _any_of(values: list[str], test: Callable[[str], bool]) -> Score:
    """Pass when one of several expected values passes `test`; meta says which one."""
    for candidate in values:
        if test(candidate):
            return Score(value=1.0, passed=True, meta={"matched": candidate})
    if not values:
        return Score(value=None, reason="an empty list of expected values")
    return Score(value=0.0, passed=False, reason=f"none of {values!r}"[:300])


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


def _contains(text: str, value: Any, ignore_case: bool, normalize_whitespace: bool) -> Score | bool:
    if isinstance(value, list | tuple):
        haystack = normalise(
            text, ignore_case=ignore_case, strip=False, normalize_whitespace=normalize_whitespace
        )
        return _any_of(
            as_list(value),
            lambda v: _needles(v, ignore_case, normalize_whitespace)[0] in haystack,
        )
    if value == "":
        return _nothing_to_find()
    if not (ignore_case or normalize_whitespace):
        return as_text(value) in text  # the common case stays a single substring test
    opts = {
        "ignore_case": ignore_case,
        "strip": False,
        "normalize_whitespace": normalize_whitespace,
    }
    return normalise(as_text(value), **opts) in normalise(text, **opts)


@register_metric("contains", primary="value")
@requires_output
def contains(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> Score | bool:
    """Output contains the value, or any value of a list (options: ignore_case, ...).

    - contains: "{{ expected }}"
    """
    return _contains(ctx.text, value, ignore_case, normalize_whitespace)


@register_metric("icontains", primary="value")
@requires_output
def icontains(ctx: ScoreContext, value: Any, *, normalize_whitespace: bool = False) -> Score | bool:
    """Output contains the value (or any value of a list), ignoring case (casefold).

    - icontains: "{{ expected }}"
    """
    return _contains(ctx.text, value, True, normalize_whitespace)


def _found(
    ctx: ScoreContext, values: Any, ignore_case: bool, normalize_whitespace: bool
) -> tuple[list[str], list[str]]:
    text = _haystack(ctx, ignore_case, normalize_whitespace)
    needles = _needles(values, ignore_case, normalize_whitespace)
    return [v for v in needles if v in text], [v for v in needles if v not in text]


def _any_found(found: list[str]) -> Score:
    if found:
        return Score(value=1.0, passed=True, meta={"found": found})
    return Score(value=0.0, passed=False, reason="none of the values found")


def _all_found(missing: list[str]) -> Score:
    if missing:
        return Score(value=0.0, passed=False, reason="missing: " + ", ".join(map(repr, missing)))
    return Score(value=1.0, passed=True)


@register_metric("contains_any", primary="values")
@requires_output
def contains_any(
    ctx: ScoreContext, values: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> Score:
    """Output contains at least one of the values; meta records which (option: ignore_case).

    - contains_any: ["refund", "money back"]
    """
    return _any_found(_found(ctx, values, ignore_case, normalize_whitespace)[0])


@register_metric("icontains_any", primary="values")
@requires_output
def icontains_any(ctx: ScoreContext, values: Any, *, normalize_whitespace: bool = False) -> Score:
    """Output contains at least one of the values, ignoring case (casefold).

    - icontains_any: ["refund", "money back"]
    """
    return _any_found(_found(ctx, values, True, normalize_whitespace)[0])


@register_metric("contains_all", primary="values")
@requires_output
def contains_all(
    ctx: ScoreContext, values: Any, *, ignore_case: bool = False, normalize_whitespace: bool = False
) -> Score:
    """Output contains every one of the values; the reason lists those missing.

    - contains_all: ["{{ city }}", "{{ country }}"]
    """
    return _all_found(_found(ctx, values, ignore_case, normalize_whitespace)[1])


@register_metric("icontains_all", primary="values")
@requires_output
def icontains_all(ctx: ScoreContext, values: Any, *, normalize_whitespace: bool = False) -> Score:
    """Output contains every one of the values, ignoring case (casefold).

    - icontains_all: ["{{ city }}", "{{ country }}"]
    """
    return _all_found(_found(ctx, values, True, normalize_whitespace)[1])


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
    ascii: bool = False,
) -> Score:
    """Output matches the regular expression (search; `full: true` matches the stripped output).

    `ascii: true` makes \\d, \\w and \\s ASCII-only, as in JavaScript (promptfoo's regex).

    - regex: '^\\d{4}-\\d{2}-\\d{2}$'
    """
    flags = (
        (re.IGNORECASE if ignore_case else 0)
        | (re.MULTILINE if multiline else 0)
        | (re.DOTALL if dotall else 0)
        | (re.ASCII if ascii else 0)
    )
    compiled = compile_pattern(str(pattern), flags)
    match = compiled.fullmatch(ctx.text.strip()) if full else compiled.search(ctx.text)
    if match is None:
        return Score(value=0.0, passed=False, reason=f"no match for {compiled.pattern!r}")
    meta: dict[str, Any] = {"match": match.group(0)[:200]}
    if match.groupdict():
        meta["groups"] = match.groupdict()
    return Score(value=1.0, passed=True, meta=meta)


def _affix(
    ctx: ScoreContext, value: Any, ignore_case: bool, strip: bool, test: Callable[[str, str], bool]
) -> Score | bool:
    text = normalise(ctx.text, ignore_case=ignore_case, strip=strip)
    if value == "":
        return _nothing_to_find()
    if not isinstance(value, list | tuple):
        return test(text, normalise(as_text(value), ignore_case=ignore_case, strip=strip))
    return _any_of(
        as_list(value), lambda v: test(text, normalise(v, ignore_case=ignore_case, strip=strip))
    )


@register_metric("starts_with", primary="value")
@requires_output
def starts_with(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, strip: bool = True
) -> Score | bool:
    """Output starts with the value, or any of a list (leading space ignored unless strip: false).

    - starts_with: "Dear customer"
    """
    return _affix(ctx, value, ignore_case, strip, str.startswith)


@register_metric("ends_with", primary="value")
@requires_output
def ends_with(
    ctx: ScoreContext, value: Any, *, ignore_case: bool = False, strip: bool = True
) -> Score | bool:
    """Output ends with the value, or any of a list (trailing space ignored unless strip: false).

    - ends_with: "Best regards"
    """
    return _affix(ctx, value, ignore_case, strip, str.endswith)


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
