"""The local provider's batching worker, driven by a fake batch function (no torch, fast)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from evalkit.errors import ProviderError
from evalkit.providers.local import generation, scoring
from evalkit.providers.local.batcher import Batcher, Job, nearest_in_length
from evalkit.providers.local.provider import TransformersProvider
from evalkit.records import Generation, GenerationRequest, Usage


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


class FakeModel:
    """A batch function that echoes each prompt and records the batches it was given."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.keys: list[Any] = []
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, jobs: list[Job]) -> list[Any]:
        self.release.wait(5)  # the first batch may wait, so that later requests queue up
        self.batches.append([j.messages[-1]["content"] for j in jobs])
        self.keys.append(jobs[0].key)
        return [f"echo {j.messages[-1]['content']}" for j in jobs]


async def submit_all(batcher: Batcher, texts: list[str], key: Any = "k") -> list[Any]:
    return await asyncio.gather(*(batcher.submit(key, chat(t)) for t in texts))


async def test_concurrent_requests_run_as_one_batch_in_order() -> None:
    fake = FakeModel()
    batcher = Batcher(fake, batch_size=8, batch_wait_ms=50)
    texts = [f"q{i}" for i in range(8)]
    results = await submit_all(batcher, texts)
    await batcher.aclose()
    assert results == [f"echo {t}" for t in texts]
    assert fake.batches == [texts]
    assert (batcher.batches, batcher.batched_items, batcher.sizes) == (1, 8, [8])


async def test_batches_never_mix_keys_and_respect_the_size() -> None:
    fake = FakeModel(hold_first=True)
    batcher = Batcher(fake, batch_size=3, batch_wait_ms=20)
    first = asyncio.ensure_future(batcher.submit("a", chat("a0")))
    await asyncio.sleep(0.05)  # a0 is in the held batch; the rest queue behind it
    rest = [batcher.submit("a" if i % 2 else "b", chat(f"x{i}")) for i in range(7)]
    gathered = asyncio.gather(first, *rest)
    await asyncio.sleep(0.05)
    fake.release.set()
    await gathered
    await batcher.aclose()
    assert all(len(batch) <= 3 for batch in fake.batches)
    key_of = {"a0": "a", **{f"x{i}": "a" if i % 2 else "b" for i in range(7)}}
    for key, batch in zip(fake.keys, fake.batches, strict=True):
        assert {key_of[t] for t in batch} == {key}
    assert sorted(t for batch in fake.batches for t in batch) == sorted(
        ["a0", *(f"x{i}" for i in range(7))]
    )


async def test_a_failed_batch_fails_its_jobs_not_the_worker() -> None:
    calls = []

    def flaky(jobs: list[Job]) -> list[Any]:
        calls.append(len(jobs))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return ["ok" for _ in jobs]

    batcher = Batcher(flaky, batch_wait_ms=20)
    with pytest.raises(ProviderError, match="RuntimeError: out of memory") as err:
        await batcher.submit("k", chat("a"))
    assert err.value.retryable is False
    assert await batcher.submit("k", chat("b")) == "ok"
    await batcher.aclose()


async def test_a_batch_function_returning_too_few_results_fails_the_batch() -> None:
    batcher = Batcher(lambda jobs: [], batch_wait_ms=1)
    with pytest.raises(ProviderError, match="0 results for a batch of 1"):
        await batcher.submit("k", chat("a"))
    await batcher.aclose()


async def test_aclose_finishes_queued_jobs_and_refuses_new_ones() -> None:
    fake = FakeModel(hold_first=True)
    batcher = Batcher(fake, batch_size=1, batch_wait_ms=1)
    running = asyncio.ensure_future(batcher.submit("k", chat("running")))
    await asyncio.sleep(0.05)
    queued = asyncio.ensure_future(batcher.submit("k", chat("queued")))
    await asyncio.sleep(0.02)
    closing = asyncio.ensure_future(batcher.aclose())
    await asyncio.sleep(0.02)
    fake.release.set()
    await closing
    assert await running == "echo running"
    assert await queued == "echo queued"  # queued before aclose: run, not dropped
    with pytest.raises(ProviderError, match="closed"):
        await batcher.submit("k", chat("late"))
    assert not batcher.thread.is_alive()


async def test_a_job_cancelled_while_queued_is_never_run() -> None:
    fake = FakeModel(hold_first=True)
    batcher = Batcher(fake, batch_size=1, batch_wait_ms=1)
    running = asyncio.ensure_future(batcher.submit("k", chat("running")))
    await asyncio.sleep(0.05)
    with pytest.raises(asyncio.TimeoutError):  # the engine's call timeout does this
        await asyncio.wait_for(batcher.submit("k", chat("gave up")), 0.02)
    fake.release.set()
    assert await running == "echo running"
    assert await batcher.submit("k", chat("next")) == "echo next"
    await batcher.aclose()
    assert ["gave up"] not in fake.batches


