"""The suite format as a JSON Schema, for editors (yaml-language-server) and other tools.

pydantic describes the normalised shape; a PO writes shorthands that before-validators turn
into it (a prompt as one string, `dataset: data.jsonl`, `contains: "{{ expected }}"`). The
schema is widened here so every shorthand the loader accepts also passes the schema; the loader
stays the strict check. Put this line at the top of a suite to get completion in VS Code:

    # yaml-language-server: $schema=./evalkit.schema.json
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from evalkit.suite.schema import Suite

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any]


def suite_json_schema() -> Schema:
    """The JSON Schema of a suite file, shorthands included."""
    schema = Suite.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    for name, widen in _SHORTHANDS.items():
        if name in defs:
            defs[name] = widen(defs[name])
    _widen_tags(schema)
    _widen_group_by(schema)
    _grader_types(schema)
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "evalkit suite",
        "description": "An evalkit evaluation suite: dataset, prompt variants, models, metrics.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def _grader_types(schema: Schema) -> None:
    """`graders:` items are the config of their registered type (plugins' types included)."""
    from evalkit.plugins.registry import grader_config, registry

    defs = schema.setdefault("$defs", {})
    refs = []
    for name in registry().names("grader"):
        config = grader_config(name)
        sub = config.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        defs[config.__name__] = sub
        refs.append({"$ref": f"#/$defs/{config.__name__}"})
    graders = schema.get("properties", {}).get("graders")
    if graders is not None:
        graders["items"] = {"anyOf": refs}


def _dataset(obj: Schema) -> Schema:
    """`dataset: data.jsonl` (a path) or a list of inline rows."""
    rows = {"type": "array", "items": {"type": "object"}, "description": "inline rows"}
    return _any_of(obj, {"type": "string", "description": "path to a jsonl/csv/parquet file"}, rows)


def _prompt(obj: Schema) -> Schema:
    """A string (one user message or a file path), a message list, or {system, user}."""
    obj = copy.deepcopy(obj)
    props = obj.setdefault("properties", {})
    props["system"] = {"type": "string", "description": "the system message (a template)"}
    props["user"] = {"type": "string", "description": "the user message (a template)"}
    messages = {"type": "array", "items": {"$ref": "#/$defs/ChatMessage"}}
    text = {"type": "string", "description": "one user message (a template) or a prompt file"}
    return _any_of(obj, text, messages)


def _metric(obj: Schema) -> Schema:
    """`contains: "{{ expected }}"`, `{type: regex, pattern: ...}` or a bare metric name."""
    typed = copy.deepcopy(obj)
    typed["additionalProperties"] = True  # the metric's own arguments sit beside `type`
    typed["required"] = ["type"]
    short = {
        "type": "object",
        "description": "{METRIC: value-or-arguments}, optionally with name",
        "minProperties": 1,
        "not": {"required": ["type"]},
    }
    name = {"type": "string", "description": "a metric name"}
    return {**_meta(obj), "anyOf": [name, _body(typed), short]}


def _any_of(obj: Schema, *alternatives: Schema) -> Schema:
    return {**_meta(obj), "anyOf": [*alternatives, _body(obj)]}


def _meta(obj: Schema) -> Schema:
    return {k: obj[k] for k in ("title", "description") if k in obj}


def _body(obj: Schema) -> Schema:
    return {k: v for k, v in obj.items() if k not in ("title", "description")}


def _widen_tags(schema: Schema) -> None:
    """`tags: [smoke, nightly]` is accepted as well as a mapping."""
    tags = schema.get("properties", {}).get("tags")
    if tags is not None:
        listed = {"type": "array", "items": {"type": "string"}}
        schema["properties"]["tags"] = {"anyOf": [tags, listed], "default": tags.get("default")}


def _widen_group_by(schema: Schema) -> None:
    """`group_by: category` is accepted as well as a list of columns."""
    group_by = schema.get("properties", {}).get("group_by")
    if group_by is not None:
        schema["properties"]["group_by"] = _any_of(group_by, {"type": "string"})


_SHORTHANDS: dict[str, Callable[[Schema], Schema]] = {
    "DatasetConfig": _dataset,
    "PromptVariant": _prompt,
    "MetricConfig": _metric,
}
