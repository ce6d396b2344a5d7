"""A known secret never reaches the disk: records, pairs, documents, cache, reports, MLflow.

The sentinel key sits in the environment (named only by the model's `api_key_env`, so the
name-pattern net alone would miss it), in a dataset row, and so in the prompt and in the reply
of a real OpenAI-compatible server on loopback (it echoes the prompt) and of a pairwise judge.
Every byte written under the test's folder is searched for it: files, SQLite databases and their
WAL files included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_server import FaultServer

from evalkit.cli.main import cli
from evalkit.results.redaction import Redactor, secret_env_names

SENTINEL = "zzSENTINEL-4242-c0ffee-key"

SUITE = """\
name: secrets
dataset: data.jsonl
prompts:
  a: "{{ question }} (note: {{ note }})"
  b: "Briefly: {{ question }} (note: {{ note }})"
models:
  - id: app
    provider: openai
    model: gpt-4o-mini
    options: {base_url: BASE_URL, api_key_env: ACME_LLM_CRED}
judges:
  - id: judge
    provider: mock
    options: {response: "I compared {last}"}
graders:
  - {type: pairwise, name: duel, judge: judge, variants: [a, b], input: "{{ question }}"}
metrics:
  - contains: "{{ note }}"
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def write(tmp_path: Path, server: FaultServer) -> Path:
    rows = [
        {"id": "r1", "question": "What is 2+2?", "note": f"the key is {SENTINEL}"},
        {"id": "r2", "question": "Capital of France?", "note": "none here"},
    ]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.replace("BASE_URL", server.base_url))
    return path


def files_with_sentinel(root: Path) -> list[str]:
    needle = SENTINEL.encode()
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    ]


def run_with_reports(tmp_path: Path, server: FaultServer, *extra: str) -> object:
    suite = write(tmp_path, server)
    return CliRunner().invoke(
        cli,
        [
            "run", str(suite), "-q", "--runs-dir", str(tmp_path / "runs"),
            "--junit", str(tmp_path / "out" / "junit.xml"),
            "--junit-examples",
            "--markdown", str(tmp_path / "out" / "summary.md"),
            "--report", f"html={tmp_path / 'out' / 'report.html'}",
            *extra,
        ],
    )  # fmt: skip


def test_the_redactor_knows_the_keys_a_suite_names() -> None:
    env = {"ACME_LLM_CRED": SENTINEL, "OPENAI_API_KEY": "sk-other-123456", "HOME": "/root"}
    redactor = Redactor.from_env(env, names=["ACME_LLM_CRED"])
    assert redactor.text(f"echo {SENTINEL} and sk-other-123456") == "echo *** and ***"
    assert Redactor.from_env(env).text(SENTINEL) == SENTINEL  # the name alone is no secret
    assert redactor.text('"quoted"') == '"quoted"'
    assert secret_env_names([{"api_key_env": "ACME_LLM_CRED", "token_env": "B", "x": 1}]) == [
        "ACME_LLM_CRED",
        "B",
    ]
    tricky = Redactor(('a"b\\c-secret',))  # as it appears inside a JSON string, too
    assert tricky.text(json.dumps({"v": 'a"b\\c-secret'})) == '{"v": "***"}'


def test_no_file_of_a_run_holds_the_key(
    tmp_path: Path, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_LLM_CRED", SENTINEL)
    monkeypatch.chdir(tmp_path)
    result = run_with_reports(tmp_path, server)
    assert result.exit_code in (0, 1), result.output
    run_dir = next((tmp_path / "runs").glob("*-secrets-*"))
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["error"] is None for r in records)
    assert any("***" in (r["output"] or "") for r in records)  # the echoed key, masked
    assert (run_dir / "pairwise.jsonl").read_text().count("***") >= 1
    assert (tmp_path / "runs" / "cache.sqlite").exists()
    assert (tmp_path / "out" / "report.html").exists()
    assert SENTINEL in json.dumps(server.stats()["by_prompt"])  # the model saw and echoed it
    assert files_with_sentinel(tmp_path) == ["data.jsonl"]  # only the dataset, as written
    assert SENTINEL not in result.output
    # a cache hit returns the masked text, and the rerun writes nothing new with the key
    again = run_with_reports(tmp_path, server)
    assert again.exit_code in (0, 1) and "served from the cache" in again.output
    assert files_with_sentinel(tmp_path) == ["data.jsonl"]


@pytest.mark.slow
def test_mlflow_holds_no_key(
    tmp_path: Path, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real local MLflow store (SQLite + artifacts under runs/): grep every byte of it."""
    monkeypatch.setenv("ACME_LLM_CRED", SENTINEL)
    monkeypatch.delenv("EVALKIT_NO_TRACKING", raising=False)
    monkeypatch.chdir(tmp_path)
    result = run_with_reports(tmp_path, server)
    assert result.exit_code in (0, 1), result.output
    runs = tmp_path / "runs"
    assert b"secrets" in (runs / "mlflow.db").read_bytes()  # the run was logged
    assert any((runs / "mlartifacts").rglob("results.jsonl"))
    assert files_with_sentinel(tmp_path) == ["data.jsonl"]
