"""What model calls cost: a default price table, suite overrides, and token estimates.

Prices are USD per 1M tokens, input and output. The table covers OpenAI's common chat models at
their standard (not batch, not cached-input) list prices; a suite's `prices:` overrides or
extends it, e.g. `prices: {my-azure-deployment: {input: 2.5, output: 10}}`. A model without a
price has no cost (None), which a cost gate reports as unscored rather than free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.errors import SuiteError
from evalkit.providers.http import is_loopback_url
from evalkit.records import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float


FREE = Price(0.0, 0.0)

# Prices as of 2025-08 (standard tier), from https://openai.com/api/pricing/ and
# https://platform.openai.com/docs/pricing. Check them before relying on a cost gate.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "o4-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o1": Price(15.00, 60.00),
    "o1-mini": Price(1.10, 4.40),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}

# Providers that run on this machine (or replay outputs that exist): nothing to pay per token.
LOCAL_PROVIDERS = frozenset({"transformers", "mock", "replay"})


def price_for(
    provider: str,
    model: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    base_url: str | None = None,
) -> Price | None:
    """The price of `model`: an override, else the default table; None when unknown.

    Names match exactly, else by the longest prefix followed by "-", so a dated snapshot costs
    what its family costs: price_for("openai", "gpt-4o-mini-2024-07-18") -> gpt-4o-mini's price.
    A model served on loopback (base_url) is local, hence free, unless an override says otherwise.
    """
    table = parse_overrides(overrides) if overrides else {}
    if provider in LOCAL_PROVIDERS or is_loopback_url(base_url):
        return _match(model, table) or FREE
    # One merged table, so an override for "gpt-4o" reprices gpt-4o's snapshots but not
    # gpt-4o-mini, whose own (longer) name still matches first.
    return _match(model, {**DEFAULT_PRICES, **table})


def cost(price: Price, usage: Usage) -> float:
    """USD for one call."""
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """A cheap token estimate for dry runs and rate limits: about 4 characters per token.

    English text averages close to 4 characters per token with OpenAI's tokenizers; each message
    adds a few tokens of chat framing. Good to ~20%, which is what a budget estimate needs.
    """
    messages = list(messages)
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return math.ceil(chars / 4) + 4 * len(messages)


def parse_overrides(overrides: Mapping[str, Any]) -> dict[str, Price]:
    """`{model: {input: USD/1M, output: USD/1M}}` (or Price values) -> {model: Price}."""
    table: dict[str, Price] = {}
    for model, value in overrides.items():
        if isinstance(value, Price):
            table[model] = value
            continue
        try:
            price = Price(float(value["input"]), float(value["output"]))
            if price.input < 0 or price.output < 0:
                raise ValueError("negative price")
        except (TypeError, KeyError, ValueError):
            raise SuiteError(
                f"the price of '{model}' must be {{input: USD, output: USD}} per 1M tokens",
                hint=f"e.g. prices: {{{model}: {{input: 0.15, output: 0.6}}}}",
            ) from None
        table[model] = price
    return table


def _match(model: str, table: Mapping[str, Price]) -> Price | None:
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name + "-")]
    return table[max(prefixes, key=len)] if prefixes else None
