"""User regular expressions, compiled once and matched with a time limit.

A pattern from a suite (a `regex` metric, lm-eval's `regexes_to_ignore`, a regex transform)
runs against model outputs nobody has seen yet. A pattern with catastrophic backtracking such
as `(a+)+$` takes exponential time on the wrong output, and Python's `re` cannot be
interrupted: one item would hang the run. The `regex` package (a dependency already, for
Unicode tokenization) matches with a `timeout`; an item whose match runs out of time is
unscored with the reason, and the run goes on.
"""

from __future__ import annotations

import functools
from typing import Any

from evalkit.errors import SuiteError
from evalkit.suite.limits import short

MATCH_TIMEOUT_S = 1.0  # per match; an honest pattern takes microseconds on any output


class PatternTimeout(Exception):
    """A match ran past MATCH_TIMEOUT_S (the metric is then unscored with this message)."""


class TimedPattern:
    """A compiled pattern whose search / fullmatch / findall / sub stop after the time limit."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self.pattern: str = compiled.pattern

    def _timed(self, method: str, text: str, *args: Any) -> Any:
        try:
            return getattr(self._compiled, method)(*args, text, timeout=MATCH_TIMEOUT_S)
        except TimeoutError:
            raise PatternTimeout(
                f"the regular expression {short(repr(self.pattern))} took over "
                f"{MATCH_TIMEOUT_S:g} s on a {len(text)}-character text (catastrophic "
                "backtracking? e.g. (a+)+ ); rewrite it without nested repetition"
            ) from None

    def search(self, text: str) -> Any:
        return self._timed("search", text)

    def fullmatch(self, text: str) -> Any:
        return self._timed("fullmatch", text)

    def findall(self, text: str) -> list[Any]:
        return list(self._timed("findall", text))

    def sub(self, replacement: str, text: str) -> str:
        return str(self._timed("sub", text, replacement))


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, flags: int = 0) -> TimedPattern:
    """Compile once per (pattern, flags); a bad pattern is a SuiteError (binding pre-checks).

    `flags` are the `re` module's (IGNORECASE, MULTILINE, DOTALL, ASCII); `regex`'s default
    (VERSION0) syntax is `re`'s."""
    import regex

    try:
        return TimedPattern(regex.compile(pattern, _regex_flags(flags)))
    except regex.error as exc:
        if "too big" in str(exc) or "too large" in str(exc):  # a{4294967296}
            raise _too_large(pattern, exc) from None
        raise SuiteError(
            f"invalid regular expression {short(repr(pattern))}: {short(exc, 160)}",
            hint="in YAML, single-quote patterns so backslashes stay as written: '\\d+'",
        ) from None
    except (OverflowError, RecursionError, ValueError, MemoryError) as exc:  # a{9999999999}
        raise _too_large(pattern, exc) from None


def _too_large(pattern: str, exc: BaseException) -> SuiteError:
    return SuiteError(
        f"the regular expression {short(repr(pattern))} is too large to compile"
        f" ({type(exc).__name__}: {short(exc, 80)})",
        hint="use smaller repetition counts and fewer nested groups",
    )


def _regex_flags(flags: int) -> int:
    """`re` flags as `regex` flags (ASCII has another value there)."""
    import re

    import regex

    pairs = [(re.IGNORECASE, regex.IGNORECASE), (re.MULTILINE, regex.MULTILINE)]
    pairs += [(re.DOTALL, regex.DOTALL), (re.ASCII, regex.ASCII), (re.VERBOSE, regex.VERBOSE)]
    return sum(int(theirs) for ours, theirs in pairs if flags & ours)
