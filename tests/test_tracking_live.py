"""Tracking while the run goes, without MLflow: the fan-out of the live hooks, the logging
process's reading of results.jsonl, the re-run index, and a logging process that fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evalkit.api import RunOptions, run_suite
from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
from evalkit.trackers.base import RunListener, TrackedRun, Trackers
from evalkit.trackers.mlflow import reruns
from evalkit.trackers.mlflow.worker import Tail


def _record(key: str, **extra: object) -> ResultRecord:
    example, variant = key.split("|")[:2]
    data = {"run_id": "r1", "key": key, "example_id": example, "variant": variant, "model": "m"}
    return ResultRecord.model_validate({**data, **extra})


class Recorder:
    """A tracker with the live hooks, recording what it is told."""

    name, label = "recorder", "Recorder"

    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[str] = []
        self.fail_on = fail_on

    def _note(self, what: str) -> None:
        if what == self.fail_on:
            raise RuntimeError(f"{what} broke")
        self.calls.append(what)

    def on_start(self, manifest: RunManifest) -> None:
        self._note("start")

    def on_records(self, batch: object) -> None:
        self._note("records")

    def on_finish(self, summary: RunSummary) -> None:
        self._note("finish")

    def log_run(self, run: object, *, force: bool = False) -> TrackedRun:
        self._note("log")
        return TrackedRun("recorder", "r1", "here")


class Plain:
    """A tracker without the live hooks: told only log_run."""

    name, label = "plain", "Plain"

    def log_run(self, run: object, *, force: bool = False) -> TrackedRun:
        return TrackedRun("plain", "r1", "there")


def test_live_hooks_are_optional_and_a_failing_one_only_warns() -> None:
    warnings: list[str] = []
    good, broken, plain = Recorder(), Recorder(fail_on="records"), Plain()
    trackers = Trackers([good, broken, plain], warn=warnings.append)  # type: ignore[list-item]
    assert isinstance(good, RunListener) and not isinstance(plain, RunListener)
    manifest = RunManifest(run_id="r1", suite={"name": "s"})  # type: ignore[arg-type]
    trackers.on_start(manifest)
    trackers.on_records([_record("e1|a|m|0")])
    trackers.on_records([_record("e2|a|m|0")])
    trackers.on_finish(RunSummary(run_id="r1"))
    assert good.calls == ["start", "records", "records", "finish"]
    assert broken.calls == ["start"]  # stopped after its failure, told nothing more
    assert warnings == ["Recorder live logging stopped: records broke"]
    done = trackers.log_run(object())  # type: ignore[arg-type]
    assert [t.tracker for t in done] == ["recorder", "recorder", "plain"]


def test_tail_reads_complete_lines_as_they_are_appended(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    tail = Tail(path)
    assert tail.records() == []  # not there yet
    first = _record("e1|a|m|0").model_dump_json()
    second = _record("e2|a|m|0").model_dump_json()
    path.write_text(first + "\n" + second[:20])  # the second line is torn (being written)
    assert [r.key for r in tail.records()] == ["e1|a|m|0"]
    with open(path, "a") as handle:
        handle.write(second[20:] + "\n" + "not json\n")
    assert [r.key for r in tail.records()] == ["e2|a|m|0"]  # the foreign line is skipped
    assert tail.records() == []


def _manifest(run_id: str, suite_hash: str = "h") -> RunManifest:
    return RunManifest.model_validate(
        {
            "run_id": run_id,
            "suite": {"name": "s", "hash": suite_hash},
            "dataset": {"digest": "d"},
            "variants": {"a": {"hash": "va"}},
            "models": [{"id": "m", "provider": "mock"}],
            "total": 2,
        }
    )


def _summary(run_id: str, mean: float, cached: int = 0) -> RunSummary:
    cell = {"variant": "a", "model": "m", "items": 2, "cached": cached}
    cell["metrics"] = {"contains": {"mean": mean, "n": 2}}
    cell["latency_ms"] = {"p50": 100.0 if not cached else 0.0}
    return RunSummary.model_validate(
        {"run_id": run_id, "status": "complete", "counts": {"total": 2}, "cells": [cell]}
    )


def test_rerun_index_matches_inputs_then_results(tmp_path: Path) -> None:
    target = reruns.target_key("sqlite:///x.db", "s")
    assert reruns.find(tmp_path, target, _manifest("r2")) is None  # nothing logged yet
    reruns.remember(tmp_path, target, _manifest("r1"), _summary("r1", 0.5))
    same = reruns.find(tmp_path, target, _manifest("r2"))
    assert same is not None and same["run_id"] == "r1"
    # the same results, served from the cache (other timings and cache counts): a match
    assert same["results"] == reruns.results_fingerprint(_summary("r2", 0.5, cached=2))
    assert same["results"] != reruns.results_fingerprint(_summary("r2", 1.0))
    assert reruns.find(tmp_path, target, _manifest("r1")) is None  # a run is not its own re-run
    assert reruns.find(tmp_path, target, _manifest("r2", suite_hash="other")) is None
    assert reruns.find(tmp_path, reruns.target_key("http://srv", "s"), _manifest("r2")) is None
    (tmp_path / reruns.INDEX).write_text("{not json")
    assert reruns.find(tmp_path, target, _manifest("r2")) is None  # a broken index: log anew


@pytest.mark.slow
def test_a_logging_process_that_fails_warns_and_keeps_the_results(
    write_suite: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVALKIT_NO_TRACKING")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "mlflow.db").write_text("this is not a database")  # MLflow cannot open the store
    warnings: list[str] = []
    result = run_suite(write_suite(), RunOptions(runs_dir=runs, notify=warnings.append))
    assert result.exit_code == 0 and result.summary.counts.done == 8
    assert len((result.run_dir / "results.jsonl").read_text().splitlines()) == 8
    (warning,) = warnings
    assert warning.startswith("MLflow logging failed: ")
    assert f"upload later with `evalkit log {result.run_id}`" in warning
    assert not json.loads(
        (runs / reruns.INDEX).read_text() if (runs / reruns.INDEX).exists() else "{}"
    )
