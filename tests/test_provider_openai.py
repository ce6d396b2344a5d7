"""The OpenAI provider against the project's fault server, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_server import FaultServer

from evalkit.errors import MissingKeyError, ProviderError, SuiteError
from evalkit.providers.base import create_provider
from evalkit.providers.openai import OpenAIProvider, retry_after
from evalkit.records import GenerationRequest
from evalkit.suite.schema import ModelConfig

SENTINEL = "sk-test-SENTINEL-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def fresh_server() -> Iterator[FaultServer]:
    """For tests that change server-wide settings."""
    with FaultServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)


def make(server: FaultServer, **overrides: Any) -> OpenAIProvider:
    fields: dict[str, Any] = {
        "id": "gpt",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "options": {"base_url": server.base_url},
        "timeout": 5.0,
    }
    fields.update(overrides)
    provider = create_provider(ModelConfig(**fields), Path("."))
    assert isinstance(provider, OpenAIProvider)
    return provider


def ask(prompt: str, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}],
        params=params,
        model="gpt-4o-mini",
    )


async def call(provider: OpenAIProvider, prompt: str, **params: Any) -> Any:
    try:
        return await provider.generate(ask(prompt, **params))
    finally:
        await provider.aclose()


async def failure(provider: OpenAIProvider, prompt: str, **params: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await call(provider, prompt, **params)
    return info.value


async def test_success_with_usage(server: FaultServer) -> None:
    gen = await call(make(server), "what is two plus two")
    assert gen.output == "ANSWER: what is two plus two"
    assert (gen.usage.input_tokens, gen.usage.output_tokens) == (7, 6)  # word counts
    assert gen.raw == {"finish_reason": "stop", "model": "gpt-4o-mini"}
    assert gen.latency_ms > 0


async def test_params_pass_through_and_unknown_ones_go_in_the_body(server: FaultServer) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    params = {"seed": 7, "temperature": 0, "stop": ["\n"], "response_format": schema, "top_k": 5}
    gen = await call(make(server), "params please", **params)
    assert json.loads(gen.output) == {"answer": "ANSWER: params please"}
    body = server.stats()["last_request"]["body"]
    assert body["seed"] == 7 and body["stop"] == ["\n"] and body["response_format"] == schema
    assert body["top_k"] == 5  # vendor-specific: sent through extra_body


async def test_max_tokens_truncates_and_reports_length(server: FaultServer) -> None:
    gen = await call(make(server), "one two three four five", max_tokens=2)
    assert gen.output == "ANSWER: one"
    assert gen.raw["finish_reason"] == "length"


async def test_logprobs_pass_through(server: FaultServer) -> None:
    gen = await call(make(server), "log me", logprobs=True, top_logprobs=2)
    entries = gen.raw["logprobs"]
    assert [e["token"] for e in entries] == ["ANSWER:", "log", "me"]
    assert entries[0]["logprob"] == pytest.approx(-0.01)
    assert len(entries[0]["top_logprobs"]) == 2
    assert set(entries[0]["top_logprobs"][0]) == {"token", "logprob"}


async def test_forced_tool_call_returns_its_arguments(server: FaultServer) -> None:
    tool = {"type": "function", "function": {"name": "reply", "parameters": {"type": "object"}}}
    choice = {"type": "function", "function": {"name": "reply"}}
    gen = await call(make(server), "use the tool", tools=[tool], tool_choice=choice)
    assert json.loads(gen.output) == {"answer": "ANSWER: use the tool"}
    assert gen.raw["tool_call"] == "reply"
    assert gen.raw["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("kind", ["500", "502", "503", "malformed", "empty", "html", "disconnect"])
async def test_transient_faults_are_retryable(server: FaultServer, kind: str) -> None:
    error = await failure(make(server), f"transient {kind} [fail:{kind}]")
    assert error.retryable, error.message
    assert SENTINEL not in error.format()


async def test_sdk_retries_are_off(server: FaultServer) -> None:
    prompt = "count my attempts [fail:500x5]"
    await failure(make(server), prompt)
    assert server.stats()["by_prompt"][prompt] == 1  # the engine retries, not the SDK


async def test_429_is_retryable_with_retry_after(server: FaultServer) -> None:
    error = await failure(make(server), "slow down [fail:429]")
    assert (error.retryable, error.status, error.retry_after) == (True, 429, 1.0)
    # the fault clears after its first attempt: a retry succeeds
    gen = await call(make(server), "slow down [fail:429]")
    assert gen.output == "ANSWER: slow down [fail:429]"


@pytest.mark.parametrize(("fmt", "expected"), [("ms", 2.5), ("none", None)])
async def test_retry_after_formats(
    fresh_server: FaultServer, fmt: str, expected: float | None
) -> None:
    fresh_server.configure(retry_after=2.5, retry_after_format=fmt)
    error = await failure(make(fresh_server), "[fail:429]")
    assert error.retry_after == expected


async def test_retry_after_as_http_date(fresh_server: FaultServer) -> None:
    fresh_server.configure(retry_after=30, retry_after_format="date")
    error = await failure(make(fresh_server), "[fail:429]")
    assert error.retry_after is not None and 25 <= error.retry_after <= 31


async def test_server_wide_faults_pick_prompts_by_hash(fresh_server: FaultServer) -> None:
    fresh_server.configure(fault_rate=1.0, fault_kind="503", fault_attempts=1)
    error = await failure(make(fresh_server), "any prompt")
    assert (error.retryable, error.status) == (True, 503)
    gen = await call(make(fresh_server), "any prompt")  # its second attempt succeeds
    assert gen.output == "ANSWER: any prompt"


def test_retry_after_parsing() -> None:
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert retry_after({"retry-after": past}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


async def test_timeout_is_retryable(server: FaultServer) -> None:
    start = time.perf_counter()
    error = await failure(make(server, timeout=0.3), "hang [fail:timeout]")
    assert error.retryable and "timed out after 0.3s" in error.message
    assert time.perf_counter() - start < 3


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_client_errors_are_final_with_the_server_message(
    server: FaultServer, status: int
) -> None:
    error = await failure(make(server), f"bad {status} [fail:{status}]")
    assert (error.retryable, error.status) == (False, status)
    assert f"fault_server: simulated {status} error" in error.message


async def test_key_never_leaks_into_errors(server: FaultServer) -> None:
    error = await failure(make(server), "who am i [fail:401]")  # the server echoes the key
    assert (error.retryable, error.status) == (False, 401)
    assert "Incorrect API key provided: ***" in error.message
    assert SENTINEL not in error.format() and SENTINEL not in repr(error.__dict__)
    assert error.__cause__ is None and error.__suppress_context__  # the SDK error is not chained


async def test_connection_refused_is_retryable() -> None:
    with FaultServer() as stopped:
        pass  # a port that was just in use and is now closed
    error = await failure(make(stopped), "anyone there")
    assert error.retryable and "connection error" in error.message
    assert SENTINEL not in error.format()


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    config = ModelConfig(id="gpt", provider="openai", model="gpt-4o-mini")
    with pytest.raises(MissingKeyError, match="environment variable OPENAI_API_KEY is not set"):
        create_provider(config, Path("."))
    named = config.model_copy(update={"options": {"api_key_env": "TEAM_KEY"}})
    with pytest.raises(MissingKeyError, match="TEAM_KEY") as info:
        create_provider(named, Path("."))
    assert info.value.hint and "api_key_env" in info.value.hint


async def test_loopback_needs_no_key(server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    gen = await call(make(server), "no key needed")
    assert gen.output == "ANSWER: no key needed"


async def test_extra_headers_are_sent(server: FaultServer) -> None:
    provider = make(server, options={"base_url": server.base_url, "headers": {"X-Team": "search"}})
    await call(provider, "headers")
    assert server.stats()["last_request"]["headers"]["x-team"] == "search"


async def test_azure_routes_to_the_deployment(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SENTINEL)
    options = {"azure_endpoint": server.url, "api_version": "2024-10-21", "deployment": "prod-4o"}
    gen = await call(make(server, options=options), "via azure")
    assert gen.output == "ANSWER: via azure"
    target = server.stats()["last_request"]["target"]
    assert target.startswith("/openai/deployments/prod-4o/chat/completions?api-version=")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"params": {"n": 2}}, "'n' must be 1"),
        ({"params": {"stream": True}}, "streaming is not supported"),
        ({"options": {"base_urll": "http://x"}}, "unknown option 'base_urll'"),
        ({"options": {"headers": {"Authorization": "Bearer x"}}}, "non-secret headers"),
        ({"options": {"api_version": "2024-10-21"}}, "needs options.azure_endpoint"),
        ({"options": {"max_connections": "many"}}, "positive integer"),
    ],
)
def test_invalid_config(fields: dict[str, Any], match: str) -> None:
    config = ModelConfig(id="gpt", provider="openai", model="gpt-4o-mini", **fields)
    with pytest.raises(SuiteError, match=match):
        create_provider(config, Path("."))


async def test_one_client_reuses_its_connections(fresh_server: FaultServer) -> None:
    fresh_server.configure(latency_ms=20)
    provider = make(fresh_server)
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with sem:
            await provider.generate(ask(f"reuse {i}"))

    await asyncio.gather(*(one(i) for i in range(48)))
    await provider.aclose()
    stats = fresh_server.stats()
    assert stats["by_status"] == {"200": 48}
    assert stats["max_in_flight"] == 8
    # kept alive and reused (the pool may open a spare or two as requests hand over)
    assert stats["connections_opened"] <= 12


async def test_big_pools_for_high_concurrency(server: FaultServer) -> None:
    provider = make(server, concurrency=200, options={"base_url": server.base_url})
    gen = await call(provider, "big pool")
    assert gen.output == "ANSWER: big pool"


def test_fault_server_runs_as_a_subprocess() -> None:
    with FaultServer(process=True, latency_ms=1) as server:
        assert server.configure(fault_rate=0.0)["latency_ms"] == 1
        server.reset()
        assert server.stats()["requests"] == 0


def test_the_static_param_list_matches_the_sdk() -> None:
    from evalkit.providers.openai import SDK_PARAMS
    from evalkit.providers.openai_config import KNOWN_PARAMS

    core = {"max_tokens", "max_completion_tokens", "temperature", "seed", "response_format"}
    assert core <= KNOWN_PARAMS
    assert KNOWN_PARAMS - {"extra_body"} <= SDK_PARAMS  # no name the SDK does not know


def test_a_misspelt_param_fails_at_create_as_in_validate() -> None:
    config = ModelConfig(id="gpt", provider="openai", model="m", params={"max_token": 5})
    with pytest.raises(SuiteError, match="unknown param 'max_token'"):
        create_provider(config, Path("."))


# --- several endpoints for one model (options.base_urls) ----------------------------------------


@pytest.fixture
def fleet() -> Iterator[list[FaultServer]]:
    """Three replicas of one model, each a real server on loopback."""
    with FaultServer() as a, FaultServer() as b, FaultServer() as c:
        yield [a, b, c]


def spread(servers: list[FaultServer], **overrides: Any) -> OpenAIProvider:
    options = {"base_urls": [s.base_url for s in servers]}
    return make(servers[0], options=options, **overrides)


def requests_per_server(servers: list[FaultServer]) -> list[int]:
    return [s.stats()["requests"] for s in servers]


async def test_concurrent_calls_spread_evenly_over_the_replicas(fleet: list[FaultServer]) -> None:
    for server in fleet:
        server.configure(latency_ms=50)
    provider = spread(fleet)
    gens = await asyncio.gather(*(provider.generate(ask(f"q{i}")) for i in range(30)))
    await provider.aclose()
    assert [g.output for g in gens] == [f"ANSWER: q{i}" for i in range(30)]
    assert requests_per_server(fleet) == [10, 10, 10]  # each call picked the least busy one


async def test_sequential_calls_go_round_robin(fleet: list[FaultServer]) -> None:
    provider = spread(fleet)
    for i in range(9):
        await provider.generate(ask(f"seq {i}"))
    await provider.aclose()
    assert requests_per_server(fleet) == [3, 3, 3]


async def test_a_slow_replica_gets_fewer_calls(fleet: list[FaultServer]) -> None:
    fast, slow = fleet[0], fleet[1]
    slow.configure(latency_ms=150)
    fast.configure(latency_ms=5)
    provider = spread([fast, slow])
    gate = asyncio.Semaphore(4)

    async def one(i: int) -> None:
        async with gate:
            await provider.generate(ask(f"load {i}"))

    await asyncio.gather(*(one(i) for i in range(40)))
    await provider.aclose()
    served_fast, served_slow = requests_per_server([fast, slow])
    assert served_fast + served_slow == 40
    assert served_fast > 3 * served_slow  # least in-flight: the slow one holds its calls longer


async def test_a_dead_replica_is_left_out_after_it_fails(fleet: list[FaultServer]) -> None:
    live = fleet[0]
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
    provider = make(live, options={"base_urls": [dead, live.base_url]})
    with pytest.raises(ProviderError) as err:
        for i in range(2):  # round-robin reaches the dead one within two calls
            await provider.generate(ask(f"probe {i}"))
    assert err.value.retryable and f"(at {dead})" in err.value.message
    for i in range(6):  # the retry and later calls go to the live replica
        assert (await provider.generate(ask(f"after {i}"))).output == f"ANSWER: after {i}"
    await provider.aclose()
    assert provider.pool.calls()[dead] == 1


async def test_replicas_on_loopback_need_no_key(
    fleet: list[FaultServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    gen = await call(spread(fleet), "no key")
    assert gen.output == "ANSWER: no key"
    with pytest.raises(MissingKeyError):  # one endpoint off loopback: a key is needed
        make(fleet[0], options={"base_urls": [fleet[0].base_url, "https://api.example.com/v1"]})


def test_base_urls_must_be_a_list_of_urls() -> None:
    for bad, match in [("http://one", "must be a list"), (["ftp://x"], r"base_urls\[0\]")]:
        config = ModelConfig(id="g", provider="openai", model="m", options={"base_urls": bad})
        with pytest.raises(SuiteError, match=match):
            create_provider(config, Path("."))


def test_a_fully_cached_rerun_never_imports_the_sdk(server: FaultServer, tmp_path: Path) -> None:
    """The client is built by the first call: a re-run served from the cache skips the SDK's
    import (about 0.6 s of a short command); a missing key still fails before the run."""
    import subprocess
    import sys

    (tmp_path / "data.jsonl").write_text('{"id": "a", "q": "hi"}\n{"id": "b", "q": "yo"}\n')
    model = {
        "id": "g",
        "provider": "openai",
        "model": "m",
        "options": {"base_url": server.base_url},
    }
    suite = {
        "name": "lazy",
        "dataset": "data.jsonl",
        "prompts": {"p": "{{ q }}"},
        "models": [model],
        "metrics": [{"contains": "hi"}],
        "tracking": {"enabled": False},
    }
    (tmp_path / "s.yaml").write_text(json.dumps(suite))  # JSON is YAML
    script = (
        "import sys; from evalkit.api import run; r = run(sys.argv[1], runs_dir=sys.argv[2]);"
        " print(r.summary.counts.cached, 'openai' in sys.modules)"
    )
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}

    def once() -> str:
        args = [sys.executable, "-c", script, str(tmp_path / "s.yaml"), str(tmp_path / "runs")]
        done = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
        return done.stdout.split()[-2] + " " + done.stdout.split()[-1]

    assert once() == "0 True"  # the first run calls the server
    assert once() == "2 False"  # the re-run: every item cached, the SDK never imported


@pytest.mark.parametrize("transport", ["aiohttp", "httpx", None])
async def test_both_transports_answer_and_fail_alike(server: FaultServer, transport: Any) -> None:
    options: dict[str, Any] = {"base_url": server.base_url}
    if transport:
        options["transport"] = transport
    provider = make(server, options=options)
    gen = await call(provider, "what is two plus two")
    assert gen.output == "ANSWER: what is two plus two"
    kind = type(provider.pool.endpoints[0].client._client).__name__
    assert ("AioHttp" in kind) == (transport != "httpx"), kind  # aiohttp: the default
    error = await failure(make(server, options=options), f"who is {transport} [fail:401]")
    assert (error.retryable, error.status) == (False, 401)
    with FaultServer() as stopped:
        pass
    refused = await failure(make(stopped, options={**options, "base_url": stopped.base_url}), "x")
    assert refused.retryable and "connection error" in refused.message


def test_an_unknown_transport_is_a_suite_error() -> None:
    config = ModelConfig(id="g", provider="openai", model="m", options={"transport": "curl"})
    with pytest.raises(SuiteError, match=r"options\.transport must be one of aiohttp, httpx"):
        create_provider(config, Path("."))
