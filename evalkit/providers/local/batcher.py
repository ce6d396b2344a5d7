"""A worker thread that runs queued requests in batches, for providers whose work batches well.

    batcher = Batcher(run_batch, batch_size=8, batch_wait_ms=10)
    result = await batcher.submit(key, messages, params=...)   # from any event loop
    await batcher.aclose()

`run_batch(jobs) -> results` gets up to `batch_size` jobs that share one `key` and returns one
result per job, in order; it runs on the worker thread, so the event loop stays free while the
CPU does batch work. A failure of `run_batch` fails each job of that batch (the engine records
each item), never the worker. Nothing here imports torch: unit tests drive the batcher with a
fake batch function.

Batches stay full and similar in length. Left padding makes every row of a batch as long as
its longest prompt, and a suite's prompt variants often differ in length (a terse prompt and
a few-shot one) while the engine interleaves them. So the worker looks at a window of queued
jobs (up to WINDOW_BATCHES batches' worth), sorts them by prompt length, and runs the
`batch_size` neighbours in length of the oldest job (so no job waits forever). A batch is
split below `batch_size` only when its lengths differ so much that the padding would cost
more than a second batch (a 1,000-token prompt among short ones); splitting more eagerly
leaves half-empty batches when the window holds just one batch (concurrency = batch_size).
Lengths come from `measure(job)` (the provider counts tokens with the model's chat template),
else from a character estimate.
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
Measure = Callable[["Job"], "int | None"]
Length = Callable[["Job"], int]
WINDOW_BATCHES = 4  # how many batches' worth of queued jobs are sorted by length
MAX_PADDING = 0.1  # a batch with more padding than this waits for jobs of its length
MAX_WAITS = 5  # the longest wait for a batch to fill, in batch_wait's


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
    size: int | None = None  # prompt length (tokens, or an estimate), measured once


class Batcher:
    """One worker thread, one queue; see the module docstring."""

    def __init__(
        self,
        run_batch: BatchFn,
        *,
        batch_size: int = 8,
        batch_wait_ms: float = 10,
        name: str = "local",
        measure: Measure | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.run_batch = run_batch
        # measure(job): a prompt's length in tokens, or None while it cannot tell (an estimate
        # is used meanwhile). prepare(): called on the worker thread when work arrives, before
        # batches are chosen (the provider loads its model there, so lengths are exact).
        self.measure = measure or estimate_tokens
        self.prepare = prepare
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
        closing = False
        try:
            while not closing or pending:
                # after aclose(), what was queued before it still runs; nothing new is taken
                closing = closing or self._collect(pending)
                batch = take_batch(pending, self.batch_size, self._length)
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
        """Fill `pending` until the next batch is full and of one length, or callers pause.

        A wait ends `batch_wait` after the last arrival (MAX_WAITS x batch_wait at most), so
        requests sent a few ms apart (the callers of the previous batch scoring and writing
        their results) still share a batch. Returns True when aclose() asked to stop.
        """
        if not pending:
            job = self._queue.get()
            if job is None:
                return True
            pending.append(job)
        if self.prepare is not None:
            self.prepare()
        now = time.monotonic()
        deadline, last = now + self.batch_wait, now + MAX_WAITS * self.batch_wait
        while len(pending) < WINDOW_BATCHES * self.batch_size and not self._ready(pending):
            try:
                job = self._queue.get(timeout=max(0.0, min(deadline, last) - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return True
            pending.append(job)
            deadline = time.monotonic() + self.batch_wait
        return False

    def _ready(self, pending: list[Job]) -> bool:
        """The next batch would be full and (nearly) free of padding: no reason to wait."""
        batch = choose_batch(pending, self.batch_size, self._length)
        full = len(batch) == self.batch_size
        return full and padding_share(batch, self._length) <= MAX_PADDING

    def _length(self, job: Job) -> int:
        if job.size is not None:
            return job.size
        try:
            size = self.measure(job)
        except Exception:  # a length only orders the queue: never fail a job for it
            log.debug("measuring a prompt failed", exc_info=True)
            size = estimate_tokens(job)
        if size is None:
            return estimate_tokens(job)  # not kept: the exact length may be known later
        job.size = int(size)
        return job.size

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


def take_batch(pending: list[Job], size: int, length: Length | None = None) -> list[Job]:
    """Remove and return the next batch: up to `size` live jobs sharing the oldest job's key,
    the oldest job's neighbours in prompt length within the window."""
    pending[:] = [j for j in pending if not j.future.cancelled()]  # timed out while queued
    batch = choose_batch(pending, size, length or estimate_tokens)
    taken = {id(j) for j in batch}
    pending[:] = [j for j in pending if id(j) not in taken]
    return batch


def choose_batch(pending: list[Job], size: int, length: Length) -> list[Job]:
    if not pending:
        return []
    key = pending[0].key
    same = [j for j in pending if j.key == key][: WINDOW_BATCHES * size]
    if len(same) > size:
        same = nearest_in_length(same, size, length)
    return similar_lengths(same, length)


def padding_share(batch: list[Job], length: Length) -> float:
    """The share of a batch's padded tokens that is padding."""
    lengths = [length(j) for j in batch]
    longest = max(lengths, default=0)
    return 1 - sum(lengths) / (len(lengths) * longest) if longest else 0.0


def nearest_in_length(jobs: list[Job], size: int, length: Length) -> list[Job]:
    """The `size` jobs, consecutive in length order, that hold jobs[0] and pad the least.

    Ties go to the older jobs. The result keeps the queue's order.
    """
    order = sorted(range(len(jobs)), key=lambda i: (length(jobs[i]), i))
    lengths = [length(jobs[i]) for i in order]
    oldest = order.index(0)
    starts = range(max(0, oldest - size + 1), min(oldest, len(jobs) - size) + 1)

    def waste(start: int) -> tuple[int, int]:
        window = lengths[start : start + size]
        return size * window[-1] - sum(window), sum(order[start : start + size])

    best = min(starts, key=waste)
    return [jobs[i] for i in sorted(order[best : best + size])]


def prompt_chars(job: Any) -> int:
    return sum(len(m.get("content", "")) for m in job.messages)


def estimate_tokens(job: Any) -> int:
    """About 4 characters per token, plus a chat template's few tokens per message."""
    return prompt_chars(job) // 4 + 5 * len(job.messages)


def similar_lengths(batch: list[Job], length: Length = prompt_chars) -> list[Job]:
    """Split a batch whose prompts differ a lot in length; keep the part with the oldest job.

    Left padding makes every row as long as the longest, so a short prompt batched with a
    1,000-token one costs as much as a long one. When splitting the batch at some length saves
    over 30% of the padded tokens, only the group holding the oldest job runs now (so no job
    waits forever); the rest stays queued for the next batch. Greedy outputs do not depend on
    the batch (see the package docstring), so this changes speed only.
    """
    if len(batch) < 2:
        return batch
    ordered = sorted(batch, key=length, reverse=True)
    lengths = [length(j) for j in ordered]
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
