"""An openai judge over real HTTP, against the fault server on loopback.

The fault server answers "ANSWER: <last user message>" (as {"answer": ...} JSON when a
response_format asks for JSON), so it is a judge that never gives a valid score in JSON mode and
echoes whatever the prompt says in text mode. That is enough to check what an openai judge is
sent (structured output, deterministic params, logprobs), that an unreadable answer is retried
once and then unscored, and that judge cost is recorded from the price table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_server import FaultServer

from evalkit.api import RunOptions, run_suite

ROWS = [{"id": "q1", "question": "What is 2+2?"}, {"id": "q2", "question": "Capital of France?"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def run(tmp_path: Path, server: FaultServer, grader: dict[str, Any]) -> Any:
    server.reset()
    judge = {
        "id": "gpt",
        "provider": "openai",
        "model": "fault-model",
        "params": {"temperature": 1.0, "max_tokens": 32},  # judges override both
        "options": {"base_url": server.base_url},
        "timeout": 5,
    }
    suite = {
        "name": "openai-judge",
        "dataset": "data.jsonl",
        "prompts": {"plain": "{{ question }}"},
        "models": [{"id": "mock", "provider": "mock"}],
        "judges": [judge],
        "graders": [{"type": "rubric", "name": "ok", "judge": "gpt", "rubric": "Right.", **grader}],
        "prices": {"fault-model": {"input": 100.0, "output": 200.0}},
    }
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    path = tmp_path / "suite.yaml"
    path.write_text(json.dumps(suite))  # JSON is YAML
    return run_suite(path, RunOptions(runs_dir=tmp_path / "runs"))


def score(result: Any) -> dict[str, Any]:
    line = (result.run_dir / "results.jsonl").read_text().splitlines()[0]
    value: dict[str, Any] = json.loads(line)["scores"]["ok"]
    return value


def test_openai_judge_gets_a_json_schema_and_deterministic_params(
    tmp_path: Path, server: FaultServer
) -> None:
    result = run(tmp_path, server, {"weighted": True})
    body = server.stats()["last_request"]["body"]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["score"]["enum"] == ["pass", "fail"]
    assert body["temperature"] == 0 and body["seed"] == 0
    assert body["logprobs"] is True and body["top_logprobs"] == 10
    judged = score(result)
    # {"answer": "ANSWER: ..."} twice: retried once with a reminder, then unscored
    assert judged["value"] is None and judged["passed"] is None
    assert "is not one of: pass, fail" in judged["reason"] and "after a retry" in judged["reason"]
    assert judged["meta"]["mode"] == "json_schema" and judged["meta"]["calls"] == 2
    assert server.stats()["requests"] == 2 * len(ROWS)


def test_openai_judge_in_text_mode_is_parsed_and_priced(
    tmp_path: Path, server: FaultServer
) -> None:
    # the server echoes the prompt, so a prompt ending in "score: pass" is a passing verdict
    result = run(
        tmp_path, server, {"mode": "text", "prompt": "Verdict for {{ output }}: score: pass"}
    )
    judged = score(result)
    assert judged["value"] == 1.0 and judged["passed"] is True
    assert judged["meta"]["mode"] == "text" and judged["meta"]["cost"] > 0
    assert "response_format" not in server.stats()["last_request"]["body"]
    judging = result.summary.judging.model_dump()
    assert judging["calls"] == len(ROWS) and judging["cost"] == pytest.approx(
        sum(
            json.loads(line)["scores"]["ok"]["meta"]["cost"]
            for line in (result.run_dir / "results.jsonl").read_text().splitlines()
        )
    )
