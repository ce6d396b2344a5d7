"""A row's own chat messages as its prompt (`from_row: COLUMN`), as OpenAI Evals samples carry.

The column holds a list of {role, content} messages, each with an optional `name` (few-shot
turns in OpenAI Evals are `{"role": "system", "name": "example_user", ...}`), or a string, which
is one user message. The messages are sent as written: they are data, not templates, so a
`{{` in a sample reaches the model unchanged. `name` is passed on to the provider.

    variant:  prompts: {sample: {from_row: input}}
    row:      {"input": [{"role": "system", "content": "Answer briefly."},
                         {"role": "user", "content": "Capital of France?"}], "ideal": "Paris"}
"""

from __future__ import annotations

from typing import Any

from evalkit.errors import SuiteError
from evalkit.records import Example, Message

ROLES = ("system", "user", "assistant")
KEYS = ("role", "content", "name")


def row_messages(example: Example, column: str) -> list[Message]:
    """The messages in `column` of the example's row; SuiteError (no location) when malformed."""
    if column not in example.row:
        raise SuiteError(
            f"row {example.id} has no column '{column}' (from_row)",
            hint=f"the row has: {', '.join(sorted(example.row)) or 'no columns'}",
        )
    value = example.row[column]
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise SuiteError(
            f"'{column}' of row {example.id} is a {type(value).__name__}, not a list of messages",
            hint='write [{"role": "user", "content": "..."}] (or a string: one user message)',
        )
    return [_message(item, index, column, example) for index, item in enumerate(value)]


def _message(item: Any, index: int, column: str, example: Example) -> Message:
    where = f"'{column}'[{index}] of row {example.id}"
    if not isinstance(item, dict):
        raise SuiteError(f"{where} is not a message", hint='{"role": "user", "content": "..."}')
    unknown = sorted(set(item) - set(KEYS))
    if unknown:
        raise SuiteError(
            f"{where} has an unknown key '{unknown[0]}'", hint="keys: role, content, name"
        )
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise SuiteError(f"{where} has the role {role!r}", hint=f"roles: {', '.join(ROLES)}")
    if not isinstance(content, str):
        raise SuiteError(
            f"{where} has no text content ({type(content).__name__})",
            hint="content must be a string (images and tool calls are not supported here)",
        )
    message: Message = {"role": role, "content": content}
    name = item.get("name")
    if name is not None:
        if not isinstance(name, str) or not name:
            raise SuiteError(f"{where} has a name that is not a string")
        message["name"] = name
    return message


def check_row_messages(
    variant_name: str, column: str, examples: list[Example], source: str | None
) -> None:
    """Every row holds valid messages in `column`; the error says which row, file and line."""
    for example in examples:
        try:
            row_messages(example, column)
        except SuiteError as exc:
            exc.message = f"prompt '{variant_name}': {exc.message}"
            if source not in (None, "inline rows"):
                exc.file, exc.line = source, example.line
            raise
