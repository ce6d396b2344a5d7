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

from evalkit.engine.calls import CallStats, ModelCaller, ModelRuntime
from evalkit.engine.progress import NoProgress, ProgressSink
from evalkit.metrics.base import ScoreContext
from evalkit.metrics.bind import BoundMetric
from evalkit.records import Generation, Message, Score, WorkItem, result_record
from evalkit.results.schema import ResultRecord
from evalkit.results.store import RunStore


class Renderer(Protocol):
    def render(self, example: Any) -> list[Message]: ...


# A scoring hook runs after the metrics (graders use it): it may make judge calls. It gets the
# scores so far, so a grader can skip items whose cheap metrics already failed.
ScoreHook = Callable[
    [WorkItem, list[Message], Generation, dict[str, Score]], Awaitable[dict[str, Score]]
]


@dataclass
class EngineStats:
    done: int = 0
    errors: int = 0
    cached: int = 0
    stopped_reason: str | None = None
    error_samples: list[str] = field(default_factory=list)
    call_stats: CallStats = field(default_factory=CallStats)  # shared with the ModelCaller

    @property
    def calls(self) -> int:
        return self.call_stats.calls

    @property
    def spent(self) -> float:
        return self.call_stats.spent

    @property
    def spent_by_model(self) -> dict[str, float]:
        return self.call_stats.spent_by_model


class Engine:
    def __init__(
        self,
        *,
        run_id: str,
        variants: dict[str, Renderer],
        metrics: list[BoundMetric],
        models: dict[str, ModelRuntime],
        store: RunStore,
        caller: ModelCaller,
        concurrency: int,
        progress: ProgressSink | None = None,
        hooks: list[ScoreHook] | None = None,
        max_cost: float | None = None,
        max_errors: int | None = None,
        on_record: Callable[[ResultRecord], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.variants = variants
        self.metrics = metrics
        self.models = models
        self.store = store
        self.caller = caller
        self.concurrency = concurrency
        self.progress = progress or NoProgress()
        self.hooks = hooks or []
        self.max_cost = max_cost
        self.max_errors = max_errors
        self.on_record = on_record  # the run's in-memory view of what was written
        self.stats = EngineStats(call_stats=caller.stats)

    async def run(self, items: Iterable[WorkItem], total: int, done: int = 0) -> EngineStats:
        iterator = iter(items)
        self.progress.start(total, done)
        # one worker per slot, but never more than there are items: a huge concurrency setting
        # must not become a huge number of idle coroutines
        slots = max(1, min(self.concurrency, total - done))
        try:
            workers = [self._worker(iterator) for _ in range(slots)]
            await asyncio.gather(*workers)
        finally:
            self.progress.stop()
            self.caller.cache.flush()
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

    async def process(self, item: WorkItem) -> ResultRecord:
        runtime = self.models[item.model]
        messages = self.variants[item.variant].render(item.example)
        gen = await self.caller.generate(runtime, item, messages)
        scores = self._score(messages, item, gen) if gen.error is None else {}
        if gen.error is None:
            for hook in self.hooks:
                scores.update(await hook(item, messages, gen, dict(scores)))
            own = item.example.assertions
            if own is not None and own.verdict is not None:
                scores[own.verdict] = row_verdict(scores)
        record = result_record(self.run_id, item, messages, gen, scores)
        self.store.append(record)
        if self.on_record is not None:
            self.on_record(record)
        self._count(gen)
        return record

    def _score(self, messages: list[Message], item: WorkItem, gen: Generation) -> dict[str, Score]:
        ctx = ScoreContext(
            output=gen.output, row=item.example.row, generation=gen, messages=messages
        )
        own = item.example.assertions
        metrics = [*self.metrics, *own.metrics] if own is not None else self.metrics
        return {metric.name: metric.score(ctx) for metric in metrics}

    def _count(self, gen: Generation) -> None:
        self.stats.done += 1
        self.stats.cached += gen.cached
        if gen.error is not None:
            self.stats.errors += 1
            if len(self.stats.error_samples) < 5:
                self.stats.error_samples.append(gen.error)
        self.progress.advance(error=gen.error is not None, cached=gen.cached)


def row_verdict(scores: dict[str, Score]) -> Score:
    """Whether every assertion of one item passed, as promptfoo decides a test.

    A failed assertion fails the row; otherwise an unscored one leaves it unscored (never a
    pass); a row with no pass/fail assertion at all is unscored too, with the reason. Skipped
    graders (only_if) do not count: the metric that made them skip decides.
    """
    judged = {name: s for name, s in scores.items() if not s.skipped}
    failed = [name for name, s in judged.items() if s.passed is False]
    if failed:
        return Score(0.0, passed=False, reason=f"failed: {', '.join(failed)}")
    unscored = [name for name, s in judged.items() if s.value is None]
    if unscored:
        return Score(None, reason=f"unscored: {', '.join(unscored)}")
    if not any(s.passed for s in judged.values()):
        return Score(None, reason="no pass/fail assertion on this row")
    return Score(1.0, passed=True)
