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
  A `.txt` file may hold several prompts separated by lines of `---` (promptfoo's prompts
  file): each becomes a variant, named `<variant>-1`, `<variant>-2`, ...

A variant with `from_row: COLUMN` sends each row's own messages (see row_messages.py) after
the variant's messages; a message's `name` reaches the provider.

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
from evalkit.suite.loader import LoadedSuite, display_path
from evalkit.suite.schema import PromptVariant, Suite
from evalkit.suite.validation import validate_model
from evalkit.suite.yaml_lines import parse_yaml, text_line

from .render import compile_template, render, template_variables
from .row_messages import check_row_messages, row_messages

Lines = Mapping[tuple[str, ...], int]
_ROLE_MARKER = re.compile(r"^\{#-?\s*(system|user|assistant)\s*-?#\}\s*$", re.MULTILINE)
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)  # between prompts of a .txt file


@dataclass(frozen=True, slots=True)
class CompiledMessage:
    role: str
    source: str  # the template text, kept for logs, hashes and error messages
    template: Template
    origin: str  # the file the template was written in
    line: int | None = None
    name: str | None = None  # the speaker's name (few-shot turns), sent as the message's name


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    """A prompt variant ready to render: its message templates and the variables they read."""

    name: str
    messages: tuple[CompiledMessage, ...]
    variables: frozenset[str]
    template_text: str  # readable dump: "[system]\n...\n\n[user]\n..."
    hash: str  # changes when any role or template text changes
    from_row: str | None = None  # a column of each row holding its own messages

    def render(self, example: Example) -> list[Message]:
        rendered = [_rendered(m, example) for m in self.messages]
        if self.from_row is not None:
            rendered += row_messages(example, self.from_row)
        return rendered


def _rendered(message: CompiledMessage, example: Example) -> Message:
    content = render(
        message.template,
        example.row,
        example_id=example.id,
        origin=message.origin,
        line=example.line,
    )
    out: Message = {"role": message.role, "content": content}
    if message.name is not None:
        out["name"] = message.name
    return out


def make_variant(
    name: str, messages: list[CompiledMessage], from_row: str | None = None
) -> CompiledVariant:
    variables: set[str] = set()
    for message in messages:
        variables |= template_variables(message.source)
    text = "\n\n".join(f"[{_label(m)}]\n{m.source}" for m in messages)
    if from_row is not None:
        text += ("\n\n" if text else "") + f"[from_row: {from_row}]"
    parts: list[Any] = [[m.role, m.source, *([m.name] if m.name else [])] for m in messages]
    return CompiledVariant(
        name=name,
        messages=tuple(messages),
        variables=frozenset(variables),
        template_text=text,
        hash=stable_hash(parts + ([["from_row", from_row]] if from_row else [])),
        from_row=from_row,
    )


def _label(message: CompiledMessage) -> str:
    return message.role if message.name is None else f"{message.role} {message.name}"


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
    compiled: dict[str, CompiledVariant] = {}
    for name, variant in suite.prompts.items():
        loc = ("prompts", name)
        messages = _inline_messages(variant, loc, origin, lines or {})
        prompts = [messages]
        line = text_line(lines or {}, (*loc, "file")) or text_line(lines or {}, loc)
        if variant.file:
            prompts = [messages + p for p in _file_prompts(variant.file, base_dir, origin, line)]
        names = [name] if len(prompts) == 1 else [f"{name}-{i}" for i in range(1, len(prompts) + 1)]
        for variant_name, prompt in zip(names, prompts, strict=True):
            if variant_name in compiled or (variant_name != name and variant_name in suite.prompts):
                raise SuiteError(
                    f"prompt file {variant.file} makes the variant '{variant_name}', which the"
                    " suite already has",
                    file=origin,
                    line=line,
                    hint="rename the variant: a file with several prompts names them <name>-N",
                )
            compiled[variant_name] = make_variant(variant_name, prompt, variant.from_row)
    return compiled


def _inline_messages(
    variant: PromptVariant, loc: tuple[str, ...], origin: str, lines: Lines
) -> list[CompiledMessage]:
    out = []
    for index, message in enumerate(variant.messages):
        line = _message_line(lines, loc, index, message.role)
        template = compile_template(message.content, origin, line)
        out.append(
            CompiledMessage(message.role, message.content, template, origin, line, message.name)
        )
    return out


def _message_line(lines: Lines, loc: tuple[str, ...], index: int, role: str) -> int | None:
    """A message may have been written as loc[i], loc.messages[i], loc.<role> or loc itself."""
    for candidate in ((*loc, index, "content"), (*loc, "messages", index, "content"), (*loc, role)):
        line = text_line(lines, candidate)
        if line is not None:
            return line
    return text_line(lines, loc)


# --- prompt files -----------------------------------------------------------------------------


def _file_prompts(
    relpath: str, base_dir: Path, suite_file: str, suite_line: int | None
) -> list[list[CompiledMessage]]:
    """The prompts of a file: one, or several from a `.txt` file with `---` lines between."""
    path = Path(relpath).expanduser()
    path = path if path.is_absolute() else base_dir / path
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, IsADirectoryError):
        raise SuiteError(
            f"prompt file not found: {relpath}",
            file=suite_file,
            line=suite_line,
            hint=f"prompt paths are relative to the suite's folder ({display_path(base_dir)})",
        ) from None
    file = display_path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return [_yaml_messages(text, file)]
    if path.suffix.lower() != ".txt" or not _SEPARATOR.search(text):
        return [_text_messages(text, file)]
    prompts, start = [], 0
    for separator in [*_SEPARATOR.finditer(text), None]:
        end = separator.start() if separator is not None else len(text)
        chunk = text[start:end]
        if chunk.strip():
            offset = text.count("\n", 0, start)
            prompts.append(_text_messages(chunk, file, offset))
        start = separator.end() if separator is not None else end
    return prompts


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


def _text_messages(text: str, file: str, offset: int = 0) -> list[CompiledMessage]:
    """`offset`: lines of the file before `text` (a prompt after a `---` separator)."""
    sections = _split_sections(text, file)
    out = []
    for role, first, body in sections:
        line = first + offset
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
        if variant.from_row is not None:
            check_row_messages(variant.name, variant.from_row, examples, source)
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
    """Check one set of templates (a variant, a metric's arguments) against every row."""
    needed = frozenset(variables)
    for example in examples:
        if example.row.keys() >= needed:
            continue
        try:
            try_render(example)
        except SuiteError:
            missing = sorted(needed - example.row.keys())
            raise _missing_error(label, missing[0], example, source) from None


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
