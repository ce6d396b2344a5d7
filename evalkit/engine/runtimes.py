"""Turn the suite's model configs into live runtimes: provider, limits, retry policy, pricing.

Providers are created here, before the first call, so a missing key or package fails the run
at once with a clear message instead of failing every item.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.engine.calls import CostFn, Limiter, ModelRuntime
from evalkit.engine.retry import DEFAULT_TIMEOUT, RetryPolicy
from evalkit.errors import EvalkitError
from evalkit.providers.base import (
    QUEUED_BATCHES,
    create_provider,
    load_factory,
    model_identity,
    provider_capabilities,
)
from evalkit.suite.schema import ModelConfig, Suite

if TYPE_CHECKING:
    from evalkit.engine.pricing import Price


@contextlib.asynccontextmanager
async def open_runtimes(
    suite: Suite, model_ids: list[str], base_dir: Path
) -> AsyncIterator[dict[str, ModelRuntime]]:
    """The run's runtimes, closed when the block ends however it ends (one place only)."""
    runtimes: dict[str, ModelRuntime] = {}
    try:
        create_runtimes(suite, model_ids, base_dir, created=runtimes)
        yield runtimes
    finally:
        await close_runtimes(runtimes)


def create_runtimes(
    suite: Suite,
    model_ids: list[str],
    base_dir: Path,
    *,
    created: dict[str, ModelRuntime] | None = None,
) -> dict[str, ModelRuntime]:
    """Runtimes for `model_ids` (the models under test, then judges), each created once.

    `created` receives each runtime as it is made, so a later failure (a missing key) leaves
    the caller able to close the ones that exist."""
    wanted = list(dict.fromkeys(model_ids))
    for model_id in wanted:  # fail on an unknown provider before creating any
        load_factory(suite.model(model_id).provider)
    runtimes = created if created is not None else {}
    prices = _suite_prices(suite)
    for model_id in wanted:
        config = suite.model(model_id)
        runtimes[model_id] = build_runtime(config, base_dir, suite_prices=prices)
    return runtimes


def call_timeout(config: ModelConfig) -> float | None:
    if config.timeout is not None:
        return config.timeout
    # A local model's call waits in the batch queue behind other batches: a wall-clock limit
    # would time out queued work (and retrying re-queues it), while the compute itself cannot
    # be cancelled. Such providers declare the capability.
    queued = QUEUED_BATCHES in provider_capabilities(config.provider)
    return None if queued else DEFAULT_TIMEOUT


def build_runtime(
    config: ModelConfig, base_dir: Path, suite_prices: dict[str, dict[str, float]] | None = None
) -> ModelRuntime:
    provider = create_provider(config, base_dir)
    policy = RetryPolicy(
        max_attempts=config.max_attempts,
        timeout=call_timeout(config),
        base_delay=config.backoff_base,
        max_delay=config.backoff_max,
    )
    return ModelRuntime(
        config=config,
        provider=provider,
        identity=model_identity(config),
        policy=policy,
        semaphore=asyncio.Semaphore(config.concurrency) if config.concurrency else None,
        limiter=_limiter(config),
        cost=_cost_fn(config, suite_prices),
    )


def _suite_prices(suite: Suite) -> dict[str, dict[str, float]] | None:
    return {name: price.model_dump() for name, price in suite.prices.items()} or None


def _limiter(config: ModelConfig) -> Limiter | None:
    if config.rpm is None and config.tpm is None:
        return None
    from evalkit.engine.ratelimit import RateLimiter

    return RateLimiter(rpm=config.rpm, tpm=config.tpm)


def _cost_fn(config: ModelConfig, overrides: dict[str, dict[str, float]] | None) -> CostFn | None:
    from evalkit.engine.pricing import cost

    price = model_price(config, overrides)
    if price is None:
        return None
    return lambda usage: cost(price, usage)


def model_price(config: ModelConfig, overrides: Mapping[str, Any] | None) -> Price | None:
    """A model's price: `prices:` keyed by its id, else by its model name, else the defaults."""
    from evalkit.engine.pricing import parse_overrides, price_for

    if overrides and config.id in overrides and config.id != config.model:
        return parse_overrides({config.id: overrides[config.id]})[config.id]
    base_url = config.options.get("base_url")
    return price_for(config.provider, config.model or "", overrides, base_url=base_url)


async def close_runtimes(runtimes: dict[str, ModelRuntime]) -> None:
    for runtime in runtimes.values():
        try:
            await runtime.provider.aclose()
        except EvalkitError as exc:  # closing must never hide the run's own outcome
            warnings.warn(f"closing model {runtime.config.id}: {exc.message}", stacklevel=1)
