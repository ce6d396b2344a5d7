"""The Ray executor: in-process models served by a Ray actor pool, outputs as in-process.

Fast: the pool's own logic (least in flight, errors rebuilt for the engine's retries, which
models it serves, a missing `ray` package) with stand-in actors. Slow: a real local Ray
cluster started on loopback by the test (`ray start --head`), with the mock provider and with
the real embedded model, against the same runs in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from mlflow_server import free_port

from evalkit.api import RunOptions, run
from evalkit.cli.main import cli
from evalkit.engine.executors import ExecutorSpec, RayPool, Replica, offloaded
from evalkit.errors import ProviderError, SuiteError
from evalkit.providers.mock import MockProvider
from evalkit.records import Generation, GenerationRequest, Usage
from evalkit.results.store import RunStore

ROWS = [{"id": f"q{i}", "question": f"Question {i}?", "expected": f"a{i}"} for i in range(12)]
MOCK_SUITE = """\
name: ray-mock
dataset: data.jsonl
prompts:
  plain: "{{ question }}"
  answer: "{{ question }} {{ expected }}"
models:
  - id: echo
    provider: mock
    options: {latency_ms: 5, response: "{last} #{repeat}"}
repeats: 2
concurrency: 8
metrics:
  - contains: "{{ expected }}"
"""


# --- the pool, with stand-in actors --------------------------------------------------------------


class FakeActor:
    """An actor handle as the pool sees it: `generate.remote(request)` is awaitable."""

    def __init__(self, name: str, answers: list[tuple[str, Any]] | None = None) -> None:
        self.name = name
        self.answers = answers
        self.calls = 0
        self.peak = 0
        self.active = 0
        self.generate = SimpleNamespace(remote=self._generate)
        self.aclose = SimpleNamespace(remote=self._aclose)

    async def _generate(self, request: GenerationRequest) -> tuple[str, Any]:
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        if self.answers:
            return self.answers.pop(0)
        return ("ok", Generation(output=f"{self.name}:{request.example_id}", usage=Usage(1, 1)))

    async def _aclose(self) -> None:
        return None


class Inner:
    capabilities = frozenset({"structured_output"})
    closed = False

    async def aclose(self) -> None:
        self.closed = True


def request(example_id: str = "q1") -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "user", "content": "hi"}], params={}, model="m", example_id=example_id
    )


async def test_calls_go_to_the_actor_with_the_fewest_in_flight() -> None:
    actors = [FakeActor("a"), FakeActor("b"), FakeActor("c")]
    pool = RayPool(actors, Inner())
    outputs = await asyncio.gather(*(pool.generate(request(f"q{i}")) for i in range(12)))
    assert [a.calls for a in actors] == [4, 4, 4] and all(a.peak == 4 for a in actors)
    assert sorted(o.output.split(":")[1] for o in outputs) == sorted(f"q{i}" for i in range(12))
    assert pool.in_flight == [0, 0, 0] and pool.capabilities == Inner.capabilities


async def test_an_actors_error_is_rebuilt_for_the_engines_retries() -> None:
    error = (
        "error",
        ("rate limited", {"retryable": True, "retry_after": 2.0, "status": 429, "hint": None}),
    )
    pool = RayPool([FakeActor("a", answers=[error])], Inner())
    with pytest.raises(ProviderError) as caught:
        await pool.generate(request())
    assert caught.value.retryable and caught.value.status == 429
    assert caught.value.retry_after == 2.0 and caught.value.message == "rate limited"

    class Dead(FakeActor):
        async def _generate(self, request: GenerationRequest) -> tuple[str, Any]:
            raise RuntimeError("The actor died unexpectedly before finishing this task.\nmore")

    with pytest.raises(ProviderError, match="ray actor failed: The actor died") as died:
        await RayPool([Dead("d")], Inner()).generate(request())
    assert died.value.retryable


async def test_closing_the_pool_closes_the_actors_and_the_drivers_provider() -> None:
    killed: list[str] = []
    inner = Inner()
    pool = RayPool([FakeActor("a"), FakeActor("b")], inner, kill=lambda a: killed.append(a.name))
    await pool.aclose()
    await pool.aclose()  # the runtimes close it again: nothing happens twice
    assert killed == ["a", "b"] and inner.closed


async def test_a_replica_runs_the_suites_provider_and_reports_its_errors() -> None:
    replica = Replica({"id": "m", "provider": "mock", "options": {"fail_on": "boom"}}, ".")
    assert await replica.ready() == ("ok", None)
    status, gen = await replica.generate(request())
    assert status == "ok" and gen.output == "hi"
    failing = GenerationRequest(messages=[{"role": "user", "content": "boom"}], params={}, model="")
    status, (message, fields) = await replica.generate(failing)
    assert status == "error" and "mock failure" in message and fields["retryable"] is False
    broken = Replica({"id": "m", "provider": "transformers", "options": {"nope": 1}}, ".")
    status, (message, _) = await broken.ready()
    assert status == "error" and "nope" in message


def test_the_pool_serves_in_process_models_under_test_only() -> None:
    def runtime(provider: str) -> Any:
        return SimpleNamespace(config=SimpleNamespace(provider=provider))

    runtimes = {"local": runtime("transformers"), "api": runtime("openai"), "j": runtime("mock")}
    assert offloaded(runtimes, ["local", "api", "j"], judges=["j"]) == ["local"]
    with pytest.raises(SuiteError, match="unknown executor 'spark'"):
        ExecutorSpec("spark").check()


def test_without_ray_installed_the_run_stops_with_one_line(write_suite, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    path = write_suite(MOCK_SUITE, rows=ROWS)
    out = CliRunner().invoke(cli, ["run", str(path), "-q", "--executor", "ray", "--run-id", "x"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "the ray executor needs the 'ray' package" in out.output
    assert "pip install 'evalkit[ray]'" in out.output
    assert not Path(os.environ["EVALKIT_RUNS_DIR"], "x").exists()  # nothing half made


# --- a real local cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(evalkit_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ray start --head --block` on loopback, in a session of its own so that stopping it
    stops its daemons and workers (and nothing else). Token auth is off (loopback only), so no
    token is written to the home folder; the workers see the session's model cache."""
    pytest.importorskip("ray")
    port, temp = free_port(), tmp_path_factory.mktemp("ray")
    env = {**os.environ, **RAY_ENV, "EVALKIT_CACHE_DIR": str(evalkit_cache_dir)}
    ray_bin = str(Path(sys.executable).with_name("ray"))
    start = [
        ray_bin,
        "start",
        "--head",
        "--block",
        "--port",
        str(port),
        "--node-ip-address",
        "127.0.0.1",
        "--num-cpus",
        "2",
        "--include-dashboard",
        "false",
        "--temp-dir",
        str(temp),
        "--disable-usage-stats",
    ]
    log = temp / "ray-start.log"
    with open(log, "wb") as out:
        head = subprocess.Popen(
            start, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for(log, head, "Ray runtime started")
        yield f"127.0.0.1:{port}"
    finally:
        _stop_session(head)


RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(autouse=True)
def _ray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)


