"""Shared fixtures: every test runs with its runs dir, caches and tracking under tmp_path."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def evalkit_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache per test session: the embedded model is converted (~30 s) only once."""
    return tmp_path_factory.mktemp("evalkit-cache")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, evalkit_cache_dir: Path) -> None:
    """Tests never touch the user's home or the repo's runs/ folder."""
    monkeypatch.setenv("EVALKIT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EVALKIT_NO_TRACKING", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("EVALKIT_DEBUG", raising=False)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(evalkit_cache_dir))


ROWS = [
    {"id": "q1", "question": "What is 2+2?", "expected": "4"},
    {"id": "q2", "question": "Capital of France?", "expected": "Paris"},
    {"id": "q3", "question": "Color of the sky?", "expected": "blue"},
    {"id": "q4", "question": "Opposite of hot?", "expected": "cold"},
]

MOCK_SUITE = """\
name: mock-suite
dataset: data.jsonl
prompts:
  plain: "{{ question }}"
  polite:
    system: Be polite.
    user: "Please answer: {{ question }}"
models:
  - id: mock
    provider: mock
    options:
      responses:
        "2+2": "The answer is 4"
        "France": "Paris"
        "sky": "It is blue"
        "hot": "warm"
metrics:
  - contains: "{{ expected }}"
  - type: length
    max_words: 3
"""


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[..., Path]:
    """Write a suite (default: the mock suite) and its dataset into tmp_path."""

    def write(
        text: str = MOCK_SUITE, rows: list[dict] | None = None, name: str = "suite.yaml"
    ) -> Path:
        data = tmp_path / "data.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in (rows or ROWS)))
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
