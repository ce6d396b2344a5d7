"""Domain errors. The CLI translates them to one clear message and an exit code.

Every user-facing error carries where it happened (file and line when known) and a hint that
says what to do next. Nothing here imports a heavy dependency.
"""

from __future__ import annotations

from collections.abc import Iterable

# Exit codes are a contract (see DESIGN.md): CI scripts rely on them.
EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_INVALID = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


class EvalkitError(Exception):
    """Base class: a message, an optional location and a hint."""

    exit_code = EXIT_INVALID

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint

    def location(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def format(self) -> str:
        """One message: `file:line: message` then `hint: ...`."""
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return elide(text)


class SuiteError(EvalkitError):
    """The suite, a dataset, a template or a command-line option is invalid."""


class ProviderError(EvalkitError):
    """A model call failed. `retryable` tells the engine whether to try again."""

    exit_code = EXIT_INCOMPLETE

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class MissingDependencyError(EvalkitError):
    """An optional package is needed: the message names the pip extra."""


class MissingKeyError(EvalkitError):
    """An API key environment variable is not set."""


class GateError(EvalkitError):
    """A gate is misconfigured or cannot be decided."""


class RunIncompleteError(EvalkitError):
    """The run could not complete (errors past the budget, cost limit reached, ...)."""

    exit_code = EXIT_INCOMPLETE


_LONG_WORD = 200
_LONG_TEXT = 4000


def elide(text: str) -> str:
    """A message never repeats a huge value in full: long words and long texts are cut."""
    if len(text) <= _LONG_WORD:
        return text
    import re

    def cut(match: re.Match[str]) -> str:
        word = match.group(0)
        return f"{word[:60]}…({len(word):,} characters)…{word[-20:]}"

    text = re.sub(rf"\S{{{_LONG_WORD + 1},}}", cut, text)
    if len(text) > _LONG_TEXT:
        text = f"{text[: _LONG_TEXT - 200]}…({len(text):,} characters)…{text[-150:]}"
    return text


def missing_dependency(feature: str, extra: str, package: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"the {feature} needs the '{package}' package",
        hint=f"pip install 'evalkit[{extra}]'",
    )


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """Return "did you mean 'x'?" for the closest candidate, or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
