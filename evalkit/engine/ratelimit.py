"""Requests-per-minute and tokens-per-minute limits for one model, shared by its workers.

Each limit is a token bucket written in its "virtual scheduling" form (GCRA): the limiter keeps
the time at which its bucket will be empty again and hands every caller a start time, in the
order callers arrive. Reserving happens synchronously (no lock, no await), so concurrent
workers queue fairly, and a caller only ever sleeps until its own slot.

The bucket holds one second's worth of each limit (at least one request), so a run starts
quickly without the burst a whole minute's allowance would send at once: providers enforce
their per-minute limits over shorter windows too.

A request's tokens are an estimate when it starts (prompt + max_tokens); `commit` puts the
actual count on the books once the response says it, so later requests pay for the error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(slots=True)
class _Bucket:
    """One limit: `interval` seconds per unit, up to `burst` units at once."""

    interval: float
    tolerance: float  # how far ahead of now the schedule may run: (burst - 1) units
    empty_at: float = float("-inf")  # when the units reserved so far are paid for

    @classmethod
    def per_minute(cls, rate: float, burst: float | None) -> _Bucket:
        if rate <= 0:
            raise ValueError(f"a per-minute limit must be positive, got {rate}")
        size = burst if burst is not None else max(1.0, rate / 60)
        interval = 60.0 / rate
        return cls(interval=interval, tolerance=max(0.0, size - 1) * interval)

    def earliest(self, now: float) -> float:
        return max(now, self.empty_at - self.tolerance)

    def take(self, start: float, units: float) -> None:
        self.empty_at = max(self.empty_at, start) + units * self.interval


class RateLimiter:
    """Limit requests and tokens per minute; `None` turns a limit off.

    Example:
        limiter = RateLimiter(rpm=500, tpm=200_000)
        await limiter.acquire(tokens=estimate)
        generation = await provider.generate(request)
        limiter.commit(generation.usage.total_tokens, estimated_tokens=estimate)
    """

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        burst_requests: float | None = None,
        burst_tokens: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._requests = _Bucket.per_minute(rpm, burst_requests) if rpm else None
        self._tokens = _Bucket.per_minute(tpm, burst_tokens) if tpm else None
        self._clock = clock
        self._sleep = sleep
        self.enabled = bool(self._requests or self._tokens)

    async def acquire(self, tokens: int = 0) -> None:
        """Wait for a slot for one request of about `tokens` tokens."""
        if not self.enabled:
            return  # fast path: no clock read, no allocation
        now = self._clock()
        start = self._reserve(now, tokens)
        if start > now:
            await self._sleep(start - now)

    def commit(self, actual_tokens: int, estimated_tokens: int = 0) -> None:
        """Correct a request's token estimate once its usage is known."""
        bucket, extra = self._tokens, actual_tokens - estimated_tokens
        if bucket is None or extra == 0:
            return
        if extra > 0:
            bucket.take(self._clock(), extra)
        else:  # a refund: the next requests may start earlier
            bucket.empty_at += extra * bucket.interval

    def pause(self, seconds: float) -> None:
        """Start no request for `seconds` (a 429's Retry-After): every worker of the model waits.

        Without this, each worker would learn of the limit from its own 429, one at a time.
        Afterwards requests resume at the steady pace, without a burst: the server just said
        the model was over its limit.
        """
        if seconds <= 0:
            return
        resume = self._clock() + seconds
        for bucket in (self._requests, self._tokens):
            if bucket is not None:  # earliest() is then >= resume for every caller
                bucket.empty_at = max(bucket.empty_at, resume + bucket.tolerance)

    def _reserve(self, now: float, tokens: int) -> float:
        requests, token_bucket = self._requests, self._tokens
        start = now
        if requests:
            start = requests.earliest(start)
        if token_bucket and tokens > 0:
            start = token_bucket.earliest(start)
        if requests:
            requests.take(start, 1)
        if token_bucket and tokens > 0:
            token_bucket.take(start, tokens)
        return start
