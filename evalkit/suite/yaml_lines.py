"""YAML read safely, with the line of every mapping key and sequence item.

data, lines = parse_yaml(text, "suites/faq.yaml")
line_of(lines, ("models", 0, "provider"))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from evalkit.errors import SuiteError
from evalkit.suite.limits import LIMITS, Limits, short

Loc = tuple[Any, ...]
LineMap = dict[tuple[str, ...], int]

YAML_HINT = (
    "check the indentation (spaces, not tabs) and quote values that contain ': ' or ' #', "
    'or start with {, [, * or & (a template: user: "{{ question }}")'
)
LIMIT_HINT = "evalkit bounds what a suite may expand to (docs/safety.md); simplify the YAML"
TAG_HINT = "the tag (!!float, !!int, ...) does not fit the value: remove the tag or fix the value"
_TEXT = "\0text"  # a pseudo key under which a scalar's start line is recorded
_MERGE = "tag:yaml.org,2002:merge"


def parse_yaml(text: str, file: str, limits: Limits = LIMITS) -> tuple[Any, LineMap]:
    """Parse YAML safely; return the data and the line of every key path.

    The size, depth, alias expansion and string lengths are checked while the document is
    composed (before anything is built from it); the line map visits each node once."""
    if len(text) > limits.yaml_chars:
        raise SuiteError(
            f"the file has {len(text):,} characters; the limit is {limits.yaml_chars:,}",
            file=file,
            hint="put large data in a dataset file (jsonl, csv, parquet), not in YAML",
        )
    _flow_depth(text, file, limits)
    try:
        loader = _Loader(text, file, limits)
    except yaml.reader.ReaderError as exc:  # a control character (NUL, ...) in the text
        raise _reader_error(exc, text, file) from None
    try:
        node = loader.get_single_node()
        lines = _line_map(node, file) if node is not None else {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text, file) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"invalid YAML: {short(exc, 200)}", file=file, hint=YAML_HINT) from None
    finally:
        loader.dispose()
    return data, lines


def _flow_depth(text: str, file: str, limits: Limits) -> None:
    """`[[[[...` past the depth limit, refused before PyYAML's scanner looks ahead through it
    (its simple-key bookkeeping makes a deep flow cost ~0.3 s before the composer sees it)."""
    # where a flow collection can start (not inside "quotes"): after a space, ':', ',' or '-'
    match = re.search(rf"(?<![^\s:,\-])[\[{{](?:\s*[\[{{]){{{limits.depth},}}", text)
    if match is not None:
        line = text.count("\n", 0, match.start()) + 1
        message = f"the YAML nests deeper than {limits.depth} levels"
        raise SuiteError(message, file=file, line=line, hint=LIMIT_HINT)


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts what it composes, and reports a bad tagged value at its line."""

    def __init__(self, text: str, file: str, limits: Limits) -> None:
        super().__init__(text)
        self._file, self._limits = file, limits
        self._nodes = self._chars = 0
        self._heights: list[int] = []  # per open node: the height of its tallest child so far
        self._open: set[str] = set()  # anchors whose node is still being composed
        self._sizes: dict[str, tuple[int, int, int]] = {}  # anchor -> (nodes, chars, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._alias(event)
            return super().compose_node(parent, index)
        if len(self._heights) >= self._limits.depth:
            raise self._limit(f"the YAML nests deeper than {self._limits.depth} levels", event)
        text = len(event.value) if isinstance(event, yaml.ScalarEvent) else 0
        if text > self._limits.string_chars:
            message = f"a value of {text:,} characters; the limit is {self._limits.string_chars:,}"
            raise self._limit(message, event)
        start = (self._nodes, self._chars)
        self._grow(1, text, 1, event)
        anchor = event.anchor
        if anchor is not None:
            self._open.add(anchor)
        self._heights.append(0)
        node = super().compose_node(parent, index)
        height = self._heights.pop() + 1
        if self._heights:
            self._heights[-1] = max(self._heights[-1], height)
        if anchor is not None:
            self._open.discard(anchor)
            self._sizes[anchor] = (self._nodes - start[0], self._chars - start[1], height)
        return node

    def _alias(self, event: yaml.AliasEvent) -> None:
        anchor = str(event.anchor)
        if anchor in self._open:
            message = f"the alias *{short(anchor)} is inside the node it names (a recursive value)"
            raise self._limit(message, event, hint="an alias can only repeat a finished node")
        if anchor in self._sizes:  # an undefined alias is the composer's own error
            nodes, chars, height = self._sizes[anchor]
            self._grow(nodes, chars, height, event)
            if self._heights:
                self._heights[-1] = max(self._heights[-1], height)

    def _grow(self, nodes: int, chars: int, height: int, event: yaml.Event) -> None:
        self._nodes += nodes
        self._chars += chars
        limits = self._limits
        if len(self._heights) + height > limits.depth:
            raise self._limit(f"aliases nest the YAML deeper than {limits.depth} levels", event)
        if self._nodes > limits.nodes:
            message = f"the YAML expands to more than {limits.nodes:,} values"
            raise self._limit(message + (" (an alias bomb?)" if nodes > 1 else ""), event)
        if self._chars > limits.expanded_chars:
            message = f"the YAML's text expands to more than {limits.expanded_chars:,} characters"
            raise self._limit(message, event)

    def _limit(self, message: str, event: yaml.Event, hint: str = LIMIT_HINT) -> SuiteError:
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        return SuiteError(message, file=self._file, line=line, hint=hint)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            # a tag the value does not fit: `!!float x`, `!!int 1.5`, a bad timestamp
            problem = f"cannot read {short(node.value)} as {node.tag.rsplit(':', 1)[-1]}"
            raise yaml.constructor.ConstructorError(
                None, None, f"{problem} ({type(exc).__name__})", node.start_mark
            ) from None

    def construct_finite_float(self, node: yaml.ScalarNode) -> float:
        value = float(self.construct_yaml_float(node))
        if value != value or value in (float("inf"), float("-inf")):  # NaN or infinity
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value} is not a finite number", node.start_mark
            )
        return value


