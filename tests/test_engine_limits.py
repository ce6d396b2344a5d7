"""The engine's use of a model's rate limiter, and the retry policy, without a server."""

from __future__ import annotations

import random

import pytest

from evalkit.engine.calls import Metered, request_tokens
from evalkit.engine.pricing import estimate_tokens
from evalkit.engine.ratelimit import RateLimiter
from evalkit.engine.retry import RetryPolicy, call_with_retries
from evalkit.errors import ProviderError
from evalkit.records import Generation, GenerationRequest, Usage

MESSAGES = [{"role": "user", "content": "x" * 400}]  # about 100 tokens


class SpyLimiter:
    def __init__(self) -> None:
        self.events: list[tuple[str, float, float]] = []

    async def acquire(self, tokens: int = 0) -> None:
        self.events.append(("acquire", tokens, 0))

    def commit(self, actual_tokens: int, estimated_tokens: int = 0) -> None:
        self.events.append(("commit", actual_tokens, estimated_tokens))

    def pause(self, seconds: float) -> None:
        self.events.append(("pause", seconds, 0))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def request(**params: object) -> GenerationRequest:
    return GenerationRequest(messages=MESSAGES, params=dict(params), model="m")


def test_the_estimate_is_the_prompt_plus_max_tokens() -> None:
    assert request_tokens(request(max_tokens=64)) == estimate_tokens(MESSAGES) + 64
    assert request_tokens(request(max_completion_tokens=32)) == estimate_tokens(MESSAGES) + 32
    assert request_tokens(request()) == estimate_tokens(MESSAGES)


async def test_each_attempt_reserves_the_estimate_and_success_commits_usage() -> None:
    spy = SpyLimiter()
    failures = [ProviderError("busy", retryable=True, status=429, retry_after=0.01)]

    async def call(_: GenerationRequest) -> Generation:
        if failures:
            raise failures.pop()
        return Generation("ok", usage=Usage(30, 5))

    metered = Metered(spy, call, request_tokens(request(max_tokens=64)))
    policy = RetryPolicy(max_attempts=3, base_delay=0.0)
    gen = await call_with_retries(
        metered.call,
        request(max_tokens=64),
        policy,
        before_attempt=metered.before,
        on_error=metered.on_error,
    )
    estimate = metered.tokens
    assert gen.output == "ok" and gen.attempts == 2
    assert spy.events == [
        ("acquire", estimate, 0),
        ("pause", 0.01, 0),  # the 429's Retry-After pauses the whole model
        ("acquire", estimate, 0),
        ("commit", 35, estimate),
    ]


async def test_a_reply_without_usage_keeps_the_estimate() -> None:
    spy = SpyLimiter()

    async def call(_: GenerationRequest) -> Generation:
        return Generation("ok")

    metered = Metered(spy, call, 100)
    await metered.call(request())
    assert spy.events == []


async def test_pause_holds_every_caller_until_it_ends() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=6000, tpm=600_000, clock=clock, sleep=clock.sleep)
    await limiter.acquire(10)
    limiter.pause(2.0)
    await limiter.acquire(10)
    assert clock.now == pytest.approx(2.0)
    await limiter.acquire(10)  # then the steady pace, not a burst: the server just said "too many"
    assert clock.now == pytest.approx(2.0 + 60 / 6000)


def test_backoff_is_full_jitter_with_retry_after_as_a_floor() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(0)
    delays = [policy.delay(attempt, None, rng) for attempt in (1, 2, 3, 4, 5, 6) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert max(delays[:50]) <= 0.5 < max(delays[100:150])  # the ceiling doubles per attempt
    assert all(policy.delay(1, 3.0, rng) >= 3.0 for _ in range(50))


async def test_non_retryable_errors_fail_at_once_with_the_message() -> None:
    calls = 0

    async def call(_: GenerationRequest) -> Generation:
        nonlocal calls
        calls += 1
        raise ProviderError("openai: HTTP 400: bad param 'x'", status=400)

    gen = await call_with_retries(call, request(), RetryPolicy(max_attempts=5))
    assert calls == 1 and gen.attempts == 1
    assert gen.error == "openai: HTTP 400: bad param 'x'"  # the status is not said twice


async def test_a_timeout_is_retried_then_reported() -> None:
    import asyncio

    async def hang(_: GenerationRequest) -> Generation:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    policy = RetryPolicy(max_attempts=2, timeout=0.05, base_delay=0.0)
    gen = await call_with_retries(hang, request(), policy)
    assert gen.attempts == 2 and gen.error == "timed out after 0.05 s (after 2 attempts)"
