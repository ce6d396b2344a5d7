"""The public Python API: exported names, run/arun from plain code and inside a running loop,
suites built in Python with inline rows or a DataFrame, typed results."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import evalkit
from evalkit.results.schema import ResultRecord, RunSummary
from evalkit.suite.schema import Suite

API = {
    "run", "arun", "validate", "gate", "compare", "dry_run", "load_suite",
    "RunOptions", "RunResult", "RunInterrupted", "Plan", "Suite", "ResultRecord",
    "RunManifest", "RunSummary", "Comparison", "Score", "EvalkitError", "SuiteError",
    "ProviderError", "GateError", "MissingKeyError", "Registry", "__version__",
}  # fmt: skip


def test_all_lists_the_api_and_every_name_resolves() -> None:
    assert set(evalkit.__all__) == API
    for name in evalkit.__all__:
        assert getattr(evalkit, name) is not None
    with pytest.raises(AttributeError):
        _ = evalkit.not_a_name  # type: ignore[attr-defined]


def test_import_evalkit_is_cheap() -> None:
    heavy = "('pydantic', 'pandas', 'numpy')"
    code = f"import sys, evalkit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_from_plain_code_gives_typed_results(write_suite, tmp_path: Path) -> None:
    result = evalkit.run(write_suite(), runs_dir=tmp_path / "runs")
    assert isinstance(result.summary, RunSummary)
    assert result.exit_code == 0 and result.passed
    contains = result.summary.cell("plain", "mock").metrics["contains"]
    assert contains.kind == "pass_rate" and contains.n == 4 and contains.mean == 0.75
    records = result.records()
    assert len(records) == 8 and all(isinstance(r, ResultRecord) for r in records)
    frame = result.to_pandas()
    assert len(frame) == 8 and "score_contains_value" in frame.columns
    assert frame.groupby("variant")["score_contains_value"].mean()["plain"] == 0.75


async def test_arun_inside_a_running_loop(write_suite, tmp_path: Path) -> None:
    asyncio.get_running_loop()  # a notebook cell runs here
    result = await evalkit.arun(write_suite(), runs_dir=tmp_path / "runs")
    assert result.status == "complete" and result.summary.counts.done == 8


async def test_run_inside_a_running_loop_works_on_a_worker_thread(
    write_suite, tmp_path: Path
) -> None:
    result = evalkit.run(write_suite(), runs_dir=tmp_path / "runs")
    assert result.status == "complete"


def test_a_suite_built_in_python_with_a_dataframe(tmp_path: Path) -> None:
    suite = Suite.model_validate(
        {
            "name": "py-suite",
            "dataset": {"rows": [{"q": "ignored"}]},
            "prompts": {"plain": "{{ q }}"},
            "models": [{"id": "echo", "provider": "mock"}],
            "metrics": [{"contains": "{{ expected }}"}],
            "gates": [{"metric": "contains", "min": 0.5}],
        }
    )
    frame = pd.DataFrame([{"q": "say yes", "expected": "yes"}, {"q": "say no", "expected": "x"}])
    result = evalkit.run(suite, dataset=frame, runs_dir=tmp_path / "runs", base_dir=tmp_path)
    assert result.summary.cells[0].metrics["contains"].mean == 0.5
    assert result.summary.verdict is not None and result.summary.verdict.passed
    kept = (result.run_dir / "suite.yaml").read_text()
    assert "say yes" in kept  # the run keeps the suite as run, so it can be re-gated


def test_unknown_option_is_a_clear_error(write_suite) -> None:
    with pytest.raises(evalkit.SuiteError, match="unknown run option 'limt'") as err:
        evalkit.run(write_suite(), limt=2)
    assert "did you mean 'limit'" in (err.value.hint or "")


def test_a_missing_key_leaves_no_run_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    suite = Suite.model_validate(
        {
            "name": "needs-a-key",
            "dataset": {"rows": [{"q": "hi"}]},
            "prompts": {"plain": "{{ q }}"},
            "models": [{"id": "gpt", "provider": "openai", "model": "gpt-4o-mini"}],
        }
    )
    runs = tmp_path / "runs"
    with pytest.raises(evalkit.EvalkitError, match="OPENAI_API_KEY"):
        evalkit.run(suite, runs_dir=runs, base_dir=tmp_path)
    assert not runs.exists() or not [p for p in runs.iterdir() if p.is_dir()]


def test_validate_gate_and_compare(write_suite, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    plan = evalkit.validate(write_suite())
    assert plan.total == 8 and plan.summary_line().endswith("= 8 calls")
    a = evalkit.run(write_suite(), runs_dir=runs, run_id="a")
    b = evalkit.run(write_suite(), runs_dir=runs, run_id="b", no_cache=True)
    summary = evalkit.gate("b", runs_dir=runs)
    assert summary.status == "complete"
    comparison = evalkit.compare(a.run_id, b.run_id, runs_dir=runs)
    assert {d.metric for d in comparison.diffs} == {"contains", "length"}
    assert all(d.diff == 0 for d in comparison.diffs)


def test_summary_json_is_valid_json_with_a_schema_version(write_suite, tmp_path: Path) -> None:
    result = evalkit.run(write_suite(), runs_dir=tmp_path / "runs")
    text = (result.run_dir / "summary.json").read_text()
    assert "NaN" not in text
    data = json.loads(text)
    assert data["schema_version"] == 2
    first = json.loads((result.run_dir / "results.jsonl").read_text().splitlines()[0])
    assert first["schema_version"] == 2
