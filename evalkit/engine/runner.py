"""The engine: a pool of asyncio workers that run work items through cache, provider and scoring.

Workers pull from one lazy iterator of WorkItems, so memory stays flat however large the
matrix is. Each finished item is scored and appended to results.jsonl before the next one is
taken, so an interrupted run loses at most the calls in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalkit.engine.cache import NullCache, ResponseCache, cache_key
from evalkit.engine.pricing import estimate_tokens
from evalkit.engine.progress import NoProgress, ProgressSink
from evalkit.engine.retry import RetryPolicy, call_with_retries
from evalkit.errors import ProviderError
from evalkit.metrics.base import ScoreContext
from evalkit.metrics.bind import BoundMetric
from evalkit.providers.base import Provider
from evalkit.records import (
    Generation,
    GenerationRequest,
    Message,
    Score,
    Usage,
    WorkItem,
    result_record,
)
from evalkit.results.store import RunStore
from evalkit.suite.schema import ModelConfig


class Renderer(Protocol):
    def render(self, example: Any) -> list[Message]: ...


class Limiter(Protocol):
    async def acquire(self, tokens: int = 0) -> None: ...
    def commit(self, actual_tokens: int, estimated_tokens: int = 0) -> None: ...
    def pause(self, seconds: float) -> None: ...


CostFn = Callable[[Usage], float | None]
# A scoring hook runs after the metrics (graders use it): it may make judge calls. It gets the
# scores so far, so a grader can skip items whose cheap metrics already failed.
ScoreHook = Callable[
    [WorkItem, list[Message], Generation, dict[str, Score]], Awaitable[dict[str, Score]]
]


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
class EngineStats:
    done: int = 0
    errors: int = 0
    cached: int = 0
    calls: int = 0
    spent: float = 0.0  # $ of this session's calls (cache hits cost nothing), judges included
    spent_by_model: dict[str, float] = field(default_factory=dict)
    stopped_reason: str | None = None
    error_samples: list[str] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        *,
        run_id: str,
        variants: dict[str, Renderer],
        metrics: list[BoundMetric],
        models: dict[str, ModelRuntime],
        store: RunStore,
        cache: ResponseCache | NullCache,
        concurrency: int,
        progress: ProgressSink | None = None,
        hooks: list[ScoreHook] | None = None,
        max_cost: float | None = None,
        max_errors: int | None = None,
    ) -> None:
        self.run_id = run_id
        self.variants = variants
        self.metrics = metrics
        self.models = models
        self.store = store
        self.cache = cache
        self.concurrency = concurrency
        self.progress = progress or NoProgress()
        self.hooks = hooks or []
        self.max_cost = max_cost
        self.max_errors = max_errors
        self.stats = EngineStats()

    async def run(self, items: Iterable[WorkItem], total: int, done: int = 0) -> EngineStats:
        iterator = iter(items)
        self.progress.start(total, done)
        try:
            workers = [self._worker(iterator) for _ in range(max(1, self.concurrency))]
            await asyncio.gather(*workers)
        finally:
            self.progress.stop()
            self.cache.flush()
        return self.stats

    async def _worker(self, items: Iterator[WorkItem]) -> None:
        for item in items:
            if self.stats.stopped_reason:
                return
            await self.process(item)
            self._check_budgets()

    def _check_budgets(self) -> None:
        if self.max_cost is not None and self.stats.spent >= self.max_cost:
            self.stats.stopped_reason = (
                f"max_cost reached: ${self.stats.spent:.4f} spent of ${self.max_cost:g};"
                " no new items were started, and every finished one is kept"
            )
        elif self.max_errors is not None and self.stats.errors > self.max_errors:
            self.stats.stopped_reason = (
                f"error budget exceeded: {self.stats.errors} failed items"
                f" (allowed: {self.max_errors})"
            )

    async def process(self, item: WorkItem) -> dict[str, Any]:
        runtime = self.models[item.model]
        messages = self.variants[item.variant].render(item.example)
        gen = await self.generate(runtime, item, messages)
        scores = self._score(messages, item, gen) if gen.error is None else {}
        if gen.error is None:
            for hook in self.hooks:
                scores.update(await hook(item, messages, gen, dict(scores)))
        record = result_record(self.run_id, item, messages, gen, scores)
        self.store.append(record)
        self._count(gen)
        return record

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

    def _score(self, messages: list[Message], item: WorkItem, gen: Generation) -> dict[str, Score]:
        ctx = ScoreContext(
            output=gen.output, row=item.example.row, generation=gen, messages=messages
        )
        return {metric.name: metric.score(ctx) for metric in self.metrics}

    def _count(self, gen: Generation) -> None:
        self.stats.done += 1
        self.stats.cached += gen.cached
        if gen.error is not None:
            self.stats.errors += 1
            if len(self.stats.error_samples) < 5:
                self.stats.error_samples.append(gen.error)
        self.progress.advance(error=gen.error is not None, cached=gen.cached)


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
