"""The run engine end to end with the mock provider: records, summary, cache, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.api import RunOptions, run_suite
from evalkit.providers.mock import MockProvider


def read_results(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def test_run_writes_records_and_summary(write_suite, tmp_path):
    result = run_suite(write_suite())
    records = read_results(result.run_dir)
    assert len(records) == 8  # 4 examples x 2 variants x 1 model
    first = records[0]
    for key in (
        "run_id",
        "example_id",
        "variant",
        "model",
        "repeat",
        "messages",
        "output",
        "usage",
        "latency_ms",
        "cost",
        "scores",
        "error",
        "inputs",
    ):
        assert key in first
    assert result.status == "complete" and result.exit_code == 0
    cells = {(c.variant, c.model): c for c in result.summary.cells}
    contains = cells[("plain", "mock")].metrics["contains"]
    assert contains.kind == "pass_rate"
    assert contains.n == 4 and contains.mean == pytest.approx(0.75)  # "warm" != "cold"
    assert contains.ci_low < 0.75 < contains.ci_high
    assert (result.run_dir / "summary.json").exists()
    assert json.loads((result.run_dir / "run.json").read_text())["suite"]["name"] == "mock-suite"


def test_polite_variant_renders_system_message(write_suite):
    result = run_suite(write_suite(), RunOptions(variants=["polite"]))
    record = read_results(result.run_dir)[0]
    assert record["messages"][0] == {"role": "system", "content": "Be polite."}
    assert record["messages"][1]["content"].startswith("Please answer:")


def test_second_run_is_served_from_cache(write_suite):
    suite = write_suite()
    MockProvider.CALLS.clear()
    run_suite(suite)
    assert MockProvider.CALLS["mock"] == 8
    again = run_suite(suite)
    assert MockProvider.CALLS["mock"] == 8  # no new calls
    assert again.summary.counts.cached == 8
    assert again.stats.calls == 0
    fresh = run_suite(suite, RunOptions(no_cache=True))
    assert fresh.summary.counts.cached == 0 and MockProvider.CALLS["mock"] == 16


def test_repeats_are_independent_cache_entries(write_suite):
    text = Path(write_suite()).read_text() + "repeats: 3\n"
    suite = write_suite(text)
    MockProvider.CALLS.clear()
    result = run_suite(suite)
    assert result.summary.counts.done == 24
    assert MockProvider.CALLS["mock"] == 24


def test_failed_call_is_recorded_and_run_goes_on(write_suite):
    text = (
        Path(write_suite())
        .read_text()
        .replace("    options:\n", "    options:\n      fail_on: sky\n")
        + "error_budget: 0.5\n"
    )
    result = run_suite(write_suite(text))
    failed = [r for r in read_results(result.run_dir) if r["error"]]
    assert len(failed) == 2 and failed[0]["example_id"] == "q3"
    assert failed[0]["output"] is None and "mock failure" in failed[0]["error"]
    assert result.summary.counts.errors == 2
    assert result.status == "complete"


def test_error_budget_stops_the_run_with_exit_3(write_suite):
    text = (
        Path(write_suite())
        .read_text()
        .replace("    options:\n", '    options:\n      fail_on: "?"\n')
    )
    # every question has a "?": every call fails, the default budget (10%) is exceeded
    result = run_suite(write_suite(text))
    assert result.status == "incomplete" and result.exit_code == 3
    assert "error budget" in result.summary.stopped_reason


def test_retryable_failures_are_retried(write_suite):
    text = (
        Path(write_suite())
        .read_text()
        .replace(
            "    options:\n",
            "    backoff_base: 0\n    options:\n      fail_on: sky\n      fail_times: 1\n",
        )
    )
    result = run_suite(write_suite(text))
    records = [r for r in read_results(result.run_dir) if r["example_id"] == "q3"]
    assert all(r["error"] is None and r["attempts"] == 2 for r in records)


def test_resume_skips_done_items_and_retries_failed(write_suite, tmp_path):
    suite = write_suite()
    first = run_suite(suite)
    results = first.run_dir / "results.jsonl"
    lines = results.read_text().splitlines()
    # simulate an interrupted run: 3 items done, one failed, a torn last line
    failed = json.loads(lines[3])
    failed["error"], failed["output"] = "boom", None
    results.write_text("\n".join([*lines[:3], json.dumps(failed), '{"torn']) + "\n")
    MockProvider.CALLS.clear()
    resumed = run_suite(None, RunOptions(resume=first.run_id, no_cache=True))
    assert resumed.skipped == 3
    assert MockProvider.CALLS["mock"] == 5  # 8 - 3 done; the failed one is retried
    keys = [r.key for r in resumed_records(resumed.run_dir)]
    assert len(keys) == len(set(keys)) == 8
    assert resumed.status == "complete"


def resumed_records(run_dir: Path) -> list:
    from evalkit.results.store import RunStore

    return RunStore(run_dir.parent, run_dir.name).records()


def test_run_json_never_holds_an_interpolated_secret(write_suite, monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "sentinel-secret-value-123")
    text = (
        Path(write_suite())
        .read_text()
        .replace(
            "    options:\n",
            '    options:\n      token: "${MY_SERVICE_TOKEN}"\n'
            '      note: "x-${MY_SERVICE_TOKEN}"\n',
        )
    )
    result = run_suite(write_suite(text))
    for name in ("run.json", "summary.json", "results.jsonl"):
        assert "sentinel-secret-value-123" not in (result.run_dir / name).read_text(), name


def test_local_models_have_no_default_call_timeout():
    """A local model's calls wait in its batch queue: a default wall-clock limit would time out
    queued work; remote providers keep a 120 s default, and an explicit timeout always wins."""
    from evalkit.engine.runtimes import call_timeout
    from evalkit.suite.schema import ModelConfig

    assert call_timeout(ModelConfig(id="a", provider="transformers")) is None
    assert call_timeout(ModelConfig(id="b", provider="openai", model="gpt-4o-mini")) == 120.0
    assert call_timeout(ModelConfig(id="c", provider="transformers", timeout=30)) == 30