def _wait_for(log: Path, proc: subprocess.Popen[bytes], text: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited: {content[-3000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"ray start did not come up: {log.read_text(errors='replace')[-3000:]}")


def _stop_session(head: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `ray start` (it stops its daemons), then whatever is left of its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.wait(timeout=30)
    for pid in _session_members(head.pid):  # workers run in their own process groups
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.wait(timeout=10)


def _session_members(sid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # after "pid (comm)": state ppid pgrp session
                members.append(int(stat.parent.name))
    return members


def outputs(run_dir: Path) -> dict[str, tuple[str | None, dict[str, Any], str | None]]:
    store = RunStore(run_dir.parent, run_dir.name)
    return {
        r.key: (r.output, {k: s.value for k, s in r.scores.items()}, r.error)
        for r in store.records()
    }


@pytest.mark.slow
def test_mock_on_the_cluster_equals_in_process_and_resumes(write_suite, cluster, tmp_path) -> None:
    path = write_suite(MOCK_SUITE, rows=ROWS)
    local = run(path, run_id="local", no_cache=True)
    calls = MockProvider.CALLS["echo"]
    on_ray = run(path, run_id="ray", executor="ray", ray_address=cluster, no_cache=True)
    assert MockProvider.CALLS["echo"] == calls  # every call ran in an actor, none here
    assert outputs(on_ray.run_dir) == outputs(local.run_dir)
    assert on_ray.summary.counts.done == local.summary.counts.total == 48
    assert json.loads((on_ray.run_dir / "summary.json").read_text())["status"] == "complete"

    # resume: a run cut short finishes on the cluster, the same record writer appending
    results = on_ray.run_dir / "results.jsonl"
    results.write_text("\n".join(results.read_text().splitlines()[:10]) + "\n")
    options = RunOptions(resume="ray", executor="ray", ray_address=cluster, no_cache=True)
    resumed = run(None, options)
    assert resumed.skipped == 10 and outputs(resumed.run_dir) == outputs(local.run_dir)

    # cache: served in the driver, so a cached re-run starts actors but calls none
    cached = run(path, run_id="cached", executor="ray", ray_address=cluster)
    again = run(path, run_id="again", executor="ray", ray_address=cluster)
    assert again.summary.counts.cached == again.summary.counts.done == 48
    assert outputs(again.run_dir) == outputs(cached.run_dir) == outputs(local.run_dir)


LOCAL_SUITE = """\
name: ray-local
dataset: data.jsonl
prompts:
  ask: "{{ question }} Answer in one word."
models:
  - id: smol
    provider: transformers
    params: {max_tokens: 8, temperature: 0}
    options: {batch_size: 4}
concurrency: 8
metrics:
  - icontains: "{{ expected }}"
"""
CAPITALS = [
    {"id": "fr", "question": "What is the capital of France?", "expected": "Paris"},
    {"id": "de", "question": "What is the capital of Germany?", "expected": "Berlin"},
    {"id": "it", "question": "What is the capital of Italy?", "expected": "Rome"},
    {"id": "es", "question": "What is the capital of Spain?", "expected": "Madrid"},
    {"id": "jp", "question": "What is the capital of Japan?", "expected": "Tokyo"},
    {"id": "eg", "question": "What is the capital of Egypt?", "expected": "Cairo"},
]


@pytest.mark.slow
def test_the_real_local_model_on_the_cluster_answers_as_in_process(write_suite, cluster) -> None:
    pytest.importorskip("transformers")
    path = write_suite(LOCAL_SUITE, rows=CAPITALS)
    local = run(path, run_id="local", no_cache=True)  # converts the model once (cached)
    on_ray = run(path, run_id="ray", executor="ray", ray_address=cluster, no_cache=True)
    assert outputs(on_ray.run_dir) == outputs(local.run_dir)
    assert all(output for output, _, error in outputs(on_ray.run_dir).values() if error is None)
    assert on_ray.summary.counts.errors == 0 and on_ray.summary.status == "complete"
