"""Tracking pieces that need no MLflow: target resolution, redaction, payloads, sampling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.results.redaction import MASK, Redactor, is_secret_name
from evalkit.results.schema import (
    CellSummary,
    ResultRecord,
    RunManifest,
    RunSummary,
    VariantInfo,
    VerdictDoc,
)
from evalkit.suite.schema import Suite, TrackingConfig
from evalkit.trackers.mlflow.config import resolve_target, strip_credentials
from evalkit.trackers.mlflow.prompts import prompt_name, variant_messages
from evalkit.trackers.mlflow.rundata import (
    RunDocs,
    cell_metrics,
    cell_params,
    cell_tags,
    cell_verdict,
    parent_metrics,
    verdict_tags,
)
from evalkit.trackers.mlflow.tables import result_rows
from evalkit.trackers.mlflow.traces import traced


def _run_dir(tmp_path: Path, tracking: str = "") -> Path:
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"run_id": "r1", "suite": {"name": "faq"}}))
    (run_dir / "suite.yaml").write_text("name: faq\n" + tracking)
    return run_dir


def test_target_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = _run_dir(tmp_path, "tracking:\n  uri: http://suite:5000\n  experiment: suite-exp\n")
    assert resolve_target(run_dir).uri == "http://suite:5000"
    assert resolve_target(run_dir).experiment == "suite-exp"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert resolve_target(run_dir).uri == "http://env:5000"
    target = resolve_target(run_dir, uri="http://cli:5000", experiment="cli-exp")
    assert (target.uri, target.experiment) == ("http://cli:5000", "cli-exp")
    assert target.artifact_location is None  # a server chooses where artifacts go


def test_default_target_is_a_local_sqlite_store_beside_the_runs(tmp_path: Path) -> None:
    target = resolve_target(_run_dir(tmp_path))
    db = (tmp_path / "runs" / "mlflow.db").resolve()
    assert target.uri == f"sqlite:///{db}"
    assert target.experiment == "faq"  # one experiment per suite
    assert target.artifact_location == (db.parent / "mlartifacts" / "faq").as_uri()


def test_tracking_shorthands_and_strict_keys() -> None:
    assert TrackingConfig.model_validate(False).enabled is False
    assert TrackingConfig.model_validate("http://h:5000").uri == "http://h:5000"
    with pytest.raises(ValueError, match="extra"):
        TrackingConfig.model_validate({"url": "x"})
    suite = Suite.model_validate(
        {
            "name": "s",
            "dataset": {"rows": [{"q": 1}]},
            "prompts": {"p": "{{ q }}"},
            "models": [{"id": "m", "provider": "mock"}],
            "tracking": {"traces": 0},
        }
    )
    assert suite.tracking.traces == 0


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("OPENAI_API_KEY", True),
        ("Authorization", True),
        ("x-auth-token", True),
        ("password", True),
        ("client_secret", True),
        ("api_key_env", False),  # names a variable, holds no secret
        ("max_tokens", False),
        ("author", False),
        ("monkey", False),
        ("base_url", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redactor_masks_keys_and_scrubs_env_values() -> None:
    redactor = Redactor.from_env({"MY_TOKEN": "tok-123456", "HOME": "/root", "DEBUG": "1"})
    assert redactor.secrets == ("tok-123456",)
    data = {"api_key": "sk-1", "headers": {"X-Trace": "Bearer tok-123456"}, "max_tokens": 5}
    assert redactor.mapping(data) == {
        "api_key": MASK,
        "headers": {"X-Trace": f"Bearer {MASK}"},
        "max_tokens": 5,
    }
    assert strip_credentials("https://u:p@host:5000/x") == "https://host:5000/x"


def _record(example: str, variant: str, value: float, **extra: object) -> ResultRecord:
    record = {
        "run_id": "r1",
        "key": f"{example}|{variant}|m|0",
        "example_id": example,
        "variant": variant,
        "model": "m",
        "repeat": 0,
        "inputs": {"question": f"q {example}"},
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": f"q {example}"},
        ],
        "output": "out",
        "usage": {"input_tokens": 3, "output_tokens": 1},
        "latency_ms": 1.0,
        "cost": None,
        "cached": False,
        "scores": {"contains": {"value": value, "passed": bool(value)}},
        "error": None,
    }
    record.update(extra)
    return ResultRecord.model_validate(record)


def test_a_trace_cap_is_whole_examples_and_the_same_across_runs() -> None:
    records = [_record(f"e{i}", v, 1.0) for i in range(200) for v in ("a", "b")]

    def sample(items: list[ResultRecord], cap: int) -> list[ResultRecord]:
        chosen: list[ResultRecord] = []
        for record in items:
            if traced(record, cap, len(items), len(chosen)):
                chosen.append(record)
        return chosen

    first = sample(records, 100)
    assert 80 <= len(first) <= 100  # about the cap, never above it
    ids = {r.example_id for r in first}
    whole = [e for e in ids if sum(r.example_id == e for r in first) == 2]
    assert len(whole) >= len(ids) - 1  # whole examples (the hard stop may cut the last one)
    again = {r.example_id for r in sample(list(reversed(records)), 100)}
    assert len(ids & again) >= 0.9 * len(ids)  # mostly the same examples, whatever the order
    assert sample(records, 0) == []
    assert len(sample(records, 10_000)) == len(records)  # a cap above the run: every item
    assert all(traced(r, None, len(records), 10**9) for r in records)  # no cap: every item


def test_payloads_from_a_summary() -> None:
    cell = CellSummary.model_validate(
        {
            "variant": "a",
            "model": "m",
            "items": 2,
            "errors": 0,
            "cached": 1,
            "latency_ms": {"mean": 2.0, "p50": 1.5, "p95": 3.0},
            "tokens": {"input": 6.0, "output": 2.0, "mean_input": 3.0, "mean_output": 1.0},
            "cost": {"total": 0.2, "per_item": 0.1},
            "metrics": {
                "contains": {"mean": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 2, "kind": "mean"},
                "rouge": {"mean": 2 / 3, "n": 2},
            },
        }
    )
    metrics = cell_metrics(cell)
    assert next(iter(metrics)) == "contains"  # means first: the UI lists columns in this order
    assert metrics["rouge"] == 0.6667  # rounded for people, not 0.6666666666666666
    assert metrics["latency_ms.p95"] == 3.0 and metrics["cost.total"] == 0.2
    assert metrics["tokens.input"] == 6.0 and metrics["errors"] == 0.0
    assert not [name for name in metrics if "ci_" in name or name.endswith(".n")]
    manifest = RunManifest.model_validate(
        {
            "run_id": "r1",
            "suite": {"name": "faq", "hash": "h"},
            "dataset": {"name": "d", "digest": "dg", "rows": 2},
            "variants": {"a": {"hash": "va", "template": "[user]\n{{ q }}"}},
            "models": [
                {"id": "m", "provider": "mock", "params": {"t": 0}, "options": {"token": "x"}}
            ],
        }
    )
    summary = RunSummary(run_id="r1", cells=[cell], counts={"done": 2})  # type: ignore[arg-type]
    run = RunDocs(manifest, summary, "", Redactor())
    params = cell_params(run, "a", "m")
    assert params["template_hash"] == "va" and params["model.param.t"] == "0"
    assert params["model.option.token"] == MASK
    tags = cell_tags(run, cell, "parent-id", prompt_version="3")
    assert tags["mlflow.runName"] == "a x m · prompt v3 · r1"  # the cell, its prompt, the run
    assert tags["evalkit.ci.contains"] == "0.1 to 0.9 (95% CI, n=2)"  # the bounds as a tag
    assert "evalkit.ci.rouge" not in tags  # no interval, no tag
    logged = parent_metrics(run)
    assert logged["a/m/contains"] == 0.5 and logged["a/m/rouge"] == 0.6667
    assert logged["done"] == 2.0


def test_verdict_tags_for_the_run_and_for_each_cell() -> None:
    assert verdict_tags(None) == {}
    verdict = VerdictDoc.model_validate(
        {
            "passed": False,
            "gates": [
                {"name": "", "metric": "acc", "passed": False, "variant": "a", "model": "m"},
                {"name": "acc [b/m]", "passed": True, "variant": "b", "model": "m"},
                {"name": "health", "passed": True},
            ],
        }
    )
    assert verdict_tags(verdict) == {
        "evalkit.verdict": "failed",
        "evalkit.gates": "2/3 passed",
        "evalkit.gates_failed": "acc [a/m]",
    }
    cell_b = cell_verdict(verdict, "b", "m")
    assert verdict_tags(cell_b)["evalkit.verdict"] == "passed"
    assert verdict_tags(cell_b)["evalkit.gates"] == "2/2 passed"
    assert cell_verdict(None, "b", "m") is None


def test_table_rows_are_flat_and_scrubbed() -> None:
    redactor = Redactor(("s3cr3t-value",))
    rows = result_rows([_record("e1", "a", 0.0, output="leak s3cr3t-value")], redactor)
    assert rows[0]["input_question"] == "q e1"
    assert rows[0]["prompt"] == "[system] s\n\n[user] q e1"  # the full prompt, system included
    assert rows[0]["output"] == f"leak {MASK}"
    assert rows[0]["score_contains"] == 0.0 and rows[0]["pass_contains"] is False
    assert not [name for name in rows[0] if "." in name]  # the UI shows dotted columns empty


def test_prompt_names_and_messages() -> None:
    assert prompt_name("support faq", "terse/v2") == "support-faq.terse-v2"
    text = "[system]\nBe brief.\n\n[user]\n{{ q }}\nthen more"
    assert variant_messages(VariantInfo(hash="h", template=text)) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "{{ q }}\nthen more"},
    ]
    messages = [{"role": "user", "content": "x"}]
    assert variant_messages(VariantInfo(hash="h", messages=messages, template="x")) == messages


def test_tracking_import_does_not_import_mlflow() -> None:
    code = (
        "import sys, evalkit.trackers.mlflow, evalkit.results.compare;"
        " print('mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
