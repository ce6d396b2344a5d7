"""Structured-output metrics: valid JSON, JSON Schema conformance, one field's value.

Models often wrap JSON in a ```json fence or a sentence of prose; with `extract: true` (the
default) the first JSON object or array is taken from the output, and meta says so. `is_json`
and `contains_json` are promptfoo's assertions (the whole output is JSON / some JSON object or
array in it passes the optional schema); JSON here is strict JSON (no NaN, no YAML).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_list, requires_output
from evalkit.records import Score
from evalkit.suite.limits import short

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n(.*?)```", re.DOTALL)
ANY_FENCE = re.compile(r"```[^\n`]*\r?\n(.*?)```", re.DOTALL)
_OPENER = re.compile(r"[{\[]")
# Each failed start costs a parse; a long output full of stray brackets must stay cheap.
_MAX_STARTS = 20
_REASON_CHARS = 300
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")


def _no_constants(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and JSON.parse) does not.
    raise ValueError(f"{name} is not valid JSON")


def strict_loads(text: str) -> Any:
    """json.loads without Python's NaN / Infinity extension."""
    return json.loads(text, parse_constant=_no_constants)


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def load_json(text: str, extract: bool = True) -> tuple[Any, bool]:
    """Parse `text` as JSON; with `extract`, fall back to a fenced block or the first {...}/[...].

    Returns (value, extracted). Raises ValueError with json's message when nothing parses.
    """
    try:
        return strict_loads(text), False
    except ValueError as exc:
        if not extract:
            raise
        error = exc
    for value in json_candidates(text):
        return value, True
    raise error


def json_candidates(text: str) -> Iterator[Any]:
    """Each JSON object or array in the text: fenced blocks first, then from each { or [."""
    for fenced in _FENCE.finditer(text):
        try:
            value = strict_loads(fenced.group(1))
        except ValueError:
            continue  # a broken fence may still hold a valid object further on
        yield value
    failures, skip_to = 0, 0
    for opener in _OPENER.finditer(text):
        if opener.start() < skip_to:
            continue  # inside a value found already
        try:
            value, skip_to = _DECODER.raw_decode(text, opener.start())
        except ValueError:
            failures += 1
            if failures >= _MAX_STARTS:
                return
            continue
        yield value


def _invalid_json(exc: ValueError) -> Score:
    return Score(value=0.0, passed=False, reason=f"not valid JSON: {exc}")


@register_metric("json_valid")
@requires_output
def json_valid(ctx: ScoreContext, *, extract: bool = True) -> Score:
    """Output is valid JSON (by default also inside a ```json fence or after prose).

    - json_valid
    """
    try:
        _, extracted = load_json(ctx.text, extract)
    except ValueError as exc:
        return _invalid_json(exc)
    return Score(value=1.0, passed=True, meta={"extracted": extracted})


@functools.lru_cache(maxsize=64)
def _validator_from_text(schema_text: str, where: str) -> Any:
    """Compile once per schema: a run validates tens of thousands of outputs against it."""
    import jsonschema
    import referencing.jsonschema

    try:
        schema = json.loads(schema_text)
    except (ValueError, RecursionError) as exc:
        raise SuiteError(f"the JSON Schema {where} is not valid JSON: {short(exc, 160)}") from None
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        # an empty registry: a $ref to a URL is refused, never fetched (validate stays offline)
        registry = referencing.jsonschema.EMPTY_REGISTRY
        validator = cls(schema, format_checker=cls.FORMAT_CHECKER, registry=registry)
        validator.is_valid(None)  # resolves the root's $refs now, not on every output
    except jsonschema.SchemaError as exc:
        raise SuiteError(
            f"invalid JSON Schema {where}: {short(exc.message, 200)}",
            hint=f"at {short(exc.json_path, 120)}; see https://json-schema.org/understanding-json-schema",
        ) from None
    except Exception as exc:  # a deep, self-referencing or unresolvable schema: one message
        raise SuiteError(
            f"the JSON Schema {where} cannot be used: {type(exc).__name__}: {short(exc, 160)}",
            hint="a schema is a JSON object whose $refs point inside it (URLs are not fetched)",
        ) from None
    return validator


@functools.lru_cache(maxsize=64)
def _validator_from_file(path: str) -> Any:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in a rendered path, bad UTF-8
        raise SuiteError(
            f"cannot read JSON Schema file '{short(path, 160)}':"
            f" {short(getattr(exc, 'strerror', None) or exc, 160)}",
            hint="a relative schema path is resolved against the suite's folder",
        ) from None
    return _validator_from_text(text, f"in {path}")


def schema_validator(schema: Any) -> Any:
    """The compiled validator for an inline schema (dict or JSON text) or a schema file path."""
    if isinstance(schema, dict):
        return _validator_from_text(json.dumps(schema, sort_keys=True), "(inline)")
    text = str(schema).strip()
    if text.startswith("{"):  # a schema rendered from a template arrives as JSON text
        return _validator_from_text(text, "(inline)")
    return _validator_from_file(str(Path(text).resolve()))


