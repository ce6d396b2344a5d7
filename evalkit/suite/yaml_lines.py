"""YAML read safely, with the line of every mapping key and sequence item.

data, lines = parse_yaml(text, "suites/faq.yaml")
line_of(lines, ("models", 0, "provider"))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from evalkit.errors import SuiteError

Loc = tuple[Any, ...]
LineMap = dict[tuple[str, ...], int]

YAML_HINT = (
    "check the indentation (spaces, not tabs) and quote values that contain ': ' or ' #', "
    'or start with {, [, * or & (a template: user: "{{ question }}")'
)
_TEXT = "\0text"  # a pseudo key under which a scalar's start line is recorded


def parse_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML safely; return the data and the line of every key path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text, file) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"invalid YAML: {exc}", file=file, hint=YAML_HINT) from None
    finally:
        loader.dispose()
    lines: LineMap = {}
    if node is not None:
        _record_lines(node, (), lines, file)
    return data, lines


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SuiteError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or "invalid YAML"
    if exc.context and "unhashable" not in problem:
        problem = f"{problem} ({exc.context})"
    hint = YAML_HINT
    source_line = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "{{" in source_line or "unhashable" in problem:
        hint = 'a value that starts with {{ must be quoted: user: "{{ question }}"'
    elif "\t" in source_line:
        hint = "YAML indentation must use spaces, not tabs"
    return SuiteError(f"invalid YAML: {problem}", file=file, line=line, hint=hint)


def _record_lines(node: yaml.Node, loc: tuple[str, ...], lines: LineMap, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` merges keys; they are recorded where defined
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise SuiteError(
                    f"duplicate key '{key}' (first on line {seen[key]})",
                    file=file,
                    line=line,
                    hint="YAML keeps only the last value; remove or rename one of them",
                )
            seen[key] = line
            lines.setdefault((*loc, key), line)
            _record_lines(value_node, (*loc, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*loc, str(index)), item.start_mark.line + 1)
            _record_lines(item, (*loc, str(index)), lines, file)
    elif isinstance(node, yaml.ScalarNode) and loc:
        # where a template's text starts: a block scalar (| or >) starts on the next line
        block = 1 if node.style in ("|", ">") else 0
        lines.setdefault((*loc, _TEXT), node.start_mark.line + 1 + block)


def text_line(lines: Mapping[tuple[str, ...], int], loc: Loc) -> int | None:
    """The line where the scalar at exactly `loc` starts (its key's line for a mapping/list)."""
    parts = tuple(str(p) for p in loc)
    return lines.get((*parts, _TEXT), lines.get(parts))


def line_of(lines: Mapping[tuple[str, ...], int], loc: Loc) -> int | None:
    parts = tuple(str(p) for p in loc)
    # A prompt written as a list is normalised to {messages: [...]}: its errors say
    # prompts.x.messages.1 where the YAML has prompts.x.1, so try the path without it too.
    candidates = [parts] + [
        parts[:i] + parts[i + 1 :] for i, p in enumerate(parts) if p == "messages"
    ]
    best: tuple[int, int | None] = (0, None)
    for candidate in candidates:
        for end in range(len(candidate), best[0], -1):
            if candidate[:end] in lines:
                best = (end, lines[candidate[:end]])
                break
    return best[1]


def format_loc(loc: Loc) -> str:
    """("models", 0, "params") -> "models[0].params"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
