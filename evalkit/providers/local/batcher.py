"""A worker thread that runs queued requests in batches, for providers whose work batches well.

    batcher = Batcher(run_batch, batch_size=8, batch_wait_ms=10)
    result = await batcher.submit(key, messages, params=...)   # from any event loop
    await batcher.aclose()

`run_batch(jobs) -> results` gets up to `batch_size` jobs that share one `key` and returns one
result per job, in order; it runs on the worker thread, so the event loop stays free while the
CPU does batch work. A failure of `run_batch` fails each job of that batch (the engine records
each item), never the worker. Nothing here imports torch: unit tests drive the batcher with a
fake batch function.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from evalkit.errors import ProviderError
from evalkit.records import Message

log = logging.getLogger(__name__)

BatchFn = Callable[[list["Job"]], list[Any]]


@dataclass(slots=True, eq=False)  # identity: two jobs are never "equal"
class Job:
    """One queued request: what the batch function needs, and where its answer goes."""

    key: Hashable  # only jobs with the same key share a batch
    messages: list[Message]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    params: Any = None
    seed: int = 0
    labels: tuple[str, ...] = ()


class Batcher:
    """One worker thread, one queue; see the module docstring."""

    def __init__(
        self,
        run_batch: BatchFn,
        *,
        batch_size: int = 8,
        batch_wait_ms: float = 10,
        name: str = "local",
    ) -> None:
        self.run_batch = run_batch
        self.batch_size = max(1, batch_size)
        self.batch_wait = batch_wait_ms / 1000
        self.name = name
        self.batches = 0  # batches run (tests and benchmarks read these)
        self.batched_items = 0
        self.sizes: list[int] = []  # the size of each batch run, in order
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name=f"evalkit-{name}", daemon=True)
        self.thread.start()

    async def submit(self, key: Hashable, messages: list[Message], **extra: Any) -> Any:
        """Queue one request and wait for its result (or its batch's error)."""
        if self.closed:
            raise ProviderError(f"the {self.name} provider is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(Job(key, messages, future, loop, **extra))
        return await future

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.put(None)
        await asyncio.to_thread(self.thread.join)

    # --- worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[Job] = []
        try:
            while not self._collect(pending):
                batch = take_batch(pending, self.batch_size)
                if batch:
                    self._process(batch)
        finally:
            # Closed, or (should never happen) the worker died: nobody may wait forever.
            self.closed = True
            leftovers: list[Job | None] = list(pending)
            with contextlib.suppress(queue.Empty):
                while True:
                    leftovers.append(self._queue.get_nowait())
            for job in leftovers:
                if job is not None:
                    resolve(job, error=ProviderError(f"the {self.name} provider was closed"))

    def _collect(self, pending: list[Job]) -> bool:
        """Fill `pending` from the queue; wait a few ms so concurrent requests form a batch.

        Returns True when aclose() asked the worker to stop.
        """
        if not pending:
            job = self._queue.get()
            if job is None:
                return True
            pending.append(job)
        deadline = time.monotonic() + self.batch_wait
        key = pending[0].key
        while sum(j.key == key for j in pending) < self.batch_size:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return True
            pending.append(job)
        return False

    def _process(self, batch: list[Job]) -> None:
        try:
            results = self.run_batch(batch)
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except Exception as exc:  # one failure fails the batch; the engine records each item
            log.debug("%s batch failed", self.name, exc_info=True)
            message = f"local generation failed: {type(exc).__name__}: {exc}"
            for job in batch:  # one exception object per awaiting task (tracebacks differ)
                resolve(job, error=ProviderError(message))
            return
        self.batches += 1
        self.batched_items += len(batch)
        self.sizes.append(len(batch))
        for job, result in zip(batch, results, strict=True):
            resolve(job, result=result)


def take_batch(pending: list[Job], size: int) -> list[Job]:
    """Remove and return up to `size` live jobs sharing the first live job's key (FIFO)."""
    pending[:] = [j for j in pending if not j.future.cancelled()]  # timed out while queued
    if not pending:
        return []
    key = pending[0].key
    batch = similar_lengths([j for j in pending if j.key == key][:size])
    taken = {id(j) for j in batch}
    pending[:] = [j for j in pending if id(j) not in taken]
    return batch


def prompt_chars(job: Any) -> int:
    return sum(len(m.get("content", "")) for m in job.messages)


def similar_lengths(batch: list[Job]) -> list[Job]:
    """Split a batch whose prompts differ a lot in length; keep the part with the oldest job.

    Left padding makes every row as long as the longest, so a short prompt batched with a
    1,000-token one costs as much as a long one. When splitting the batch at some length saves
    over 30% of the padded tokens, only the group holding the oldest job runs now (so no job
    waits forever); the rest stays queued for the next batch. Greedy outputs do not depend on
    the batch (see the package docstring), so this changes speed only.
    """
    if len(batch) < 2:
        return batch
    ordered = sorted(batch, key=prompt_chars, reverse=True)
    lengths = [prompt_chars(j) for j in ordered]
    full = len(batch) * lengths[0]
    costs = {k: k * lengths[0] + (len(batch) - k) * lengths[k] for k in range(1, len(batch))}
    split = min(costs, key=lambda k: costs[k])
    if costs[split] > 0.7 * full:
        return batch
    oldest_is_long = any(j is batch[0] for j in ordered[:split])
    group = ordered[:split] if oldest_is_long else ordered[split:]
    chosen = {id(j) for j in group}
    return [j for j in batch if id(j) in chosen]


def resolve(job: Job, result: Any = None, error: BaseException | None = None) -> None:
    """Settle a job's future on its own event loop (from the worker thread)."""

    def settle() -> None:
        if job.future.done():  # cancelled by a timeout meanwhile
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    # A closed loop raises RuntimeError: its caller is gone and nobody waits for the result.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(settle)
