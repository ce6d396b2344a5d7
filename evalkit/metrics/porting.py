"""promptfoo assertions as evalkit metrics: one mapping, shared by importers and parity tests.

    promptfoo_metric({"type": "icontains-any", "value": "refund, money back"})
    -> {"type": "icontains_any", "values": ["refund", "money back"]}

The result is a metric as a suite writes it (`{type: NAME, ...args}`). The options are chosen
so evalkit scores like promptfoo where evalkit can (`strip: false` for equals and
starts-with, `ascii: true` for regex, promptfoo's default thresholds); what stays different
on purpose is listed, with the reason, in docs/porting.md and checked by
tests/test_parity_promptfoo.py. An assertion that has no deterministic equivalent raises
NotPortable (javascript, python, llm-rubric, ...: an importer turns those into stubs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Config = dict[str, Any]

# promptfoo's named groups are JavaScript's (?<name>...); Python writes (?P<name>...).
_JS_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


class NotPortable(ValueError):
    """This assertion has no evalkit metric; the message says what to do instead."""


def split_values(text: str) -> list[str]:
    """promptfoo's comma-separated values: "a, b" -> ["a", "b"]; quotes keep commas."""
    values: list[str] = []
    i = 0
    while i < len(text):
        while i < len(text) and (text[i].isspace() or text[i] == ","):
            i += 1
        if i >= len(text):
            break
        if text[i] != '"':
            end = text.find(",", i)
            end = len(text) if end < 0 else end
            values.append(text[i:end].strip())
            i = end
            continue
        field, i = _quoted(text, i + 1)
        values.append(field)
    return values


def _quoted(text: str, i: int) -> tuple[str, int]:
    field = []
    while i < len(text):
        pair = text[i : i + 2]
        if pair in ('\\"', "\\\\", '""'):
            field.append(pair[1])
            i += 2
        elif text[i] == '"':
            return "".join(field), i + 1
        else:
            field.append(text[i])
            i += 1
    raise NotPortable(f"an unterminated quoted value in {text!r}")


def _values(value: Any) -> Any:
    return split_values(value) if isinstance(value, str) else value


def _schema(value: Any) -> Config:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        if value.startswith("file://"):
            return {"schema": value.removeprefix("file://")}
        import yaml

        return {"schema": yaml.safe_load(value)}  # promptfoo reads a schema string as YAML
    return {"schema": value}


def _equals(value: Any, threshold: Any) -> Config:
    if isinstance(value, dict):
        return {"type": "equals", "value": value}
    if isinstance(value, list):
        return {"type": "equals", "value": value, "json": True}  # an array is JSON there
    return {"type": "equals", "value": value, "strip": False}


def _counted(kind: str) -> Callable[[Any, Any], Config]:
    def build(value: Any, threshold: Any) -> Config:
        if isinstance(value, dict):
            return {"type": kind, **{k: value[k] for k in ("min", "max") if k in value}}
        return {"type": kind, "count": value}

    return build


def _with_default(kind: str, primary: str, default: float | None) -> Callable[[Any, Any], Config]:
    def build(value: Any, threshold: Any) -> Config:
        config: Config = {"type": kind, primary: value}
        limit = default if threshold is None else threshold
        if limit is not None:
            config["threshold"] = limit
        return config

    return build


def _plain(kind: str, primary: str, **extra: Any) -> Callable[[Any, Any], Config]:
    def build(value: Any, threshold: Any) -> Config:
        return {"type": kind, primary: value, **extra}

    return build


def _regex(value: Any, threshold: Any) -> Config:
    pattern = _JS_NAMED_GROUP.sub("(?P<", value) if isinstance(value, str) else value
    return {"type": "regex", "pattern": pattern, "ascii": True}


def _bound(kind: str) -> Callable[[Any, Any], Config]:
    def build(value: Any, threshold: Any) -> Config:
        return {"type": kind, "max": threshold}

    return build


BUILDERS: dict[str, Callable[[Any, Any], Config]] = {
    "equals": _equals,
    "contains": _plain("contains", "value"),
    "icontains": _plain("icontains", "value"),
    "contains-any": lambda v, t: {"type": "contains_any", "values": _values(v)},
    "contains-all": lambda v, t: {"type": "contains_all", "values": _values(v)},
    "icontains-any": lambda v, t: {"type": "icontains_any", "values": _values(v)},
    "icontains-all": lambda v, t: {"type": "icontains_all", "values": _values(v)},
    "starts-with": _plain("starts_with", "value", strip=False),
    "regex": _regex,
    "is-json": lambda v, t: {"type": "is_json", **_schema(v)},
    "contains-json": lambda v, t: {"type": "contains_json", **_schema(v)},
    "levenshtein": _with_default("levenshtein", "reference", 5),
    "rouge-n": _with_default("rouge_1", "reference", 0.75),
    "bleu": lambda v, t: {**_with_default("bleu", "reference", 0.5)(v, t), "ignore_case": True},
    "similar": _with_default("embedding_similarity", "reference", 0.75),
    "word-count": _counted("word_count"),
    "character-count": _counted("character_count"),
    "latency": _bound("latency_ms"),
    "cost": _bound("cost"),
}


def promptfoo_metric(assertion: dict[str, Any]) -> Config:
    """The evalkit metric for one promptfoo assertion (`not-` prefixes become negate: true)."""
    kind = str(assertion.get("type", ""))
    negate = kind.startswith("not-")
    base = kind.removeprefix("not-")
    builder = BUILDERS.get(base)
    if builder is None:
        raise NotPortable(f"promptfoo assertion '{kind}' has no deterministic evalkit metric")
    if "transform" in assertion:
        raise NotPortable("an assertion's transform is JavaScript; write an evalkit transform:")
    config = builder(assertion.get("value"), assertion.get("threshold"))
    if assertion.get("metric"):
        config["name"] = assertion["metric"]
    if negate:
        config["negate"] = True
    return config