def _shorten(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


@register_metric("json_schema", primary="schema")
@requires_output
def json_schema(ctx: ScoreContext, schema: Any, *, extract: bool = True) -> Score:
    """Output is JSON that conforms to the JSON Schema (inline or a .json file).

    - json_schema: schemas/answer.json
    """
    validator = schema_validator(schema)
    try:
        data, extracted = load_json(ctx.text, extract)
    except ValueError as exc:
        return _invalid_json(exc)
    errors = list(validator.iter_errors(data))
    meta = {"extracted": extracted, "errors": len(errors)}
    if not errors:
        return Score(value=1.0, passed=True, meta=meta)
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    reason = _shorten(f"{best.json_path}: {best.message}")
    return Score(value=0.0, passed=False, reason=reason, meta=meta)


@functools.lru_cache(maxsize=256)
def parse_path(path: str) -> tuple[str | int, ...]:
    """'a.b[0].c' -> ('a', 'b', 0, 'c'); a leading '$' (JSONPath style) is allowed."""
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise SuiteError(f"invalid field path '{path}'", hint="write it like a.b[0].c")
        key, index = match.groups()
        steps.append(int(index) if index is not None else key)
        pos = match.end()
    if not steps:
        raise SuiteError("an empty field path", hint="write it like a.b[0].c")
    return tuple(steps)


def lookup(data: Any, steps: tuple[str | int, ...]) -> tuple[bool, Any]:
    """(found, value) for the path; a list index is also accepted as a '.0' key step."""
    for step in steps:
        if isinstance(data, dict) and isinstance(step, str) and step in data:
            data = data[step]
        elif isinstance(data, list) and _is_index(step) and -len(data) <= int(step) < len(data):
            data = data[int(step)]
        else:
            return False, None
    return True, data


def _is_index(step: str | int) -> bool:
    return isinstance(step, int) or step.lstrip("-").isdigit()


def show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)  # YAML may hold dates


def _matches(actual: Any, expected: Any, ignore_case: bool) -> bool:
    """Compare a JSON field with a YAML or rendered value: "42" equals 42, "true" equals true."""
    if isinstance(expected, str) and not isinstance(actual, str):
        try:
            expected = json.loads(expected)
        except ValueError:
            return False
    if isinstance(actual, str) and not isinstance(expected, str):
        expected = show(expected)
    if isinstance(actual, str):
        a, e = actual.strip(), str(expected).strip()
        return a.casefold() == e.casefold() if ignore_case else a == e
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False  # Python's True == 1 is not JSON's
    return bool(actual == expected)


def _field_verdict(value: Any, equals: Any, one_of: Any, ignore_case: bool) -> str | None:
    """None when the field's value is acceptable, else the reason it is not."""
    if equals is not None and not _matches(value, equals, ignore_case):
        return f"is {show(value)}, expected {show(equals)}"
    if one_of is not None:
        labels = one_of if isinstance(one_of, list) else as_list(one_of)
        if not any(_matches(value, label, ignore_case) for label in labels):
            return f"is {show(value)}, expected one of {show(labels)}"
    return None


@register_metric("json_field", primary="path")
@requires_output
def json_field(
    ctx: ScoreContext,
    path: str,
    *,
    equals: Any = None,
    one_of: Any = None,
    ignore_case: bool = False,
    extract: bool = True,
) -> Score:
    """A JSON field exists (path like a.b[0].c) and optionally equals a value or is one_of a list.

    - {type: json_field, path: label, equals: "{{ expected }}"}
    """
    steps = parse_path(str(path))
    try:
        data, extracted = load_json(ctx.text, extract)
    except ValueError as exc:
        return _invalid_json(exc)
    found, value = lookup(data, steps)
    if not found:
        return Score(value=0.0, passed=False, reason=f"field '{path}' not found")
    meta = {"value": value, "extracted": extracted}
    problem = _field_verdict(value, equals, one_of, ignore_case)
    if problem:
        return Score(value=0.0, passed=False, reason=_shorten(f"'{path}' {problem}"), meta=meta)
    return Score(value=1.0, passed=True, meta=meta)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 (one number type), but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def json_equals(text: str, expected: Any) -> Score:
    """The whole output, parsed as JSON, equals `expected` (what `equals` does with a mapping).

    A string `expected` that is JSON text is read as JSON (OpenAI Evals' JsonMatch keeps its
    ideal answers as JSON text); any other string is a JSON string.
    """
    try:
        data = strict_loads(text)
    except ValueError as exc:
        return _invalid_json(exc)
    if isinstance(expected, str):
        with contextlib.suppress(ValueError):
            expected = strict_loads(expected)
    if json_equal(data, expected):
        return Score(value=1.0, passed=True)
    return Score(value=0.0, passed=False, reason=_shorten(f"{show(data)} != {show(expected)}"))


def _conforms(data: Any, schema: Any) -> str | None:
    """None when `data` passes the schema (or there is none), else the best error."""
    if schema is None:
        return None
    errors = list(schema_validator(schema).iter_errors(data))
    if not errors:
        return None
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    return _shorten(f"{best.json_path}: {best.message}")


@register_metric("is_json", primary="schema")
@requires_output
def is_json(ctx: ScoreContext, schema: Any = None) -> Score:
    """The whole output is JSON (no fence, no prose) and passes the optional JSON Schema.

    - is_json: {type: object, required: [answer]}
    """
    try:
        data = strict_loads(ctx.text)
    except ValueError as exc:
        return _invalid_json(exc)
    problem = _conforms(data, schema)
    if problem:
        return Score(value=0.0, passed=False, reason=problem)
    return Score(value=1.0, passed=True)


@register_metric("contains_json", primary="schema")
@requires_output
def contains_json(ctx: ScoreContext, schema: Any = None) -> Score:
    """Some JSON object or array in the output (fenced or in prose) passes the optional schema.

    - contains_json: schemas/answer.json
    """
    first_problem = None
    found = 0
    for data in json_candidates(ctx.text):
        if not isinstance(data, dict | list):
            continue
        found += 1
        problem = _conforms(data, schema)
        if problem is None:
            return Score(value=1.0, passed=True, meta={"found": found})
        first_problem = first_problem or problem
    if not found:
        return Score(value=0.0, passed=False, reason="no JSON object or array in the output")
    return Score(value=0.0, passed=False, reason=first_problem, meta={"found": found})
