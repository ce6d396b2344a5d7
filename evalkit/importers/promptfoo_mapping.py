"""promptfoo values as evalkit ones: assertions, transforms, providers and prompt files.

One promptfoo assertion becomes one evalkit row assertion (a metric, a grader or a code stub).

Deterministic assertions go through evalkit.metrics.porting.promptfoo_metric (the mapping the
parity tests check); llm-rubric, model-graded-closedqa and factuality become graders asking the
suite's judge; javascript and python become custom-metric stubs (a JavaScript one-liner such as
`output.toLowerCase().includes('ahoy')` is translated to its metric instead). A transform
written in JavaScript is translated when it is a JSON path (`JSON.parse(output).a.b`, `output.a`
after a test's `JSON.parse(output)`) or trim/toLowerCase/toUpperCase; anything else is listed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.importers.stubs import StubModule
from evalkit.metrics.porting import NotPortable, promptfoo_metric

GRADERS = {"llm-rubric": "rubric", "model-graded-closedqa": "rubric", "factuality": "factuality"}
CODE = ("javascript", "python")
JUDGE_ID = "judge"

_PATH = re.compile(
    r"^\s*(JSON\.parse\(\s*output\s*\)|output)"
    r"((?:\s*\.\s*[A-Za-z_$][\w$]*|\s*\[\s*\d+\s*\])*)\s*;?\s*$"
)
_STRING_METHODS = {"trim": "strip", "toLowerCase": "lower", "toUpperCase": "upper"}
_METHOD = re.compile(r"^\s*output\s*\.\s*(trim|toLowerCase|toUpperCase)\(\s*\)\s*;?\s*$")
_JS_CALL = re.compile(
    r"""^\s*(!)?\s*output(\.toLowerCase\(\))?\.(includes|startsWith|endsWith)\(\s*(['"])"""
    r"""([^'"\\]*)\4\s*\)\s*;?\s*$"""
)
_STRING_FORM = re.compile(r"^(not-)?([a-z][a-z0-9-]*)(?:\((\d+(?:\.\d+)?)\))?(?::\s*(.*))?$", re.S)


@dataclass(frozen=True)
class Shape:
    """What a chain of JavaScript transforms did to the output: parsed JSON at a path, or text."""

    parsed: bool = False
    path: str = ""
    steps: tuple[str, ...] = ()

    def evalkit(self) -> Any:
        """The evalkit `transform:` value (None: the output is scored as it is)."""
        steps = list(self.steps)
        if self.parsed and self.path:
            steps.insert(0, f"json:${self.path}")
        return None if not steps else steps[0] if len(steps) == 1 else steps


def js_transform(code: Any, before: Shape) -> Shape | None:
    """`code` applied after `before`, or None when it is not one of the forms we translate."""
    if not isinstance(code, str):
        return None
    path = _PATH.match(code)
    if path:
        parsed = path.group(1) != "output"
        chain = re.sub(r"\s+", "", path.group(2))
        if parsed:
            return Shape(True, chain) if not before.steps and not before.parsed else None
        if not chain:
            return before
        return Shape(True, before.path + chain) if before.parsed else None
    method = _METHOD.match(code)
    if method and not before.parsed:
        return Shape(False, "", (*before.steps, _STRING_METHODS[method.group(1)]))
    return None


def from_string(text: str) -> dict[str, Any]:
    """promptfoo's assertion written as text (a CSV `__expected` cell): "contains: x", "fn: ...".

    A text with no known type is promptfoo's `equals`."""
    text = text.strip()
    prefixes = {"fn:": "javascript", "eval:": "javascript", "javascript:": "javascript"}
    prefixes |= {"grade:": "llm-rubric", "llm-rubric:": "llm-rubric", "python:": "python"}
    for prefix, kind in prefixes.items():
        if text.startswith(prefix):
            return {"type": kind, "value": text[len(prefix) :].strip()}
    found = _STRING_FORM.match(text)
    known = {*GRADERS, *CODE, *_deterministic_types()}
    if found and found.group(2) in known:
        assertion: dict[str, Any] = {"type": (found.group(1) or "") + found.group(2)}
        if found.group(4) is not None:
            assertion["value"] = found.group(4).strip()
        if found.group(3) is not None:
            assertion["threshold"] = float(found.group(3))
        return assertion
    return {"type": "equals", "value": text}


def _deterministic_types() -> list[str]:
    from evalkit.metrics.porting import BUILDERS

    return list(BUILDERS)


class AssertionMapper:
    """Maps assertions, reporting what it cannot map through `note(where, message)`."""

    def __init__(self, stubs: StubModule, note: Callable[[str, str], None]) -> None:
        self.stubs = stubs
        self.note = note
        self.uses_judge = False
        self.templates: set[str] = set()

    def map(self, assertion: Any, where: str, shape: Shape) -> dict[str, Any] | None:
        """The evalkit entry for one assertion at `where` (file:line), or None (noted)."""
        if isinstance(assertion, str):
            assertion = from_string(assertion)
        if not isinstance(assertion, dict):
            self.note(where, f"an assertion must be a mapping, got {type(assertion).__name__}")
            return None
        if "$ref" in assertion:
            return self._ref(assertion, where, shape)
        kind = str(assertion.get("type", ""))
        base = kind.removeprefix("not-")
        if base in CODE:
            return self._code(assertion, base, kind != base, where)
        if base in GRADERS:
            return self._grader(assertion, base, kind != base, where, shape)
        return self._metric(assertion, where, shape)

    def _ref(self, assertion: dict[str, Any], where: str, shape: Shape) -> dict[str, Any] | None:
        found = re.fullmatch(r"#/assertionTemplates/(.+)", str(assertion["$ref"]))
        if not found or found.group(1) not in self.templates:
            self.note(where, f"$ref {assertion['$ref']!r} names no assertion template")
            return None
        entry: dict[str, Any] = {"template": found.group(1)}
        if shape.evalkit() is not None:
            entry["transform"] = shape.evalkit()
        return entry

    def _metric(self, assertion: dict[str, Any], where: str, shape: Shape) -> dict[str, Any] | None:
        plain = {k: v for k, v in assertion.items() if k not in ("transform", "weight")}
        try:
            metric = promptfoo_metric(plain)
        except NotPortable as exc:
            self.note(where, f"not imported: {exc}")
            return None
        if "transform" in assertion:
            translated = js_transform(assertion["transform"], shape)
            if translated is None:
                self.note(
                    where,
                    f"not imported: the transform {assertion['transform']!r} is"
                    " JavaScript evalkit cannot translate; write an evalkit transform:",
                )
                return None
            shape = translated
        if shape.evalkit() is not None:
            metric["transform"] = shape.evalkit()
        if assertion.get("weight") not in (None, 1):
            self.note(where, "weight is not imported: evalkit weighs every assertion the same")
        return metric

    def _code(
        self, assertion: dict[str, Any], kind: str, negate: bool, where: str
    ) -> dict[str, Any] | None:
        code = assertion.get("value")
        if not isinstance(code, str) or code.startswith("file://"):
            self.note(where, f"not imported: a {kind} assertion from a file ({code!r})")
            return None
        if kind == "javascript" and not negate:
            translated = _js_metric(code)
            if translated is not None:
                return translated
        entry: dict[str, Any] = {"type": self.stubs.add(kind, code, where), "name": kind}
        if assertion.get("metric"):
            entry["name"] = assertion["metric"]
        if assertion.get("threshold") is not None:
            entry["threshold"] = assertion["threshold"]
        if negate:
            entry["negate"] = True
        self.note(
            where,
            f"a {kind} assertion became the custom metric {entry['type']}: review it;"
            " it runs only with --allow-code",
        )
        return entry

    def _grader(
        self, assertion: dict[str, Any], kind: str, negate: bool, where: str, shape: Shape
    ) -> dict[str, Any] | None:
        if negate:
            self.note(where, f"not imported: not-{kind} (a judge cannot be negated)")
            return None
        value = assertion.get("value")
        if not isinstance(value, str) or not value.strip():
            self.note(where, f"not imported: {kind} needs a text value")
            return None
        self.uses_judge = True
        entry: dict[str, Any] = {"type": GRADERS[kind], "judge": JUDGE_ID}
        entry["reference" if kind == "factuality" else "rubric"] = value
        if assertion.get("metric"):
            entry["name"] = assertion["metric"]
        if shape.evalkit() is not None:
            self.note(where, f"the test's transform is not applied to the {kind} judge")
        if assertion.get("provider"):
            self.note(
                where, f"grading provider {assertion['provider']!r}: evalkit asks judges.judge"
            )
        return entry


def _js_metric(code: str) -> dict[str, Any] | None:
    """A one-line JavaScript string check as the metric it means, else None."""
    found = _JS_CALL.match(code)
    if not found:
        return None
    negate, lower, method, value = (
        bool(found.group(1)),
        found.group(2),
        found.group(3),
        found.group(5),
    )
    if lower and value != value.lower():
        return None  # a lower-cased output never contains upper-case text: keep it as code
    kind = {"includes": "contains", "startsWith": "starts_with", "endsWith": "ends_with"}[method]
    metric: dict[str, Any] = {"type": kind, "value": value}
    if lower:
        metric = (
            {"type": "icontains", "value": value}
            if kind == "contains"
            else {**metric, "ignore_case": True}
        )
    if kind != "contains":
        metric["strip"] = False
    if negate:
        metric["negate"] = True
    return metric


# --- providers and prompts ----------------------------------------------------------------------

OPENAI_PARAMS = (
    *("temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop"),
    *("response_format", "frequency_penalty", "presence_penalty"),
)
NOT_CHAT = ("embedding", "embeddings", "image", "moderation")


def provider_model(pid: str, config: dict[str, Any], label: Any) -> tuple[Any, list[str]]:
    """(the evalkit model for a promptfoo provider id, or None; what could not be mapped)."""
    from evalkit.importers import slug

    if pid == "echo":
        return {"id": slug(str(label or "echo")), "provider": "mock"}, []
    if not pid.startswith("openai:") or pid.split(":")[1] in NOT_CHAT:
        return None, [f"the provider {pid!r} is not imported: add it under models:"]
    name = pid.split(":")[-1]
    model: dict[str, Any] = {"id": model_id(str(label or name)), "provider": "openai"}
    model["model"] = name
    params = {k: config[k] for k in OPENAI_PARAMS if k in config}
    options = {}
    if config.get("apiBaseUrl"):
        options["base_url"] = config["apiBaseUrl"]
    if config.get("apiKeyEnvar"):
        options["api_key_env"] = config["apiKeyEnvar"]
    model.update({k: v for k, v in (("params", params), ("options", options)) if v})
    rest = sorted(set(config) - set(OPENAI_PARAMS) - {"apiBaseUrl", "apiKeyEnvar"})
    return model, [f"provider config not imported: {', '.join(rest)}"] if rest else []


def model_id(name: str) -> str:
    return "".join("-" if c in "|/\\ " else c for c in name) or "model"


def inline_prompt(raw: str) -> Any:
    """A prompt string: a chat (JSON list of messages) or one user message."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, list) and data and all(_is_message(m) for m in data):
        return [{k: m[k] for k in ("role", "content", "name") if k in m} for m in data]
    return {"messages": [{"role": "user", "content": raw}]}


def chat_file(path: Path) -> Any:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    if isinstance(data, list) and data and all(_is_message(m) for m in data):
        return [{k: m[k] for k in ("role", "content", "name") if k in m} for m in data]
    return {"messages": [{"role": "user", "content": path.read_text(encoding="utf-8-sig")}]}


def _is_message(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("role") in ("system", "user", "assistant")
        and (isinstance(item.get("content"), str))
    )


def csv_tests(path: Path) -> list[tuple[dict[str, Any], int]]:
    """promptfoo's CSV tests: columns are vars; `__expected*` cells are assertions as text."""
    reader = csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines())
    out = []
    for number, row in enumerate(reader, 2):
        test: dict[str, Any] = {"vars": {}, "assert": []}
        for column, cell in row.items():
            if column.startswith("__expected"):
                if cell and cell.strip():
                    test["assert"].append(cell)
            elif column == "__description":
                test["description"] = cell
            elif not column.startswith("__"):
                test["vars"][column] = cell
        out.append((test, number))
    return out


def load_yaml12(text: str, file: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """The data as promptfoo reads it (js-yaml, YAML 1.2: `Yes`, `no`, `on` are text, only
    true/false are booleans), with the line map of evalkit's own safe parse."""
    import yaml

    from evalkit.suite.yaml_lines import parse_yaml

    _, lines = parse_yaml(text, file)  # syntax errors get file:line here
    return yaml.load(text, Loader=_Yaml12Loader), lines  # a SafeLoader: no Python objects


def _yaml12_loader() -> Any:
    import re

    import yaml

    bool_tag = "tag:yaml.org,2002:bool"

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return Loader


_Yaml12Loader = _yaml12_loader()
