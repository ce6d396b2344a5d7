"""Timeouts, retries with exponential backoff and jitter, honouring Retry-After.

This wrapper is the only place that retries: providers raise ProviderError(retryable=...) and
never loop themselves.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from evalkit.errors import ProviderError
from evalkit.providers.http import DEFAULT_TIMEOUT  # noqa: F401  (re-exported)
from evalkit.records import Generation, GenerationRequest


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    timeout: float | None = 120.0  # None: no limit (a local model's calls queue for a batch)
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full-jitter exponential backoff; a server's Retry-After is a floor, never ignored."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        backoff = rng.uniform(0, ceiling)
        if retry_after is not None:
            return max(retry_after, backoff)
        return backoff


Call = Callable[[GenerationRequest], Awaitable[Generation]]
BeforeAttempt = Callable[[], Awaitable[None]]
OnError = Callable[[ProviderError], None]


async def call_with_retries(
    call: Call,
    request: GenerationRequest,
    policy: RetryPolicy,
    *,
    before_attempt: BeforeAttempt | None = None,
    on_error: OnError | None = None,
    rng: random.Random | None = None,
) -> Generation:
    """Call the provider until it succeeds, fails for good, or attempts run out.

    Returns a Generation with `error` set instead of raising, so one failed item never stops
    the run; `attempts` records how many calls were made. `before_attempt` runs outside the
    timeout (a rate limiter's wait is not the server's fault); `on_error` sees every failure
    that will be retried (a 429 can pause the whole model, not only this item).
    """
    for attempt in range(1, policy.max_attempts + 1):
        if before_attempt is not None:
            await before_attempt()
        start = time.perf_counter()
        try:
            # asyncio.timeout, not wait_for: no extra task per call on the hot path
            async with asyncio.timeout(policy.timeout):
                gen = await call(request)
        except TimeoutError:
            error = ProviderError(f"timed out after {policy.timeout:g} s", retryable=True)
        except ProviderError as exc:
            error = exc
        except Exception as exc:  # a provider bug must not stop the run: record it
            error = ProviderError(f"{type(exc).__name__}: {exc}", retryable=False)
        else:
            if not gen.latency_ms:
                gen.latency_ms = (time.perf_counter() - start) * 1000
            gen.attempts = attempt
            return gen
        if not error.retryable or attempt == policy.max_attempts:
            return Generation(output=None, error=_describe(error, attempt), attempts=attempt)
        if on_error is not None:
            on_error(error)
        await asyncio.sleep(policy.delay(attempt, error.retry_after, rng or _RNG))
    raise AssertionError("unreachable")  # the loop always returns


_RNG = random.Random()  # jitter needs no seed; one shared generator saves one per call


def _describe(error: ProviderError, attempts: int) -> str:
    """The server's message, with its status unless the message already says it."""
    message = error.message
    if error.status and f"HTTP {error.status}" not in message:
        message = f"HTTP {error.status}: {message}"
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    return f"{message}{suffix}"
