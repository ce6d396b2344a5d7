"""Model calls as a run makes them: cache first, then the provider with limits and retries.

`ModelCaller.generate(runtime, item, messages)` is the one way a run calls a model: the engine
uses it for the matrix and the graders for their judges, so every call has its cache entry,
retries, rate limit and cost accounting in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalkit.engine.cache import NullCache, ResponseCache, cache_key
from evalkit.engine.pricing import estimate_tokens
from evalkit.engine.retry import RetryPolicy, call_with_retries
from evalkit.errors import ProviderError
from evalkit.providers.base import Provider
from evalkit.records import Generation, GenerationRequest, Message, Usage, WorkItem
from evalkit.suite.schema import ModelConfig


class Limiter(Protocol):
    async def acquire(self, tokens: int = 0) -> None: ...
    def commit(self, actual_tokens: int, estimated_tokens: int = 0) -> None: ...
    def pause(self, seconds: float) -> None: ...


CostFn = Callable[[Usage], float | None]


@dataclass
class ModelRuntime:
    config: ModelConfig
    provider: Provider
    identity: dict[str, Any]
    policy: RetryPolicy
    semaphore: asyncio.Semaphore | None = None
    limiter: Limiter | None = None
    cost: CostFn | None = None


@dataclass
class CallStats:
    calls: int = 0
    spent: float = 0.0  # $ of this session's calls (cache hits cost nothing), judges included
    spent_by_model: dict[str, float] = field(default_factory=dict)


class ModelCaller:
    def __init__(self, cache: ResponseCache | NullCache, stats: CallStats | None = None) -> None:
        self.cache = cache
        self.stats = stats or CallStats()

    async def generate(
        self, runtime: ModelRuntime, item: WorkItem, messages: list[Message]
    ) -> Generation:
        """Serve from the cache, else call the provider (with limits and retries) and cache.

        The price is applied after caching, so a changed price (a suite's `prices:`) also
        reprices cached outputs; only a cost the provider reported itself is cached.
        """
        params = runtime.config.params
        key = cache_key(runtime.identity, params, messages, item.repeat)
        gen = self.cache.get(key)
        fresh = gen is None
        if gen is None:
            request = GenerationRequest(
                messages=messages,
                params=params,
                model=runtime.config.model or "",
                repeat=item.repeat,
                row=item.example.row,
                example_id=item.example.id,
                variant=item.variant,
            )
            gen = await self._call(runtime, request)
            self.stats.calls += gen.attempts
            self.cache.put(key, gen)
        if gen.error is None and gen.cost is None and runtime.cost is not None:
            gen.cost = runtime.cost(gen.usage)
        if fresh and gen.cost:
            self._spend(runtime.config.id, gen.cost)
        return gen

    def _spend(self, model_id: str, amount: float) -> None:
        self.stats.spent += amount
        by_model = self.stats.spent_by_model
        by_model[model_id] = by_model.get(model_id, 0.0) + amount

    async def _call(self, runtime: ModelRuntime, request: GenerationRequest) -> Generation:
        call, before, on_error = runtime.provider.generate, None, None
        if runtime.limiter is not None:
            metered = Metered(runtime.limiter, call, request_tokens(request))
            call, before, on_error = metered.call, metered.before, metered.on_error
        if runtime.semaphore is None:
            return await call_with_retries(
                call, request, runtime.policy, before_attempt=before, on_error=on_error
            )
        async with runtime.semaphore:
            return await call_with_retries(
                call, request, runtime.policy, before_attempt=before, on_error=on_error
            )


def request_tokens(request: GenerationRequest) -> int:
    """What a request may use, for a tokens-per-minute limit: its prompt plus max_tokens."""
    params = request.params
    limit = params.get("max_completion_tokens") or params.get("max_tokens") or 0
    return estimate_tokens(request.messages) + int(limit)


class Metered:
    """One request's passage through its model's rate limiter.

    Each attempt reserves the estimate first; a success puts its real usage on the books; a
    429 with Retry-After pauses the whole model, so its other workers stop hammering too.
    """

    def __init__(
        self,
        limiter: Limiter,
        call: Callable[[GenerationRequest], Awaitable[Generation]],
        tokens: int,
    ) -> None:
        self.limiter = limiter
        self._call = call
        self.tokens = tokens

    async def before(self) -> None:
        await self.limiter.acquire(self.tokens)

    async def call(self, request: GenerationRequest) -> Generation:
        gen = await self._call(request)
        used = gen.usage.input_tokens + gen.usage.output_tokens
        if used:  # a server that reports no usage keeps the estimate on the books
            self.limiter.commit(used, self.tokens)
        return gen

    def on_error(self, error: ProviderError) -> None:
        if error.status == 429 and error.retry_after:
            self.limiter.pause(error.retry_after)
