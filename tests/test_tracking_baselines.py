"""Baselines kept in MLflow, grader figures as metrics, and verdicts updated by `evalkit gate`.

The server tests (slow) use a real `mlflow server` on loopback and checking through MlflowClient:
`baseline set` tags the run and the experiment; a CI runner with a fresh runs folder finds the
baseline there, downloads it and decides (exit 1 on a regression, 0 without); `evalkit gate`
updates the verdict tags. Without a server: an unreachable one fails the regression gate with a
clear message while local baselines keep working, and the pure pieces.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mlflow_server import MlflowServer, free_port

from evalkit.cli.main import cli
from evalkit.results.redaction import Redactor
from evalkit.results.schema import RunSummary
from evalkit.trackers.mlflow.artifacts import write_record_files
from evalkit.trackers.mlflow.grader_metrics import grader_metrics

ROWS = [{"id": f"q{i}", "question": f"Question {i}?", "expected": f"answer-{i}"} for i in range(8)]
# The mock provider echoes the prompt: the prompt decides whether `expected` is in the answer.
SUITE = """\
name: {name}
dataset: data.jsonl
prompts:
  main: "{prompt}"
models:
  - id: mock
    provider: mock
metrics:
  - contains: "{{{{ expected }}}}"
gates:
  - regression: {{baseline: main, metric: contains, max_drop: 0.0, inconclusive: pass}}
