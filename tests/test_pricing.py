"""Default prices, overrides, cost and token estimates."""

from __future__ import annotations

import pytest

from evalkit.engine.pricing import (
    DEFAULT_PRICES,
    FREE,
    Price,
    cost,
    estimate_tokens,
    is_loopback_url,
    price_for,
)
from evalkit.errors import SuiteError
from evalkit.records import Usage


def test_exact_and_dated_snapshot_names() -> None:
    assert price_for("openai", "gpt-4o") == Price(2.50, 10.00)
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for("openai", "gpt-4.1-nano-2025-04-14") == DEFAULT_PRICES["gpt-4.1-nano"]
    assert price_for("openai", "o3-mini-2025-01-31") == DEFAULT_PRICES["o3-mini"]
    assert price_for("openai", "gpt-5-mini") == DEFAULT_PRICES["gpt-5-mini"]


def test_prefix_needs_a_dash_boundary_and_unknown_models_have_no_price() -> None:
    assert price_for("openai", "gpt-4o2") is None
    assert price_for("openai", "llama-3-8b") is None
    assert price_for("function", "my-pipeline") is None


def test_every_requested_model_has_a_default() -> None:
    names = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini"]
    names += ["o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano"]
    assert all(name in DEFAULT_PRICES for name in names)


def test_local_models_are_free() -> None:
    assert price_for("transformers", "smollm2-135m-instruct") == FREE
    assert price_for("mock", "anything") == FREE
    assert price_for("openai", "gpt-4o", base_url="http://127.0.0.1:8000/v1") == FREE
    assert price_for("openai", "gpt-4o", base_url="https://proxy.example.com/v1") is not None


def test_overrides_win_and_match_by_prefix() -> None:
    overrides = {"gpt-4o": {"input": 1, "output": 2}, "my-deploy": Price(3, 4)}
    assert price_for("openai", "gpt-4o-2024-08-06", overrides) == Price(1.0, 2.0)
    assert price_for("openai", "my-deploy", overrides) == Price(3, 4)
    assert price_for("openai", "gpt-4o-mini", overrides) == DEFAULT_PRICES["gpt-4o-mini"]
    local = {"smollm2": {"input": 0.01, "output": 0.02}}  # e.g. an internal chargeback rate
    assert price_for("transformers", "smollm2", local) == Price(0.01, 0.02)


@pytest.mark.parametrize(
    "bad", [{"input": 1}, {"input": "x", "output": 1}, 3, {"input": -1, "output": 1}]
)
def test_bad_overrides_are_suite_errors(bad: object) -> None:
    with pytest.raises(SuiteError, match="per 1M tokens"):
        price_for("openai", "gpt-4o", {"gpt-4o": bad})


def test_cost() -> None:
    price = DEFAULT_PRICES["gpt-4o-mini"]
    assert cost(price, Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)
    assert cost(price, Usage(1000, 500)) == pytest.approx(0.00015 + 0.0003)
    assert cost(FREE, Usage(10**9, 10**9)) == 0.0


def test_estimate_tokens() -> None:
    messages = [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 41}]
    assert estimate_tokens(messages) == 21 + 8  # ceil(81 / 4) + 4 per message
    assert estimate_tokens([]) == 0
    assert estimate_tokens(iter([{"role": "user", "content": None}])) == 4


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.0.1.1/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        (None, False),
        ("", False),
    ],
)
def test_loopback_urls(url: str | None, local: bool) -> None:
    assert is_loopback_url(url) is local
