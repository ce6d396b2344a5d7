"""`transform:` on any metric: reshape the output before it is scored, without code.

A transform is one step or a list of steps, applied in order; a string may chain named steps
with "|". Steps:

- a name: strip, lower, upper, casefold, first_line, last_line (the first/last non-empty line),
  collapse_whitespace, remove_punctuation, unfence (the content of a ``` code fence)
- a JSON path: "json:answer.items[0]" or "$.answer" (the output is parsed as JSON, fenced
  or in prose too); a value that is not a string becomes its JSON text
- {regex: PATTERN, group_select: 0, fallback: TEXT}: lm-eval's regex filter (the
  group_select-th match, its first non-empty group)
- {split: SEPARATOR, index: -1}: the piece of the output at `index`

    - {type: equals, value: "{{ label }}", transform: "json:$.label | lower"}
    - {type: equals, value: "{{ answer }}", transform: [{regex: '#### (\\-?[0-9.,]+)'}]}

A step that cannot apply (no JSON, no such field, no match without a fallback) fails the
metric on that item with the reason: the output lacked the shape the suite asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalkit.errors import SuiteError

Step = Callable[[str], str]


class TransformFailed(Exception):
    """The output does not have the shape a step needs; the message says why."""


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _last_line(text: str) -> str:
    return next((line for line in reversed(text.splitlines()) if line.strip()), "")


def _unfence(text: str) -> str:
    from evalkit.metrics.structured import ANY_FENCE

    found = ANY_FENCE.search(text)
    return found.group(1) if found else text


def _remove_punctuation(text: str) -> str:
    import unicodedata

    return "".join(c for c in text if not unicodedata.category(c).startswith("P"))


NAMED: dict[str, Step] = {
    "strip": str.strip,
    "lower": str.lower,
    "upper": str.upper,
    "casefold": str.casefold,
    "first_line": _first_line,
    "last_line": _last_line,
    "collapse_whitespace": lambda t: " ".join(t.split()),
    "remove_punctuation": _remove_punctuation,
    "unfence": _unfence,
}


def _json_step(path: str) -> Step:
    from evalkit.metrics.structured import load_json, lookup, parse_path, show

    steps = parse_path(path)

    def json_path(text: str) -> str:
        try:
            data, _ = load_json(text, extract=True)
        except ValueError as exc:
            raise TransformFailed(f"not valid JSON: {exc}") from None
        found, value = lookup(data, steps)
        if not found:
            raise TransformFailed(f"field '{path}' not found")
        return value if isinstance(value, str) else show(value)

    return json_path


def _regex_step(spec: dict[str, Any]) -> Step:
    from evalkit.metrics.matching import extract
    from evalkit.metrics.text import compile_pattern

    unknown = set(spec) - {"regex", "group_select", "fallback"}
    if unknown:
        raise SuiteError(f"a regex step takes group_select and fallback, not {sorted(unknown)}")
    pattern, group = str(spec["regex"]), int(spec.get("group_select", 0))
    compile_pattern(pattern)  # an invalid pattern fails now, not on every item
    fallback = spec.get("fallback")
    missing = "\x00no match\x00"

    def regex(text: str) -> str:
        result = extract(text, pattern, group, missing)
        if result == missing:
            if fallback is None:
                raise TransformFailed(f"no match for {pattern!r}")
            return str(fallback)
        return result

    return regex


def _split_step(spec: dict[str, Any]) -> Step:
    separator, index = str(spec["split"]), int(spec.get("index", -1))

    def split(text: str) -> str:
        pieces = text.split(separator)
        if not -len(pieces) <= index < len(pieces):
            raise TransformFailed(f"no piece {index} after splitting on {separator!r}")
        return pieces[index]

    return split


def _step(spec: Any) -> Step:
    if isinstance(spec, dict):
        if "regex" in spec:
            return _regex_step(spec)
        if "split" in spec:
            return _split_step(spec)
        if set(spec) == {"json"}:
            return _json_step(str(spec["json"]))
        raise SuiteError(
            f"unknown transform step {spec!r}",
            hint="a mapping step is {json: PATH}, {regex: PATTERN} or {split: SEPARATOR}",
        )
    text = str(spec).strip()
    if text.startswith("json:"):
        return _json_step(text[5:])
    if text.startswith("$"):
        return _json_step(text)
    if text in NAMED:
        return NAMED[text]
    from evalkit.errors import did_you_mean

    raise SuiteError(
        f"unknown transform step '{text}'",
        hint=did_you_mean(text, NAMED) or f"steps: {', '.join(NAMED)}, json:PATH, {{regex: ...}}",
    )


@dataclass(frozen=True, slots=True)
class Transform:
    spec: Any  # as written, recorded with the metric's arguments
    steps: tuple[Step, ...]

    def __call__(self, text: str) -> str:
        for step in self.steps:
            text = step(text)
        return text


def compile_transform(spec: Any) -> Transform:
    """Check and compile a `transform:` value once, when the suite is bound."""
    items = spec if isinstance(spec, list) else [spec]
    steps: list[Step] = []
    for item in items:
        if isinstance(item, str) and "|" in item and not item.strip().startswith("{"):
            steps.extend(_step(part) for part in item.split("|"))
        else:
            steps.append(_step(item))
    if not steps:
        raise SuiteError("an empty transform", hint="name a step, e.g. transform: strip")
    return Transform(spec=spec, steps=tuple(steps))