_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_finite_float)


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> SuiteError:
    position = max(0, int(exc.position))
    line = text.count("\n", 0, position) + 1
    name = {0: " (NUL)"}.get(exc.character, "")
    return SuiteError(
        f"invalid YAML: the character #x{exc.character:04x}{name} is not allowed in YAML",
        file=file,
        line=line,
        hint="remove the control character (tabs and line breaks are fine); save the file as"
        " UTF-8 text",
    )


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SuiteError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = short(exc.problem or "invalid YAML", 300)
    if exc.context and "unhashable" not in problem:
        problem = f"{problem} ({short(exc.context, 200)})"
    hint = YAML_HINT
    source_line = _line_text(text, line)
    if problem.startswith("cannot read "):
        hint = TAG_HINT
    elif problem.endswith("is not a finite number"):
        hint = "NaN and infinity (.nan, .inf) are refused: write a number, or leave the key out"
    elif "{{" in source_line or "unhashable" in problem:
        hint = 'a value that starts with {{ must be quoted: user: "{{ question }}"'
    elif "\t" in source_line:
        hint = "YAML indentation must use spaces, not tabs"
    return SuiteError(f"invalid YAML: {problem}", file=file, line=line, hint=hint)


def _line_text(text: str, line: int | None) -> str:
    if not line:
        return ""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)][:1000]


def _line_map(root: yaml.Node, file: str) -> LineMap:
    """The line of every key path; each node is visited once (an alias is not walked again)."""
    lines: LineMap = {}
    visited: set[int] = set()

    def visit(node: yaml.Node, loc: tuple[str, ...]) -> None:
        if isinstance(node, yaml.ScalarNode):
            if loc:  # where a template's text starts: a block scalar (| or >) on the next line
                block = 1 if node.style in ("|", ">") else 0
                lines.setdefault((*loc, _TEXT), node.start_mark.line + 1 + block)
            return
        if id(node) in visited:
            return  # an alias: its content has its lines where the anchor is
        visited.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault((*loc, str(index)), item.start_mark.line + 1)
                visit(item, (*loc, str(index)))
        elif isinstance(node, yaml.MappingNode):
            merges = _own_keys(node, loc, lines, file, visit)
            for merged in merges:
                _merged_keys(merged, loc, lines)

    visit(root, ())
    return lines


def _own_keys(
    node: yaml.MappingNode, loc: tuple[str, ...], lines: LineMap, file: str, visit: Any
) -> list[yaml.Node]:
    """Record a mapping's own keys (a repeated one is an error); return its `<<` merges."""
    seen: dict[str, int] = {}
    merges: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merges.append(value_node)  # `<<: *defaults`: its keys come after the own ones
            continue
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # a mapping or list as a key: construction reports it
        key = str(key_node.value)
        if key in seen:
            raise SuiteError(
                f"duplicate key '{short(key)}' (first on line {seen[key]})",
                file=file,
                line=line,
                hint="YAML keeps only the last value; remove or rename one of them",
            )
        seen[key] = line
        lines.setdefault((*loc, key), line)
        visit(value_node, (*loc, key))
    return merges


def _merged_keys(node: yaml.Node, loc: tuple[str, ...], lines: LineMap) -> None:
    """Keys merged in with `<<` get the line where they are written (own keys win)."""
    if isinstance(node, yaml.SequenceNode):  # `<<: [*a, *b]`: the earlier mapping wins
        for item in node.value:
            _merged_keys(item, loc, lines)
        return
    if not isinstance(node, yaml.MappingNode):
        return  # not a mapping: construction reports it
    nested = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            nested.append(value_node)
        elif isinstance(key_node, yaml.ScalarNode):
            lines.setdefault((*loc, str(key_node.value)), key_node.start_mark.line + 1)
    for value_node in nested:
        _merged_keys(value_node, loc, lines)


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
