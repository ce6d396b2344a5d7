"""A deterministic provider for tests and docs.

Options (all optional):
  response:   a Jinja2-free template string; "{last}" is the last user message, "{row[x]}" a
              row field, "{repeat}" the repeat index. Default: "{last}" (echo). Nothing else
              is substituted: other braces (a JSON answer) stay as written.
  responses:  a mapping from a substring of the last user message to the response.
  column:     take the response from this row column (like replay, but through the engine).
  latency_ms: simulated latency (asyncio.sleep).
  fail_on:    a substring; when the last user message contains it, the call raises.
  fail_times: how many times a matching call fails before succeeding (default: always).
  calls_log:  a file that gets one line per call ("example|variant|repeat"), so a test can
              count calls across processes (e.g. an interrupted run and its resume).

`calls` counts calls per instance, and the class-level `CALLS` counts across instances, so tests
can assert that a resumed or cached run made no new calls. `requests` keeps the requests an
instance received and the class-level `REQUESTS` those of every instance (clear it with
`MockProvider.REQUESTS.clear()`), so tests can assert what was sent; both keep the first
KEEP_REQUESTS, so a large benchmark run does not grow without bound.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from evalkit.errors import ProviderError, SuiteError
from evalkit.providers.base import ProviderEntry, at_key
from evalkit.records import Generation, GenerationRequest, Usage
from evalkit.suite.schema import ModelConfig

KEEP_REQUESTS = 10_000
# {last}, {repeat} and {row[column]}: the only placeholders of `response`
PLACEHOLDER = re.compile(r"\{(last|repeat|row\[([^\[\]{}]+)\])\}")


class MockProvider:
    CALLS: ClassVar[Counter[str]] = Counter()
    REQUESTS: ClassVar[list[GenerationRequest]] = []

    def __init__(self, model_id: str, options: dict[str, Any]) -> None:
        self.model_id = model_id
        self.options = options
        self.calls = 0
        self.requests: list[GenerationRequest] = []
        self._failures: Counter[str] = Counter()

    async def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        MockProvider.CALLS[self.model_id] += 1
        for log in (self.requests, MockProvider.REQUESTS):
            if len(log) < KEEP_REQUESTS:
                log.append(request)
        last = _last_user(request)
        self._log_call(request)
        latency = float(self.options.get("latency_ms", 0))
        if latency:
            await asyncio.sleep(latency / 1000)
        self._maybe_fail(last, request)
        output = self._respond(last, request)
        usage = Usage(input_tokens=_words(request), output_tokens=len(output.split()))
        return Generation(output=output, usage=usage, latency_ms=latency)

    def _log_call(self, request: GenerationRequest) -> None:
        path = self.options.get("calls_log")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"{request.example_id}|{request.variant}|{request.repeat}\n")

    def _maybe_fail(self, last: str, request: GenerationRequest) -> None:
        marker = self.options.get("fail_on")
        if not marker or marker not in last:
            return
        key = f"{request.example_id}|{request.variant}|{request.repeat}"
        limit = self.options.get("fail_times")
        if limit is None or self._failures[key] < int(limit):
            self._failures[key] += 1
            raise ProviderError(f"mock failure on '{marker}'", retryable=limit is not None)

    def _respond(self, last: str, request: GenerationRequest) -> str:
        for needle, answer in (self.options.get("responses") or {}).items():
            if needle in last:
                return str(answer)
        column = self.options.get("column")
        if column:
            return str(request.row.get(column, ""))
        template = str(self.options.get("response", "{last}"))
        return fill(template, last, request)

    async def aclose(self) -> None:
        return None


def fill(template: str, last: str, request: GenerationRequest) -> str:
    """Substitute the three placeholders; any other brace is literal (str.format is not used)."""

    def value(match: re.Match[str]) -> str:
        name, column = match.group(1), match.group(2)
        if name == "last":
            return last
        if name == "repeat":
            return str(request.repeat)
        if column not in request.row:
            raise ProviderError(
                f"mock response names {{row[{column}]}}, a column this row does not have",
                hint=f"the row's columns: {', '.join(sorted(request.row)) or 'none'}",
            )
        return str(request.row[column])

    return PLACEHOLDER.sub(value, template)


def _last_user(request: GenerationRequest) -> str:
    users = [m["content"] for m in request.messages if m.get("role") == "user"]
    return users[-1] if users else ""


def _words(request: GenerationRequest) -> int:
    return sum(len(m.get("content", "").split()) for m in request.messages)


def check_config(config: ModelConfig, base_dir: Path | None = None) -> None:
    """The static check (validate): numeric options are numbers. Other keys are free-form."""
    for name, kind in (("latency_ms", float), ("fail_times", int)):
        value = config.options.get(name)
        if value is None:
            continue
        try:
            kind(value)
        except (TypeError, ValueError):
            with at_key("options", name):
                raise SuiteError(f"mock option '{name}' must be a number, not {value!r}") from None


def create(config: ModelConfig, base_dir: Path) -> MockProvider:
    check_config(config, base_dir)
    return MockProvider(config.id, dict(config.options))


ENTRY = ProviderEntry(create, check_config=check_config)