async def test_the_provider_batches_generation_and_scoring_apart(monkeypatch) -> None:
    """TransformersProvider over a fake model: its queueing, keys and latency, without torch."""
    seen: list[tuple[str, int]] = []

    def fake_generate(loaded: Any, jobs: list[Job]) -> list[Generation]:
        seen.append(("generate", len(jobs)))
        return [Generation(output=j.messages[-1]["content"].upper(), usage=Usage()) for j in jobs]

    def fake_score(loaded: Any, jobs: list[Job]) -> list[dict[str, float]]:
        seen.append(("score", len(jobs)))
        return [{label: -1.0 for label in j.labels} for j in jobs]

    monkeypatch.setattr(generation, "generate_batch", fake_generate)
    monkeypatch.setattr(scoring, "score_batch", fake_score)
    loaded = type("Loaded", (), {"lock": threading.Lock()})()
    provider = TransformersProvider(lambda: loaded, batch_size=4, batch_wait_ms=50)  # type: ignore[arg-type,return-value]
    requests = [
        GenerationRequest(messages=chat(f"q{i}"), params={"max_tokens": 4}, model="m")
        for i in range(4)
    ]
    gens, scores = await asyncio.gather(
        asyncio.gather(*(provider.generate(r) for r in requests)),
        provider.score_labels(chat("rate it"), ["1", "2"]),
    )
    await provider.aclose()
    assert [g.output for g in gens] == ["Q0", "Q1", "Q2", "Q3"]
    assert all(g.latency_ms is not None and g.latency_ms >= 0 for g in gens)
    assert scores == {"1": -1.0, "2": -1.0}
    assert sorted(seen) == [("generate", 4), ("score", 1)]
    assert provider.batches == 2


def test_the_batcher_imports_no_torch() -> None:
    code = (
        "import sys, evalkit.providers.local.batcher, evalkit.providers.local.provider;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- full batches of similar length (issue 14) ---------------------------------------------------


async def run_two_variants(
    concurrency: int, batch_wait_ms: float, pause_s: float = 0, n: int = 60
) -> tuple[Batcher, list[str]]:
    """n prompts of two lengths, interleaved as the engine sends two variants, at a given
    concurrency; the fake model records each batch as a string of S (short) and L (long).

    The waits are long next to the callers' pauses, so a loaded machine's scheduling hiccups
    (tens of ms) cannot split a batch."""
    shapes: list[str] = []

    def model(jobs: list[Job]) -> list[Any]:
        shapes.append("".join("S" if j.size == 40 else "L" for j in jobs))
        time.sleep(0.01)
        return [None for _ in jobs]

    batcher = Batcher(
        model, batch_size=8, batch_wait_ms=batch_wait_ms, measure=lambda j: len(j.messages[0])
    )
    prompts = iter([("x" if i % 2 else "y") * (80 if i % 2 else 40) for i in range(n)])

    async def worker() -> None:
        for text in prompts:
            await batcher.submit("greedy", [text])  # type: ignore[list-item]
            if pause_s:  # the engine scores and writes the record, blocking the loop
                time.sleep(pause_s)
            else:
                await asyncio.sleep(0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await batcher.aclose()
    return batcher, shapes


async def test_two_variants_run_as_full_batches_of_one_length() -> None:
    batcher, shapes = await run_two_variants(concurrency=16, batch_wait_ms=200)
    assert batcher.batches == 8 and sum(batcher.sizes) == 60
    assert all(len(set(shape)) == 1 for shape in shapes), shapes  # no batch mixes the lengths
    assert batcher.sizes[:6] == [8] * 6


async def test_with_one_batch_in_flight_batches_stay_full() -> None:
    """concurrency = batch_size: no half batches (a 2x length difference is not worth one)."""
    batcher, _ = await run_two_variants(concurrency=8, batch_wait_ms=200, n=24)
    assert batcher.sizes == [8, 8, 8]


async def test_callers_that_come_back_slowly_still_fill_the_batch() -> None:
    """The 8 next requests come 50 ms apart, 400 ms in all, longer than batch_wait_ms:
    the wait extends with each arrival."""
    batcher, _ = await run_two_variants(concurrency=8, batch_wait_ms=150, pause_s=0.05, n=16)
    assert batcher.sizes == [8, 8]


def test_the_batch_is_the_oldest_jobs_neighbours_in_length() -> None:
    def job(size: int) -> Job:
        return Job("k", [], None, None, size=size)  # type: ignore[arg-type]

    jobs = [job(s) for s in (50, 10, 90, 52, 11, 49, 91, 48)]
    chosen = nearest_in_length(jobs, 4, lambda j: j.size or 0)
    assert [j.size for j in chosen] == [50, 52, 49, 48]  # queue order, around the oldest (50)
    ties = [job(30) for _ in range(6)]
    assert nearest_in_length(ties, 3, lambda j: 30) == ties[:3]  # equal lengths: oldest first


def test_unknown_lengths_are_estimated_and_measured_later() -> None:
    known: dict[int, int | None] = {}
    batcher = Batcher(lambda jobs: jobs, measure=lambda j: known.get(id(j)))
    job = Job("k", [{"role": "user", "content": "x" * 400}], None, None)  # type: ignore[arg-type]
    assert batcher._length(job) == 105 and job.size is None  # 400 chars / 4 + 5 per message
    known[id(job)] = 42
    assert batcher._length(job) == 42 and job.size == 42
    asyncio.run(batcher.aclose())
