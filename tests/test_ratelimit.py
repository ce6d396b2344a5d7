"""The rate limiter's schedule, on a fake clock (no timing-sensitive asserts)."""

from __future__ import annotations

import asyncio
import time

import pytest

from evalkit.engine.ratelimit import RateLimiter


class FakeClock:
    """A clock that sleeping advances: sequential acquires see exactly their schedule."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(clock: FakeClock, **limits: float) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **limits)


async def test_rpm_paces_after_a_one_second_burst() -> None:
    clock = FakeClock()
    rpm = limiter(clock, rpm=600)  # one request per 0.1 s, 10 at once
    for _ in range(10):
        await rpm.acquire()
    assert clock.now == 0.0
    for _ in range(90):
        await rpm.acquire()
    assert clock.now == pytest.approx(9.0)


async def test_concurrent_callers_get_slots_in_arrival_order() -> None:
    clock = FakeClock()

    async def record(seconds: float) -> None:  # the clock stands still: waits add up
        clock.sleeps.append(seconds)

    rpm = RateLimiter(rpm=60, burst_requests=1, clock=clock, sleep=record)
    await asyncio.gather(*(rpm.acquire() for _ in range(5)))
    assert clock.sleeps == [1.0, 2.0, 3.0, 4.0]


async def test_tokens_go_into_debt_then_later_requests_wait() -> None:
    clock = FakeClock()
    tpm = limiter(clock, tpm=6000, burst_tokens=1)  # 100 tokens per second
    await tpm.acquire(1000)  # bigger than the bucket: starts now, pays later
    assert clock.now == 0.0
    await tpm.acquire(100)
    assert clock.now == pytest.approx(10.0)


async def test_commit_refunds_and_charges_the_estimate_error() -> None:
    clock = FakeClock()
    tpm = limiter(clock, tpm=6000, burst_tokens=1)
    await tpm.acquire(1000)
    tpm.commit(200, estimated_tokens=1000)  # used less than reserved
    await tpm.acquire(100)
    assert clock.now == pytest.approx(2.0)
    tpm.commit(600, estimated_tokens=100)  # used more: 5 s of extra debt from now
    await tpm.acquire(1)
    assert clock.now == pytest.approx(2.0 + 1.0 + 5.0)


async def test_requests_and_tokens_both_apply() -> None:
    clock = FakeClock()
    both = limiter(clock, rpm=60, tpm=60, burst_requests=1, burst_tokens=1)
    await both.acquire(5)
    await both.acquire(1)  # the request slot frees at 1 s, the tokens at 5 s
    assert clock.now == pytest.approx(5.0)
    await both.acquire(0)  # no tokens: only the request limit applies
    assert clock.now == pytest.approx(6.0)


async def test_no_limits_is_a_fast_path() -> None:
    def no_clock() -> float:
        raise AssertionError("the clock must not be read")

    free = RateLimiter(None, None, clock=no_clock)
    assert not free.enabled
    for _ in range(1000):
        await free.acquire(10_000)
    free.commit(5, estimated_tokens=10)


async def test_real_clock_spaces_requests() -> None:
    rpm = RateLimiter(rpm=60_000, burst_requests=1)  # one per millisecond
    start = time.monotonic()
    await asyncio.gather(*(rpm.acquire() for _ in range(31)))
    assert time.monotonic() - start >= 0.025


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rpm=-5)
