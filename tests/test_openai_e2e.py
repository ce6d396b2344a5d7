"""The openai provider through `evalkit run`, against the fault server on loopback.

Every item completes or is recorded as failed with its reason; the attempts the server saw per
prompt match the records' `attempts` and the retry policy; Retry-After is honoured; costs add
up from the price table (a suite's `prices:`) to the item, the cell and the run; `max_cost`
stops a run that --resume then finishes; `--dry-run` calls and writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fault_server import FaultServer

from evalkit.api import RunOptions, dry_run, run_suite
from evalkit.api.session import _warn_unpriced
from evalkit.cli.main import cli

# USD per 1M tokens: big enough that one item costs about a tenth of a cent
PRICE_IN, PRICE_OUT = 100.0, 200.0


@pytest.fixture(scope="module")
def running() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def server(running: FaultServer) -> FaultServer:
    running.configure(retry_after=1.0, retry_after_format="seconds", latency_ms=0, hang_s=300)
    running.reset()
    return running


def suite_text(server: FaultServer, **extra: Any) -> str:
    model = {
        "id": "gpt",
        "provider": "openai",
        "model": "fault-model",
        "params": {"max_tokens": 64, "temperature": 0},
        "options": {"base_url": server.base_url},
        "timeout": 0.5,
        "max_attempts": 3,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        **extra.pop("model", {}),
    }
    suite = {
        "name": "openai-e2e",
        "dataset": "data.jsonl",
        "prompts": {"plain": "{{ question }}"},
        "models": [model],
        "metrics": [{"contains": "{{ expected }}"}],
        "concurrency": 4,
        "error_budget": 1.0,
        **extra,
    }
    return json.dumps(suite, indent=2)  # JSON is YAML


def write(tmp_path: Path, text: str, questions: list[str]) -> Path:
    rows = [{"id": f"q{i}", "question": q, "expected": "ANSWER"} for i, q in enumerate(questions)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def records(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """question -> its latest record, over every run in the runs folder."""
    by_question: dict[str, dict[str, Any]] = {}
    for path in sorted((tmp_path / "runs").glob("*/results.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            by_question[record["inputs"]["question"]] = record
    return by_question


def only_run(tmp_path: Path) -> Path:
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    return run


# --- retries: every item completes or fails with its reason --------------------------------

FAULTS = {
    # prompt -> (attempts the policy allows, error substring or None for success)
    "fine": (1, None),
    "rate limited twice [fail:429x2]": (3, None),
    "one 500 [fail:500]": (2, None),
    "one 503 then fine [fail:503]": (2, None),
    "hangs once [fail:timeout]": (2, None),
    "dropped once [fail:disconnect]": (2, None),
    "bad request [fail:400]": (1, "HTTP 400: fault_server: simulated 400 error"),
    "no such model [fail:404]": (1, "HTTP 404: fault_server: simulated 404 error"),
    "always broken [fail:malformedx*]": (3, "malformed response"),
    "always down [fail:503x*]": (3, "HTTP 503"),
    "always hangs [fail:timeoutx*]": (3, "timed out"),
}


def test_every_item_completes_or_fails_with_its_reason(server: FaultServer, tmp_path: Path):
    server.configure(retry_after=0.05)  # keep the 429s quick here; timing has its own test
    suite = write(tmp_path, suite_text(server), list(FAULTS))
    result = invoke("run", str(suite), "-q")
    assert result.exit_code == 0, result.output  # no gates: failed items do not fail the run
    got = records(tmp_path)
    assert sorted(got) == sorted(FAULTS)  # nothing lost, nothing doubled
    assert len((only_run(tmp_path) / "results.jsonl").read_text().splitlines()) == len(FAULTS)
    seen = server.stats()["by_prompt"]
    for prompt, (attempts, error) in FAULTS.items():
        record = got[prompt]
        assert record["attempts"] == attempts == seen[prompt], prompt
        if error is None:
            assert record["error"] is None and record["output"] == f"ANSWER: {prompt}", prompt
            assert record["scores"]["contains"]["passed"] is True
        else:
            assert error in record["error"], record["error"]
            assert record["output"] is None and record["scores"] == {}
    assert "(after 3 attempts)" in got["always down [fail:503x*]"]["error"]
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["counts"]["errors"] == 5 and summary["status"] == "complete"
    assert "5 items failed" in result.output


def test_client_errors_fail_at_once_with_the_servers_message(server: FaultServer, tmp_path):
    suite = write(tmp_path, suite_text(server), ["unprocessable [fail:422]"])
    run_suite(suite)
    record = records(tmp_path)["unprocessable [fail:422]"]
    assert record["attempts"] == 1 and server.stats()["requests"] == 1
    assert record["error"] == "openai: HTTP 422: fault_server: simulated 422 error"


def test_a_429_waits_for_its_retry_after(server: FaultServer, tmp_path: Path):
    server.configure(retry_after=1.0)
    suite = write(tmp_path, suite_text(server), ["wait for me [fail:429]"])
    start = time.perf_counter()
    run_suite(suite)
    elapsed = time.perf_counter() - start
    record = records(tmp_path)["wait for me [fail:429]"]
    assert record["error"] is None and record["attempts"] == 2
    # the backoff alone would be <= 0.01 s; Retry-After: 1 is a floor
    assert elapsed >= 1.0


def test_retry_after_in_milliseconds_is_honoured_too(server: FaultServer, tmp_path: Path):
    server.configure(retry_after=0.6, retry_after_format="ms")
    suite = write(tmp_path, suite_text(server), ["ms [fail:429]"])
    start = time.perf_counter()
    run_suite(suite)
    assert time.perf_counter() - start >= 0.6
    assert records(tmp_path)["ms [fail:429]"]["attempts"] == 2


def test_max_attempts_one_means_no_retry(server: FaultServer, tmp_path: Path):
    text = suite_text(server, model={"max_attempts": 1})
    suite = write(tmp_path, text, ["once [fail:500]"])
    run_suite(suite)
    record = records(tmp_path)["once [fail:500]"]
    assert record["attempts"] == 1 and "HTTP 500" in record["error"]
    assert server.stats()["by_prompt"]["once [fail:500]"] == 1


def test_rate_limited_model_keeps_its_pace(server: FaultServer, tmp_path: Path):
    # 600 rpm: a burst of 10 then one request per 0.1 s -> 16 requests need >= 0.6 s
    text = suite_text(server, model={"rpm": 600})
    suite = write(tmp_path, text, [f"paced {i}" for i in range(16)])
    start = time.perf_counter()
    result = run_suite(suite)
    assert time.perf_counter() - start >= 0.55
    assert result.summary.counts.done == 16 and result.summary.counts.errors == 0


# --- cost -----------------------------------------------------------------------------------


def priced(server: FaultServer, **extra: Any) -> str:
    prices = {"fault-model": {"input": PRICE_IN, "output": PRICE_OUT}}
    return suite_text(server, prices=prices, **extra)


def expected_cost(question: str) -> float:
    """The fault server counts words: the prompt's, and "ANSWER: <prompt>"'s."""
    words = len(question.split())
    return (words * PRICE_IN + (words + 1) * PRICE_OUT) / 1_000_000


def test_cost_per_item_cell_and_run(server: FaultServer, tmp_path: Path):
    questions = ["what is two plus two", "name a colour", "fails [fail:400x*]"]
    text = priced(server, prompts={"plain": "{{ question }}", "again": "Again: {{ question }}"})
    result = run_suite(write(tmp_path, text, questions))
    got = [json.loads(x) for x in (result.run_dir / "results.jsonl").read_text().splitlines()]
    per_cell: dict[str, float] = {"plain": 0.0, "again": 0.0}
    for record in got:
        if record["error"] is None:
            cost = expected_cost(record["messages"][-1]["content"])
            assert record["cost"] == pytest.approx(cost)
            per_cell[record["variant"]] += cost
        else:
            assert record["cost"] is None  # a failed call is not billed
    assert sum(r["error"] is None for r in got) == 4
    for cell in result.summary.model_dump()["cells"]:
        assert cell["cost"]["total"] == pytest.approx(per_cell[cell["variant"]])
        assert cell["cost"]["per_item"] == pytest.approx(per_cell[cell["variant"]] / 2)
    total = sum(per_cell.values())
    assert result.summary.cost == pytest.approx(total)
    assert result.summary.spent.model_dump() == {
        "total": pytest.approx(total),
        "by_model": {"gpt": pytest.approx(total)},
    }


def test_cached_items_keep_their_cost_but_spend_nothing(server: FaultServer, tmp_path: Path):
    suite = write(tmp_path, priced(server), ["cache me"])
    run_suite(suite)
    again = run_suite(suite)
    (record,) = [json.loads(x) for x in (again.run_dir / "results.jsonl").read_text().splitlines()]
    assert record["cached"] and record["cost"] == pytest.approx(expected_cost("cache me"))
    assert again.summary.cost == pytest.approx(expected_cost("cache me"))
    assert again.summary.spent.total == 0.0
    assert server.stats()["requests"] == 1


def test_a_changed_price_reprices_cached_outputs(server: FaultServer, tmp_path: Path):
    suite = write(tmp_path, priced(server), ["reprice me"])
    run_suite(suite)
    suite.write_text(suite.read_text().replace(f"{PRICE_IN}", f"{2 * PRICE_IN}"))
    again = run_suite(suite)
    words = 2  # "reprice me"
    assert again.summary.cost == pytest.approx(
        (words * 2 * PRICE_IN + (words + 1) * PRICE_OUT) / 1_000_000
    )


def test_loopback_models_are_free_without_a_price(server: FaultServer, tmp_path: Path):
    text = suite_text(server, model={"model": "gpt-4o-mini"})  # priced, but served locally
    result = run_suite(write(tmp_path, text, ["local"]))
    assert result.summary.cost == 0.0 and result.summary.cells[0].cost.total == 0.0


def test_prices_may_name_the_model_id(server: FaultServer, tmp_path: Path):
    text = suite_text(server, prices={"gpt": {"input": PRICE_IN, "output": PRICE_OUT}})
    result = run_suite(write(tmp_path, text, ["by id"]))
    assert result.summary.cost == pytest.approx(expected_cost("by id"))


# --- max_cost -------------------------------------------------------------------------------


def budget_suite(server: FaultServer, tmp_path: Path, max_cost: float) -> tuple[Path, list[str]]:
    questions = [f"question number {i}" for i in range(10)]  # each item costs the same
    text = priced(server, max_cost=max_cost, concurrency=1)
    return write(tmp_path, text, questions), questions


def test_max_cost_stops_the_run_and_resume_finishes_it(server: FaultServer, tmp_path: Path):
    one = expected_cost("question number 0")
    suite, questions = budget_suite(server, tmp_path, max_cost=3.5 * one)
    result = invoke("run", str(suite), "-q")
    assert result.exit_code == 3, result.output
    assert "max_cost reached" in result.output
    run_id = only_run(tmp_path).name
    assert f"evalkit run --resume {run_id}" in result.output
    assert len(records(tmp_path)) == 4  # 3 items spent 3x; the 4th crossed the budget
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "incomplete" and "max_cost" in summary["stopped_reason"]

    resumed = invoke("run", "--resume", run_id, "-q", "--max-cost", "1")
    assert resumed.exit_code == 0, resumed.output
    assert sorted(records(tmp_path)) == sorted(questions)
    assert set(server.stats()["by_prompt"].values()) == {1}  # nothing was called twice


def test_command_line_max_cost_overrides_the_suite(server: FaultServer, tmp_path: Path):
    one = expected_cost("question number 0")
    suite, _ = budget_suite(server, tmp_path, max_cost=100.0)
    result = invoke("run", str(suite), "-q", "--max-cost", f"{1.5 * one}")
    assert result.exit_code == 3 and len(records(tmp_path)) == 2


def test_max_cost_warns_about_models_without_a_price() -> None:
    runtimes = {"priced": SimpleNamespace(cost=len), "remote": SimpleNamespace(cost=None)}
    with pytest.warns(UserWarning, match="does not count the calls of remote: no price"):
        _warn_unpriced(runtimes, 1.0)


# --- dry run --------------------------------------------------------------------------------


def test_dry_run_calls_and_writes_nothing(server: FaultServer, tmp_path: Path):
    questions = ["one two three", "four five six seven"]
    text = priced(server, prompts={"a": "{{ question }}", "b": "Q: {{ question }}"}, repeats=2)
    suite = write(tmp_path, text, questions)
    result = invoke("run", str(suite), "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "runs").exists()
    assert server.stats()["requests"] == 0
    assert "nothing was called" in result.output and "gpt" in result.output
    estimate = dry_run(suite)
    (row,) = estimate.rows
    assert row.calls == 8 and estimate.items == 8  # 2 examples x 2 variants x 2 repeats
    assert row.output_tokens == 8 * 64  # max_tokens: an upper bound
    assert row.cost == pytest.approx((row.input_tokens * PRICE_IN + 8 * 64 * PRICE_OUT) / 1e6)
    assert f"{row.calls:,}" in result.output and row.cost_label in result.output


def test_dry_run_counts_what_the_cache_already_holds(server: FaultServer, tmp_path: Path):
    suite = write(tmp_path, priced(server), ["cached one", "cached two"])
    run_suite(suite, RunOptions(limit=1))
    estimate = dry_run(suite)
    assert (estimate.rows[0].calls, estimate.rows[0].cached) == (1, 1)
    assert dry_run(suite, RunOptions(no_cache=True)).rows[0].calls == 2


def test_dry_run_labels_free_and_unpriced_models(server: FaultServer, tmp_path: Path):
    text = suite_text(server)  # fault-model on loopback: free
    data = json.loads(text)
    data["models"].append({"id": "remote", "provider": "openai", "model": "my-finetune"})
    data["models"].append({"id": "mock", "provider": "mock"})
    suite = write(tmp_path, json.dumps(data), ["x"])
    labels = {row.model_id: row.cost_label for row in dry_run(suite).rows}
    assert labels == {"gpt": "free", "remote": "no price", "mock": "free"}
    output = invoke("run", str(suite), "--dry-run").output
    assert "no price" in output and "no price for remote" in output


JUDGING = {
    "judges": [
        {
            "id": "judge",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "options": {"base_url": "https://api.openai.com/v1"},  # never called: a dry run
        }
    ],
    "graders": [
        {"type": "rubric", "judge": "judge", "rubric": "Is right?", "samples": 2},
        {"type": "pairwise", "judge": "judge", "variants": ["plain", "again"]},
    ],
}


def test_dry_run_counts_judge_calls(server: FaultServer, tmp_path: Path):
    data = json.loads(
        suite_text(server, prompts={"plain": "{{ question }}", "again": "A: {{ question }}"})
    )
    suite = write(tmp_path, json.dumps({**data, **JUDGING}), ["a", "b", "c"])
    rows = {row.model_id: row for row in dry_run(suite).rows}
    assert rows["gpt"].calls == 6  # 3 examples x 2 variants
    # rubric: 6 items x 2 samples; pairwise: 3 examples x 1 model x 2 orders
    assert rows["judge"].calls == 6 * 2 + 3 * 2
    # the judges' default max_tokens (512), as graders set it, is the output's upper bound
    assert rows["judge"].role == "judge" and rows["judge"].output_tokens == 18 * 512
    assert rows["judge"].input_tokens > 18 * rows["gpt"].output_tokens // 6  # it reads outputs
    assert rows["judge"].cost is not None and rows["judge"].cost > 0  # gpt-4o-mini's list price


# --- one model served by several replicas (options.base_urls) ----------------------------------


def test_a_run_spreads_over_every_replica(server: FaultServer, tmp_path: Path):
    with FaultServer(latency_ms=20) as second, FaultServer(latency_ms=20) as third:
        fleet = [server, second, third]
        server.configure(latency_ms=20)
        urls = [s.base_url for s in fleet]
        model = {"options": {"base_urls": urls}}
        questions = [f"question {i}" for i in range(30)]
        suite = write(tmp_path, suite_text(server, model=model, concurrency=6), questions)
        result = invoke("run", str(suite), "-q", "--no-tracking")
        served = [s.stats()["requests"] for s in fleet]
    assert result.exit_code == 0, result.output
    got = records(tmp_path)
    assert all(got[q]["output"] == f"ANSWER: {q}" and got[q]["attempts"] == 1 for q in questions)
    assert sum(served) == 30 and min(served) >= 5, served  # each replica took a share


def test_a_dead_replica_costs_retries_not_items(server: FaultServer, tmp_path: Path):
    model = {"options": {"base_urls": ["http://127.0.0.1:9/v1", server.base_url]}}
    questions = [f"question {i}" for i in range(12)]
    suite = write(tmp_path, suite_text(server, model=model, concurrency=2), questions)
    result = invoke("run", str(suite), "-q", "--no-tracking")
    assert result.exit_code == 0, result.output
    got = records(tmp_path)
    assert all(got[q]["error"] is None for q in questions)
    assert server.stats()["requests"] == 12  # every item answered by the live replica
    assert sum(got[q]["attempts"] for q in questions) <= 12 + 2  # the dead one, tried briefly
