"""MLflow tracking against a real `mlflow server` on loopback (SQLite backend), checked through
MlflowClient: what a PO will find in the UI, that logging is idempotent, that a dead server
only warns, and that no secret reaches MLflow."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import MOCK_SUITE, ROWS
from mlflow_server import MlflowServer, free_port

from evalkit.api import RunOptions, run_suite
from evalkit.cli.main import cli

pytestmark = pytest.mark.slow

SENTINEL = "sk-evalkit-SENTINEL-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    # one server for the module: starting one costs ~10-30 s on a small machine
    with MlflowServer(tmp_path_factory.mktemp("mlflow-server")) as started:
        yield started


@pytest.fixture
def client(server: MlflowServer):
    from mlflow import MlflowClient

    return MlflowClient(server.uri)


@pytest.fixture(autouse=True)
def _tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALKIT_NO_TRACKING", raising=False)


def _suite(name: str, polite: str = "Be polite.") -> str:
    return MOCK_SUITE.replace("name: mock-suite", f"name: {name}").replace("Be polite.", polite)


def _run(path: Path, tmp_path: Path, uri: str, run_id: str | None = None):
    options = RunOptions(runs_dir=tmp_path / "runs", tracking_uri=uri, run_id=run_id)
    return run_suite(path, options)


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def _parents(client, experiment_id: str) -> list:
    runs = client.search_runs([experiment_id], max_results=100)
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def _table(client, run_id: str, tmp_path: Path) -> dict:
    path = client.download_artifacts(run_id, "evalkit_results.json", str(tmp_path))
    split = json.loads(Path(path).read_text())
    return {
        "columns": split["columns"],
        "rows": [dict(zip(split["columns"], r, strict=True)) for r in split["data"]],
    }


def test_run_is_logged_with_children_params_metrics_table_dataset_and_traces(
    server: MlflowServer,
    client,
    write_suite: Callable[..., Path],
    tmp_path: Path,
) -> None:
    gated = _suite("t-logged") + "gates:\n  - {name: polite-ok, metric: contains, min: 0.7}\n"
    gated += "  - {name: plain-high, metric: contains, min: 0.9, variant: plain}\n"
    gated += "group_by: [category]\n"  # values MLflow would refuse as names, and a missing one
    categories = ["Settings > Billing/Invoices", "a//b", None, "Settings > Billing/Invoices"]
    rows = [{**row, "category": c} for row, c in zip(ROWS, categories, strict=True)]
    result = _run(write_suite(gated, rows=rows), tmp_path, server.uri)
    experiment = client.get_experiment_by_name("t-logged")  # one experiment per suite
    (parent,) = _parents(client, experiment.experiment_id)
    assert parent.info.run_name == result.run_id and parent.info.status == "FINISHED"
    assert parent.data.tags["evalkit.run_id"] == result.run_id
    manifest = json.loads((result.run_dir / "run.json").read_text())
    params = parent.data.params
    assert params["suite"] == "t-logged" and params["suite_hash"] == manifest["suite"]["hash"]
    assert params["dataset_digest"] == manifest["dataset"]["digest"]
    assert params["dataset_rows"] == "4" and params["repeats"] == "1"
    assert params["model.mock.provider"] == "mock" and params["evalkit_version"]
    assert parent.data.metrics["plain/mock/contains"] == pytest.approx(0.75)
    assert parent.data.metrics["done"] == 4 * 2
    assert parent.data.tags["evalkit.verdict"] == "failed"  # the gate verdict, as tags
    assert parent.data.tags["evalkit.gates_failed"] == "plain-high [plain/mock]"
    [dataset_input] = parent.inputs.dataset_inputs
    assert dataset_input.dataset.digest == manifest["dataset"]["digest"]

    children = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    by_variant = {c.data.tags["evalkit.variant"]: c for c in children}
    assert set(by_variant) == {"plain", "polite"}
    polite = by_variant["polite"]
    assert polite.data.tags["evalkit.verdict"] == "passed"
    assert by_variant["plain"].data.tags["evalkit.verdict"] == "failed"
    assert polite.info.run_name.startswith("polite x mock")
    assert polite.data.params["variant"] == "polite"
    assert polite.data.params["template_hash"] == manifest["variants"]["polite"]["hash"]
    assert polite.data.params["model.provider"] == "mock"
    metrics = polite.data.metrics
    assert metrics["contains"] == pytest.approx(0.75) and metrics["items"] == 4
    low, high, n = re.match(  # the interval is the metric's tag, not two more metrics
        r"([\d.]+) to ([\d.]+) \(95% CI, n=(\d+)\)", polite.data.tags["evalkit.ci.contains"]
    ).groups()
    assert float(low) < 0.75 < float(high) and int(n) == 4
    assert "contains.ci_low" not in metrics and "contains.n" not in metrics
    for name in ("latency_ms.p50", "latency_ms.p95", "tokens.input", "tokens.output", "errors"):
        assert name in metrics
    assert metrics["slice.category.Settings _ Billing_Invoices.contains"] == pytest.approx(0.5)
    assert (
        metrics["slice.category._missing.contains"] == 1.0
        and "slice.category.a_b.contains" in metrics
    )
    assert "evalkit.ci.slice.category._missing.contains" in polite.data.tags

    table = _table(client, polite.info.run_id, tmp_path / "dl")
    assert len(table["rows"]) == 4
    row = next(r for r in table["rows"] if r["example_id"] == "q4")
    assert row["input_question"] == "Opposite of hot?" and row["output"] == "warm"
    assert row["prompt"] == "[system] Be polite.\n\n[user] Please answer: Opposite of hot?"
    assert row["score_contains"] == 0.0 and row["pass_contains"] is False
    assert json.loads(polite.data.tags["mlflow.loggedArtifacts"]) == [
        {"path": "evalkit_results.json", "type": "table"}
    ]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {
        "suite.yaml",
        "run.json",
        "summary.json",
        "prompts",
        "evalkit_results.json",
    } <= artifacts
    rendered = {a.path for a in client.list_artifacts(parent.info.run_id, "prompts")}
    assert {"prompts/polite.txt", "prompts/polite.rendered.json"} <= rendered

    traces = client.search_traces(locations=[experiment.experiment_id], run_id=polite.info.run_id)
    assert len(traces) == 4
    q4 = next(t for t in traces if t.info.tags["evalkit.example_id"] == "q4")
    assessed = {a.name: a.feedback.value for a in q4.info.assessments}
    assert assessed == {"contains": False, "length": True}
    assert q4.info.tags["mlflow.traceName"] == "q4" and [s.name for s in q4.data.spans] == ["mock"]
    (span,) = q4.data.spans
    assert span.inputs == {  # the request is the rendered prompt, system message included
        "messages": [
            {"role": "system", "content": "Be polite."},
            {"role": "user", "content": "Please answer: Opposite of hot?"},
        ]
    }
    assert span.outputs == "warm" and q4.info.request_preview.startswith("q4 · ")
    record = next(
        r for r in _records(result.run_dir) if r["example_id"] == "q4" and r["variant"] == "polite"
    )
    assert q4.info.execution_duration == int(record["latency_ms"])  # the item's own latency
    assert {t.info.tags["evalkit.variant"] for t in traces} == {"polite"}


def test_prompt_versions_only_when_the_template_changes(
    server: MlflowServer,
    client,
    write_suite: Callable[..., Path],
    tmp_path: Path,
) -> None:
    first = _run(write_suite(_suite("t-prompts")), tmp_path, server.uri)

    def versions(variant: str) -> list[int]:
        return sorted(int(v.version) for v in client.search_prompt_versions(f"t-prompts.{variant}"))

    assert versions("plain") == [1] and versions("polite") == [1]
    prompt = client.get_prompt_version("t-prompts.polite", 1)
    assert prompt.template == [
        {"role": "system", "content": "Be polite."},
        {"role": "user", "content": "Please answer: {{ question }}"},
    ]
    # unchanged prompts, models called again (a cached re-run would not be logged at all)
    again = RunOptions(runs_dir=tmp_path / "runs", tracking_uri=server.uri, no_cache=True)
    run_suite(write_suite(_suite("t-prompts")), again)
    assert versions("plain") == [1] and versions("polite") == [1]
    last = _run(write_suite(_suite("t-prompts", polite="Be very polite.")), tmp_path, server.uri)
    assert versions("plain") == [1] and versions("polite") == [1, 2]

    experiment = client.get_experiment_by_name("t-prompts")
    parents = {p.data.tags["evalkit.run_id"]: p for p in _parents(client, experiment.experiment_id)}
    assert len(parents) == 3
    linked = json.loads(parents[last.run_id].data.tags["mlflow.linkedPrompts"])
    assert {"name": "t-prompts.polite", "version": "2"} in linked
    assert {"name": "t-prompts.plain", "version": "1"} in linked
    last_parent = parents[last.run_id].info.run_id
    children = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{last_parent}'"
    )
    polite = next(c for c in children if c.data.tags["evalkit.variant"] == "polite")
    assert polite.info.run_name.startswith("polite x mock · prompt v2 · ")  # what it is, then when
    note = polite.data.tags["mlflow.note.content"]  # the run's description: the prompt's diff
    assert "-Be polite." in note and "+Be very polite." in note
    diff = Path(client.download_artifacts(polite.info.run_id, "prompt.diff", str(tmp_path / "d")))
    assert "+Be very polite." in diff.read_text()

    # a fully cached re-run of the last suite: the same results, so nothing new in MLflow
    rerun = _run(write_suite(_suite("t-prompts", polite="Be very polite.")), tmp_path, server.uri)
    (tracked,) = rerun.tracked
    assert tracked.skipped and f"unchanged since run {last.run_id}" in tracked.message
    assert rerun.summary.counts.cached == rerun.summary.counts.done == 8
    assert len(_parents(client, experiment.experiment_id)) == 3

    # `evalkit log` of an already logged, unchanged run adds nothing
    out = CliRunner().invoke(
        cli,
        ["log", first.run_id, "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", server.uri],
    )
    assert out.exit_code == 0, out.output
    assert "already logged" in out.output
    assert len(_parents(client, experiment.experiment_id)) == 3


def test_unreachable_server_warns_and_log_uploads_later(
    server: MlflowServer,
    client,
    write_suite: Callable[..., Path],
    tmp_path: Path,
) -> None:
    suite = write_suite(_suite("t-offline"))
    runs = tmp_path / "runs"
    dead = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        cli, ["run", str(suite), "-q", "--runs-dir", str(runs), "--tracking-uri", dead]
    )
    assert result.exit_code == 0, result.output  # the evaluation itself succeeded
    output = " ".join(result.output.split())
    assert "MLflow logging failed" in output and "unreachable" in output
    run_id = re.search(r"evalkit log (\S+?)`", output).group(1)
    assert (runs / run_id / "results.jsonl").read_text().count("\n") == 8
    assert client.get_experiment_by_name("t-offline") is None

    args = ["log", run_id, "--runs-dir", str(runs), "--tracking-uri", server.uri]
    uploaded = CliRunner().invoke(cli, args)
    assert uploaded.exit_code == 0, uploaded.output
    assert "logged to experiment 't-offline'" in uploaded.output
    experiment = client.get_experiment_by_name("t-offline")
    (parent,) = _parents(client, experiment.experiment_id)
    assert parent.data.tags["evalkit.run_id"] == run_id

    failed = CliRunner().invoke(
        cli, ["log", run_id, "--runs-dir", str(runs), "--tracking-uri", dead]
    )
    assert failed.exit_code == 3 and "unreachable" in failed.output
    assert "Traceback" not in failed.output


def test_relogging_a_changed_run_updates_instead_of_duplicating(
    server: MlflowServer,
    client,
    write_suite: Callable[..., Path],
    tmp_path: Path,
) -> None:
    from evalkit.trackers.mlflow import track_run

    result = _run(write_suite(_suite("t-update")), tmp_path, server.uri)
    # what a resumed run looks like to the logger: different results, same run id
    from evalkit.results.schema import VerdictDoc
    from evalkit.results.store import RunStore

    store = RunStore(result.run_dir.parent, result.run_id)
    summary = store.summary()
    summary.cells[0].metrics["contains"].mean = 0.5
    summary.verdict = VerdictDoc.model_validate(
        {"passed": False, "gates": [{"name": "contains-min", "passed": False}]}
    )
    store.write_summary(summary)

    tracked = track_run(result.run_dir, tracking_uri=server.uri)
    assert not tracked.skipped
    experiment = client.get_experiment_by_name("t-update")
    (parent,) = _parents(client, experiment.experiment_id)
    assert parent.info.run_id == tracked.mlflow_run_id
    assert parent.data.metrics["plain/mock/contains"] == 0.5
    assert parent.data.tags["evalkit.verdict"] == "failed"
    assert parent.data.tags["evalkit.gates_failed"] == "contains-min"
    children = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == 2
    for child in children:
        assert len(_table(client, child.info.run_id, tmp_path / child.info.run_id)["rows"]) == 4
    traces = client.search_traces(locations=[experiment.experiment_id], max_results=100)
    assert len(traces) == 8
    assert track_run(result.run_dir, tracking_uri=server.uri).skipped


def test_no_secret_reaches_mlflow(
    server: MlflowServer,
    client,
    write_suite: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    suite = _suite("t-secrets").replace(
        "    options:\n",
        "    options:\n"
        "      api_key_env: OPENAI_API_KEY\n"
        '      token: "${OPENAI_API_KEY}"\n'  # a secret interpolated into an option
        '      base_url: "http://127.0.0.1:9/v1?key=${OPENAI_API_KEY}"\n',  # and into a URL
    )
    result = _run(write_suite(suite), tmp_path, server.uri)
    experiment = client.get_experiment_by_name("t-secrets")
    logged = _everything_logged(client, experiment, tmp_path / "scan")
    assert SENTINEL not in logged
    assert len(logged) > 10_000  # the scan did read params, tags, artifacts, tables and traces
    (parent,) = _parents(client, experiment.experiment_id)
    assert parent.data.params["model.mock.option.token"] == "***"
    assert parent.data.params["model.mock.option.api_key_env"] == "OPENAI_API_KEY"
    assert result.run_id in logged


def _everything_logged(client, experiment, folder: Path) -> str:
    """Params, metrics names, tags, inputs, every artifact, every trace, the prompts: one text."""
    parts = [json.dumps(experiment.tags)]
    for run in client.search_runs([experiment.experiment_id], max_results=100):
        parts += [
            json.dumps(run.data.params),
            json.dumps(run.data.tags),
            json.dumps(run.data.metrics),
        ]
        parts += [
            str(d.dataset) + d.dataset.schema + d.dataset.source for d in run.inputs.dataset_inputs
        ]
        local = Path(client.download_artifacts(run.info.run_id, "", str(folder / run.info.run_id)))
        parts += [p.read_text(errors="replace") for p in local.rglob("*") if p.is_file()]
    for trace in client.search_traces(locations=[experiment.experiment_id], max_results=100):
        parts.append(trace.to_json())
    for prompt in client.search_prompts():
        for version in client.search_prompt_versions(prompt.name):
            parts.append(json.dumps(version.template))
    return "\n".join(parts)


def _synthetic_run(runs: Path, examples: int, variants: tuple[str, ...] = ("a", "b")) -> Path:
    """A finished run of examples x variants items written straight into a run folder."""
    from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
    from evalkit.results.store import RunStore
    from evalkit.results.summary import aggregate

    store = RunStore(runs, "20261127-000000-scale-0000")
    manifest = {
        "run_id": store.run_id,
        "created_at": "2026-11-27T00:00:00Z",
        "suite": {"name": "t-scale", "hash": "h", "tags": {}},
        "dataset": {"name": "d", "digest": "dg", "rows": examples, "path": "d.jsonl"},
        "variants": {
            v: {"hash": f"h{v}", "template": f"[user]\n{v} {{{{ q }}}}"} for v in variants
        },
        "models": [{"id": "m", "provider": "mock", "params": {}, "options": {}}],
        "repeats": 1,
        "total": examples * len(variants),
    }
    store.create(RunManifest.model_validate(manifest), "name: t-scale\n")
    for variant in variants:
        for i in range(examples):
            question = f"question {i}: a prompt about as long as a real customer question"
            store.append(
                ResultRecord.model_validate(
                    {
                        "run_id": store.run_id,
                        "key": f"e{i}|{variant}|m|0",
                        "example_id": f"e{i}",
                        "variant": variant,
                        "model": "m",
                        "repeat": 0,
                        "inputs": {"id": f"e{i}", "q": question, "expected": "x"},
                        "messages": [{"role": "user", "content": f"{variant} {question}"}],
                        "output": "an answer of a few words " * 4,
                        "usage": {"input_tokens": 20, "output_tokens": 10},
                        "latency_ms": float(i % 97),
                        "cost": 0.0001,
                        "cached": False,
                        "scores": {
                            "contains": {"value": float(i % 3 > 0), "passed": i % 3 > 0},
                            "rouge": {"value": (i % 10) / 10, "passed": None},
                        },
                        "error": None,
                    }
                )
            )
    store.close()
    records = store.records()
    store.write_summary(
        RunSummary.model_validate(
            {
                "run_id": store.run_id,
                "status": "complete",
                "counts": {"total": len(records), "done": len(records), "errors": 0, "cached": 0},
                "cells": aggregate(records, list(variants), ["m"]),
            }
        )
    )
    return store.dir


def test_ten_thousand_rows_log_in_seconds(server: MlflowServer, client, tmp_path: Path) -> None:
    import time

    from evalkit.suite.schema import TrackingConfig
    from evalkit.trackers.mlflow import track_run

    run_dir = _synthetic_run(tmp_path / "runs", examples=5_000)
    started = time.perf_counter()
    # a server writes each trace as its own transaction: cap them (the table has every row)
    config = TrackingConfig(traces=100)
    tracked = track_run(run_dir, tracking_uri=server.uri, config=config)
    seconds = time.perf_counter() - started
    print(f"10,000 rows logged in {seconds:.1f}s ({tracked.traces} traced items)")
    assert 50 <= tracked.traces <= 100 and tracked.traces % 2 == 0  # <= the cap, whole examples
    table = _table(client, tracked.mlflow_run_id, tmp_path / "dl")
    assert len(table["rows"]) == 10_000
    # generous for a loaded 2-core CI box; measured ~9-12 s there, mostly the 100 traces
    assert seconds < 60


def test_ten_thousand_items_all_traced_in_the_local_store(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from evalkit.trackers.mlflow import track_run
    from evalkit.trackers.mlflow.trace_sinks import run_trace_ids

    run_dir = _synthetic_run(tmp_path / "runs", examples=5_000)
    tracked = track_run(run_dir)  # the default store: runs/mlflow.db
    print(f"10,000 items and their traces logged in {tracked.seconds:.1f}s")
    assert tracked.traces == 10_000  # every item is a trace (the table holds every row too)
    local = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    experiment = local.get_experiment_by_name("t-scale")
    assert len(run_trace_ids(local, experiment.experiment_id, run_dir.name)) == 10_000
    (child,) = local.search_runs(
        [experiment.experiment_id], "tags.`evalkit.variant` = 'b'", max_results=1
    )
    page = local.search_traces(
        locations=[experiment.experiment_id],
        run_id=child.info.run_id,
        filter_string="tag.`evalkit.example_id` = 'e42'",
    )
    (trace,) = page
    assert trace.info.execution_duration == 42  # the item's own latency: float(i % 97) ms
    assert {a.name: a.feedback.value for a in trace.info.assessments} == {
        "contains": False,  # i % 3 == 0: not passed, a pass/fail score
        "rouge": 0.2,
    }
    assert trace.info.tags["evalkit.variant"] == "b" and trace.info.request_preview.startswith(
        "e42 · "
    )