tracking: {{traces: 0, register_prompts: false}}
"""
GOOD = "{{ question }} Answer: {{ expected }}"
BAD = "{{ question }}"


def write_suite(folder: Path, name: str, prompt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    path = folder / f"{name}-{'good' if prompt == GOOD else 'bad'}.yaml"
    path.write_text(SUITE.format(name=name, prompt=prompt))
    return path


def evalkit(*args: str | Path) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALKIT_NO_TRACKING", raising=False)


# --- against a real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with MlflowServer(tmp_path_factory.mktemp("mlflow-baselines")) as started:
        yield started


@pytest.fixture
def shared(server: MlflowServer, tracking_on: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every command of the test logs to the server, as CI jobs do (MLFLOW_TRACKING_URI)."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    return MlflowClient(server.uri)


def parent(client: Any, experiment_id: str, run_id: str) -> Any:
    (found,) = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`evalkit.run_id` = '{run_id}' and tags.`mlflow.parentRunId` IS NULL",
    )
    return found


@pytest.mark.slow
def test_baseline_in_mlflow_gates_a_fresh_ci_runner(shared: Any, tmp_path: Path) -> None:
    client, name = shared, "bl-shared"
    laptop, ci, ci2 = tmp_path / "laptop", tmp_path / "ci", tmp_path / "ci2"
    good, bad = write_suite(tmp_path, name, GOOD), write_suite(tmp_path, name, BAD)
    for run_id in ("r0", "r1"):
        evalkit("run", good, "-q", "--runs-dir", laptop, "--run-id", run_id)
    first = evalkit("baseline", "set", "r0", "--runs-dir", laptop)
    assert "stored locally and in MLflow" in first.output, first.output
    moved = evalkit("baseline", "set", "r1", "--name", "main", "--runs-dir", laptop)
    assert moved.exit_code == 0 and "stored locally and in MLflow" in moved.output, moved.output

    experiment = client.get_experiment_by_name(name)
    r0, r1 = (parent(client, experiment.experiment_id, r) for r in ("r0", "r1"))
    assert experiment.tags["evalkit.baseline.main"] == "r1"
    assert r1.data.tags["evalkit.baseline.main"] == "true"
    assert "evalkit.baseline.main" not in r0.data.tags  # one run carries the name
    logged = {a.path for a in client.list_artifacts(r1.info.run_id)}
    assert {"run.json", "results.jsonl", "summary.json"} <= logged

    # a fresh CI runner: no baselines.json, no r1; the regression is found through MLflow
    regressed = evalkit("run", bad, "-q", "--runs-dir", ci, "--run-id", "r2")
    assert regressed.exit_code == 1, regressed.output
    assert "REGRESSED" in regressed.output and "vs baseline r1" in regressed.output
    assert {p.name for p in (ci / "r1").iterdir()} >= {"run.json", "results.jsonl", "summary.json"}
    assert not any(p.name.startswith(".") for p in ci.iterdir())  # no staging folder left

    # `evalkit gate` on another fresh runner downloads it again and decides: 1, then 0
    shutil.copytree(ci / "r2", ci2 / "r2")
    assert evalkit("gate", "r2", "--runs-dir", ci2).exit_code == 1
    downloaded = (ci2 / "r1" / "results.jsonl").read_text()
    assert downloaded == (laptop / "r1" / "results.jsonl").read_text()
    assert evalkit("run", good, "-q", "--runs-dir", ci2, "--run-id", "r3").exit_code == 0


@pytest.mark.slow
def test_gate_updates_the_verdict_tags_in_mlflow(shared: Any, tmp_path: Path) -> None:
    from evalkit.trackers.mlflow import track_run

    client, runs = shared, tmp_path / "runs"
    good, bad = write_suite(tmp_path, "bl-verdict", GOOD), write_suite(tmp_path, "bl-verdict", BAD)
    evalkit("run", good, "-q", "--runs-dir", runs, "--run-id", "v1")
    evalkit("baseline", "set", "v1", "--runs-dir", runs)
    assert evalkit("run", bad, "-q", "--runs-dir", runs, "--run-id", "v2").exit_code == 1
    experiment = client.get_experiment_by_name("bl-verdict")
    tags = parent(client, experiment.experiment_id, "v2").data.tags
    assert tags["evalkit.verdict"] == "failed" and "evalkit.gates_failed" in tags

    lenient = tmp_path / "lenient.yaml"  # the same gates with a margin the drop stays within
    lenient.write_text(bad.read_text().replace("max_drop: 0.0", "max_drop: 1.0"))
    passed = evalkit("gate", "v2", "--runs-dir", runs, "--suite", lenient)
    assert passed.exit_code == 0 and "verdict updated in MLflow" in passed.output, passed.output
    after = parent(client, experiment.experiment_id, "v2")
    assert after.data.tags["evalkit.verdict"] == "passed"
    assert "evalkit.gates_failed" not in after.data.tags
    (child,) = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{after.info.run_id}'"
    )
    assert child.data.tags["evalkit.verdict"] == "passed"
    assert track_run(runs / "v2").skipped  # MLflow is up to date: nothing left to log


def graders_suite(tmp_path: Path) -> Path:
    """A pairwise grader (good beats bad in both orders) and a calibrated rubric grader."""
    rows = [dict(r, human="pass" if i % 2 else "fail") for i, r in enumerate(ROWS[:4])]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge = {
        "id": "judge",
        "provider": "mock",
        "options": {
            "responses": {
                "[Response 1]\nGOOD": '{"reasoning": "first", "score": "1"}',
                "[Response 1]\nBAD": '{"reasoning": "second", "score": "2"}',
                "": '{"reasoning": "fine", "score": "pass"}',
            }
        },
    }
    suite = {
        "name": "bl-graders",
        "dataset": "data.jsonl",
        "prompts": {"good": "GOOD {{ question }}", "bad": "BAD {{ question }}"},
        "models": [{"id": "mock", "provider": "mock"}],
        "judges": [judge],
        "metrics": [{"contains": "{{ expected }}"}],
        "graders": [
            {"type": "pairwise", "name": "duel", "judge": "judge", "variants": ["good", "bad"]},
            {
                "type": "rubric",
                "name": "ok",
                "judge": "judge",
                "rubric": "Ok.",
                "human_label": "human",
            },
        ],
        "tracking": {"traces": 0, "register_prompts": False},
    }
    path = tmp_path / "graders.yaml"
    path.write_text(json.dumps(suite))  # JSON is YAML
    return path


@pytest.mark.slow
def test_grader_sections_are_parent_metrics(shared: Any, tmp_path: Path) -> None:
    path = graders_suite(tmp_path)
    result = evalkit("run", path, "-q", "--runs-dir", tmp_path / "runs", "--run-id", "g1")
    assert result.exit_code == 0, result.output

    experiment = shared.get_experiment_by_name("bl-graders")
    logged = parent(shared, experiment.experiment_id, "g1")
    metrics, duel = logged.data.metrics, "pairwise/duel/good_vs_bad"
    assert metrics[f"{duel}/win_rate"] == 1.0 and f"{duel}/win_rate.ci_low" in metrics
    assert metrics[f"{duel}/wins"] == 4 and metrics[f"{duel}/ties"] == 0
    assert metrics["calibration/ok/accuracy"] == 0.5 and metrics["calibration/ok/n"] == 8
    assert "calibration/ok/kappa" in metrics
    assert metrics["judging/calls"] == metrics["judging/duel/calls"] + metrics["judging/ok/calls"]
    artifacts = {a.path for a in shared.list_artifacts(logged.info.run_id)}
    assert {"pairwise.jsonl", "results.jsonl"} <= artifacts


# --- without a server ------------------------------------------------------------------------


def test_unreachable_tracking_server_fails_the_gate_clearly(
    tracking_on: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nobody there
    good, bad = write_suite(tmp_path, "bl-offline", GOOD), write_suite(tmp_path, "bl-offline", BAD)
    evalkit("run", bad, "-q", "--runs-dir", runs, "--run-id", "b2")

    gated = evalkit("gate", "b2", "--runs-dir", runs)
    text = " ".join(gated.output.split())
    assert gated.exit_code == 1, text
    assert "baseline 'main' is not in" in text and "could not be looked up in MLflow" in text
    assert "unreachable" in text and "Traceback" not in text
    lenient = tmp_path / "skip.yaml"  # "skip when missing" is no licence to skip when unknown
    lenient.write_text(bad.read_text().replace("max_drop: 0.0", "max_drop: 0.0, if_missing: skip"))
    assert evalkit("gate", "b2", "--runs-dir", runs, "--suite", lenient).exit_code == 1

    # local baselines keep working with the server down
    evalkit("run", good, "-q", "--runs-dir", runs, "--run-id", "b1")
    marked = evalkit("baseline", "set", "b1", "--runs-dir", runs)
    assert marked.exit_code == 0 and "stored locally" in marked.output
    assert "unreachable" in marked.output and "Traceback" not in marked.output
    regressed = evalkit("gate", "b2", "--runs-dir", runs)
    assert regressed.exit_code == 1 and "REGRESSED" in regressed.output
    assert "MLflow verdict update failed" in regressed.output  # a warning; the exit code is 1
    itself = evalkit("gate", "b1", "--runs-dir", runs)  # the baseline is b1 itself (issue 10)
    assert itself.exit_code == 1 and "is this run (b1)" in itself.output


def test_no_tracking_keeps_baselines_local(tracking_on: None, tmp_path: Path) -> None:
    runs, suite = tmp_path / "runs", write_suite(tmp_path, "bl-off", BAD)
    evalkit("run", suite, "-q", "--runs-dir", runs, "--no-tracking", "--run-id", "n1")
    dead = "http://127.0.0.1:9"
    gated = evalkit("gate", "n1", "--runs-dir", runs, "--no-tracking", "--tracking-uri", dead)
    assert gated.exit_code == 1
    assert "baseline 'main' not found" in gated.output and "MLflow" not in gated.output
    assert not (runs / "mlflow.db").exists()


def test_grader_metrics_names() -> None:
    pair = {"n": 4, "wins_a": 3, "wins_b": 1, "ties": 0, "inconsistent": 1, "n_unscored": 0}
    summary = {
        "pairwise": {
            "duel": {
                "a": "good",
                "b": "bad",
                "by": "variant",
                "overall": {**pair, "win_rate_a": 0.75, "ci_low": 0.3, "ci_high": None},
                "cells": [{"model": "m1", **pair, "win_rate_a": 0.75}, {"model": "m2", **pair}],
            }
        },
        "calibration": {
            "ok": {
                "human_label": "human",
                "accuracy": 0.75,
                "kappa": None,
                "n": 4,
                "by_judge": {"j1": {"accuracy": 1.0}},
            }
        },
        "judging": {"calls": 10, "cost": 0.5, "graders": {"duel": {"calls": 10, "cost": 0.5}}},
    }
    metrics = grader_metrics(RunSummary.model_validate({"run_id": "r", **summary}))
    assert metrics["pairwise/duel/good_vs_bad/win_rate"] == 0.75
    assert metrics["pairwise/duel/good_vs_bad/win_rate.ci_low"] == 0.3
    assert "pairwise/duel/good_vs_bad/win_rate.ci_high" not in metrics  # None is not logged
    assert metrics["pairwise/duel/good_vs_bad/losses"] == 1
    assert metrics["pairwise/duel/good_vs_bad/m1/win_rate"] == 0.75
    assert "pairwise/duel/good_vs_bad/m2/win_rate" not in metrics
    assert metrics["calibration/ok/accuracy"] == 0.75 and "calibration/ok/kappa" not in metrics
    assert metrics["calibration/ok/j1/accuracy"] == 1.0
    assert metrics["judging/calls"] == 10 and metrics["judging/duel/cost"] == 0.5
    assert grader_metrics(RunSummary(run_id="r")) == {}


def test_record_files_are_scrubbed_but_read_back_as_written(tmp_path: Path) -> None:
    secret = "sk-evalkit-SENTINEL-123456"
    record = {"key": "q1|v|m|0", "example_id": "q1", "output": f"the key is {secret}"}
    (tmp_path / "results.jsonl").write_text(json.dumps(record) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    copied = write_record_files(tmp_path, Redactor((secret,)), out)
    assert copied == 1 and not (out / "pairwise.jsonl").exists()
    back = json.loads((out / "results.jsonl").read_text())
    assert back == {**record, "output": "the key is ***"}  # `key` kept: records pair by it
