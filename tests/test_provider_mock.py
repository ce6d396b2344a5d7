"""The mock provider: what it answers and what it keeps of the requests it received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import ProviderError
from evalkit.providers.base import create_provider
from evalkit.providers.mock import MockProvider
from evalkit.records import GenerationRequest
from evalkit.suite.schema import ModelConfig


@pytest.fixture(autouse=True)
def _clear_log() -> Iterator[None]:
    MockProvider.REQUESTS.clear()
    yield
    MockProvider.REQUESTS.clear()


def mock(**options: Any) -> MockProvider:
    provider = create_provider(ModelConfig(id="m", provider="mock", options=options), Path("."))
    assert isinstance(provider, MockProvider)
    return provider


def ask(text: str, row: dict[str, Any] | None = None, repeat: int = 0) -> GenerationRequest:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    return GenerationRequest(
        messages=messages, params={"temperature": 0}, model="", repeat=repeat, row=row or {}
    )


async def test_a_json_response_with_braces_is_returned_as_written() -> None:
    answer = '{"reasoning": "ok", "score": "pass"}'
    assert (await mock(response=answer).generate(ask("judge this"))).output == answer
    nested = '{"a": {"b": [1, 2]}, "c": "{not a placeholder}"}'
    assert (await mock(response=nested).generate(ask("x"))).output == nested


async def test_placeholders_last_row_and_repeat() -> None:
    provider = mock(response='{"echo": "{last}", "id": "{row[id]}", "r": {repeat}}')
    gen = await provider.generate(ask("hello", row={"id": "q7"}, repeat=2))
    assert gen.output == '{"echo": "hello", "id": "q7", "r": 2}'
    assert (await mock().generate(ask("plain echo"))).output == "plain echo"


async def test_a_missing_row_column_is_a_clear_provider_error() -> None:
    with pytest.raises(ProviderError, match=r"\{row\[answer\]\}") as err:
        await mock(response="{row[answer]}").generate(ask("x", row={"id": "1"}))
    assert "id" in (err.value.hint or "")


async def test_requests_are_kept_per_instance_and_in_the_class_log() -> None:
    first, second = mock(), mock()
    await first.generate(ask("one", row={"id": "1"}))
    await second.generate(ask("two"))
    await second.generate(ask("three"))
    assert [r.messages[-1]["content"] for r in first.requests] == ["one"]
    assert first.requests[0].row == {"id": "1"} and first.requests[0].params == {"temperature": 0}
    assert [r.messages[-1]["content"] for r in second.requests] == ["two", "three"]
    assert [r.messages[-1]["content"] for r in MockProvider.REQUESTS] == ["one", "two", "three"]
    MockProvider.REQUESTS.clear()
    assert MockProvider.REQUESTS == [] and len(second.requests) == 2
