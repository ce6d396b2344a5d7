"""Prompt variants compiled once per run: chat messages whose contents are Jinja2 templates.

A variant comes from the suite (a string, a message list, {system, user}) and/or a file named by
`file:`, relative to the suite's folder. When both are given, the suite's messages come first.

Prompt files:

* `.yaml` / `.yml`: what a variant may be inline — a list of {role, content} messages, or a
  mapping with `system` / `user` (and optionally `messages` for few-shot turns).
* any other file (`.jinja`, `.j2`, `.jinja2`, `.txt`, `.md`): one template used as the user
  message. To write several messages in one file, start a line with a role marker, a Jinja
  comment, so the file stays a valid template:

      {# system #}
      You are a support assistant. Answer in one sentence.
      {# user #}
      {{ question }}

  Blank lines around each section are trimmed. Text before the first marker is an error.

    variants = compile_variants(suite, base_dir)
    check_variables(variants, examples)
    messages = variants["terse"].render(examples[0])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Template

from evalkit.errors import SuiteError
from evalkit.records import Example, Message, stable_hash
from evalkit.suite.limits import LIMITS
from evalkit.suite.loader import LoadedSuite, checked_file, display_path, read_text, relative_to
from evalkit.suite.schema import PromptVariant, Suite
from evalkit.suite.validation import validate_model
from evalkit.suite.yaml_lines import parse_yaml, text_line

from .render import compile_template, render, template_variables

Lines = Mapping[tuple[str, ...], int]
_ROLE_MARKER = re.compile(r"^\{#-?\s*(system|user|assistant)\s*-?#\}\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class CompiledMessage:
    role: str
    source: str  # the template text, kept for logs, hashes and error messages
    template: Template
    origin: str  # the file the template was written in
    line: int | None = None

    def render(self, example: Example) -> str:
        try:
            return render(
                self.template,
                example.row,
                example_id=example.id,
                origin=self.origin,
                line=example.line,
            )
        except SuiteError as exc:
            exc.line = exc.line or self.line  # where the template is written
            raise


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    """A prompt variant ready to render: its message templates and the variables they read."""

    name: str
    messages: tuple[CompiledMessage, ...]
    variables: frozenset[str]
    template_text: str  # readable dump: "[system]\n...\n\n[user]\n..."
    hash: str  # changes when any role or template text changes

    def render(self, example: Example) -> list[Message]:
        return [{"role": m.role, "content": m.render(example)} for m in self.messages]


def make_variant(name: str, messages: list[CompiledMessage]) -> CompiledVariant:
    variables: set[str] = set()
    for message in messages:
        variables |= template_variables(message.source)
    return CompiledVariant(
        name=name,
        messages=tuple(messages),
        variables=frozenset(variables),
        template_text="\n\n".join(f"[{m.role}]\n{m.source}" for m in messages),
        hash=stable_hash([[m.role, m.source] for m in messages]),
    )


def compile_loaded(loaded: LoadedSuite) -> dict[str, CompiledVariant]:
    """compile_variants for a loaded suite, with its file and line numbers."""
    return compile_variants(
        loaded.suite, loaded.base_dir, suite_file=loaded.file, lines=loaded.lines
    )


def compile_variants(
    suite: Suite,
    base_dir: Path,
    *,
    suite_file: str | None = None,
    lines: Lines | None = None,
) -> dict[str, CompiledVariant]:
    """Compile every prompt variant of `suite`; syntax errors point at file:line."""
    origin = suite_file or "suite"
    compiled = {}
    for name, variant in suite.prompts.items():
        loc = ("prompts", name)
        messages = _inline_messages(variant, loc, origin, lines or {})
        if variant.file:
            line = text_line(lines or {}, (*loc, "file")) or text_line(lines or {}, loc)
            messages += _file_messages(variant.file, base_dir, origin, line)
        compiled[name] = make_variant(name, messages)
    return compiled


def _inline_messages(
    variant: PromptVariant, loc: tuple[str, ...], origin: str, lines: Lines
) -> list[CompiledMessage]:
    out = []
    for index, message in enumerate(variant.messages):
        line = _message_line(lines, loc, index, message.role)
        template = compile_template(message.content, origin, line)
        out.append(CompiledMessage(message.role, message.content, template, origin, line))
    return out


def _message_line(lines: Lines, loc: tuple[str, ...], index: int, role: str) -> int | None:
    """A message may have been written as loc[i], loc.messages[i], loc.<role> or loc itself."""
    for candidate in ((*loc, index, "content"), (*loc, "messages", index, "content"), (*loc, role)):
        line = text_line(lines, candidate)
        if line is not None:
            return line
    return text_line(lines, loc)


# --- prompt files -----------------------------------------------------------------------------


def _file_messages(
    relpath: str, base_dir: Path, suite_file: str, suite_line: int | None
) -> list[CompiledMessage]:
    path = relative_to(base_dir, relpath)
    hint = f"prompt paths are relative to the suite's folder ({display_path(base_dir)})"
    checked_file(path, "prompt file", written=relpath, file=suite_file, line=suite_line, hint=hint)
    file = display_path(path)
    text = read_text(path, LIMITS.yaml_chars, file=file, what="the prompt file")
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_messages(text, file)
    return _text_messages(text, file)


def _yaml_messages(text: str, file: str) -> list[CompiledMessage]:
    data, lines = parse_yaml(text, file)
    variant = validate_model(PromptVariant, data, lines, file)
    if variant.file:
        raise SuiteError(
            "a prompt file cannot name another prompt file",
            file=file,
            line=text_line(lines, ("file",)),
            hint="write the messages in this file: a list of {role, content} or system/user",
        )
    return _inline_messages(variant, (), file, lines)


def _text_messages(text: str, file: str) -> list[CompiledMessage]:
    sections = _split_sections(text, file)
    out = []
    for role, line, body in sections:
        template = compile_template(body, file, line)
        out.append(CompiledMessage(role, body, template, file, line))
    return out


def _split_sections(text: str, file: str) -> list[tuple[str, int, str]]:
    """[(role, first line of the body, body)]; a file without markers is one user message."""
    markers = list(_ROLE_MARKER.finditer(text))
    if not markers:
        return [_section("user", text, 0, text)]
    head = text[: markers[0].start()]
    if head.strip():
        raise SuiteError(
            "text before the first {# role #} marker",
            file=file,
            line=_first_text_line(head),
            hint="start the file with {# system #} or {# user #}, or remove the markers",
        )
    sections = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        sections.append(_section(marker.group(1), text, marker.end(), text[marker.end() : end]))
    return sections


def _section(role: str, text: str, offset: int, body: str) -> tuple[str, int, str]:
    leading = len(body) - len(body.lstrip("\n"))
    # +1: lines are 1-based; the newline ending the marker line starts the body's count
    line = text.count("\n", 0, offset + leading) + 1
    return role, line, body.strip("\n")


def _first_text_line(text: str) -> int:
    stripped = text.lstrip()
    return text.count("\n", 0, len(text) - len(stripped)) + 1


# --- variables --------------------------------------------------------------------------------


def check_variables(
    variants: Mapping[str, CompiledVariant],
    examples: list[Example],
    *,
    source: str | None = None,
) -> None:
    """Fail before any model call when a variant reads a column that a row lacks.

    Set inclusion per row keeps this fast for large datasets; a row that lacks a variable is
    rendered for real, because a template may guard it (`{% if hint is defined %}`).
    """
    for variant in variants.values():
        check_template_variables(
            f"prompt '{variant.name}'", variant.variables, variant.render, examples, source=source
        )


def check_template_variables(
    label: str,
    variables: frozenset[str] | set[str],
    try_render: Callable[[Example], Any],
    examples: list[Example],
    *,
    source: str | None = None,
) -> None:
    """Check one set of templates (a variant, a metric's arguments) against every row.

    A row that lacks a variable is rendered (a template may guard it: `{% if x is defined %}`);
    so is the first row of every shape (the types of the values the templates read), because a
    value can break a template too (a number added to a string) and the sandbox refuses unsafe
    attributes whatever the row. Set inclusion and shapes keep this fast for large datasets."""
    needed = frozenset(variables)
    names = sorted(needed)
    shapes: set[tuple[str, ...]] = set()
    for example in examples:
        row = example.row
        if row.keys() >= needed:
            shape = tuple(type(row[name]).__name__ for name in names)
            if shape in shapes:
                continue
            shapes.add(shape)
        try:
            try_render(example)
        except SuiteError as exc:
            missing = sorted(needed - row.keys())
            if missing:
                raise _missing_error(label, missing[0], example, source) from None
            exc.message = f"{label}: {exc.message}"
            raise


def _missing_error(label: str, name: str, example: Example, source: str | None) -> SuiteError:
    where = _row_location(example, source)
    return SuiteError(
        f"{label} uses {{{{ {name} }}}} but row {example.id} ({where}) has no '{name}'",
        hint=f"the row has: {', '.join(sorted(example.row)) or 'no columns'}; "
        "rename a column with dataset.rename, or guard it: {% if x is defined %}",
    )


def _row_location(example: Example, source: str | None) -> str:
    if source is None:
        return f"line {example.line}"
    if source == "inline rows":
        return f"inline row {example.line}"
    return f"{source} line {example.line}"
