"""Tracking switches and the `evalkit ui` / `evalkit log` edges that need no server."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.api import RunOptions, run_suite
from evalkit.cli.main import cli


def test_tracking_is_off_with_the_env_switch_or_the_flag(
    write_suite: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    run_suite(write_suite(), RunOptions(runs_dir=runs))  # conftest sets EVALKIT_NO_TRACKING=1
    assert not (runs / "mlflow.db").exists()
    monkeypatch.delenv("EVALKIT_NO_TRACKING")
    result = CliRunner().invoke(
        cli, ["run", str(write_suite()), "-q", "--runs-dir", str(runs), "--no-tracking"]
    )
    assert result.exit_code == 0, result.output
    assert not (runs / "mlflow.db").exists() and "MLflow" not in result.output


def test_suite_can_turn_tracking_off(
    write_suite: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import MOCK_SUITE

    monkeypatch.delenv("EVALKIT_NO_TRACKING")
    runs = tmp_path / "runs"
    run_suite(write_suite(MOCK_SUITE + "tracking: false\n"), RunOptions(runs_dir=runs))
    assert not (runs / "mlflow.db").exists()


@pytest.mark.slow
def test_default_store_is_sqlite_under_the_runs_dir(
    write_suite: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.delenv("EVALKIT_NO_TRACKING")
    runs = tmp_path / "runs"
    result = run_suite(write_suite(), RunOptions(runs_dir=runs))
    db = runs / "mlflow.db"
    assert db.is_file()
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("mock-suite")
    parents = client.search_runs([experiment.experiment_id], "tags.`mlflow.parentRunId` IS NULL")
    assert [p.data.tags["evalkit.run_id"] for p in parents] == [result.run_id]
    tables = list((runs / "mlartifacts" / "mock-suite").rglob("evalkit_results.json"))
    assert len(tables) == 3  # the parent's and one per variant x model


def test_ui_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ui", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "no MLflow store" in result.output and "evalkit log" in result.output


def test_ui_on_a_busy_port_suggests_another(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "mlflow.db").write_bytes(b"")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["ui", "--runs-dir", str(runs), "--port", str(port)])
    assert result.exit_code == 2
    assert f"--port {port + 1}" in result.output


def test_ui_for_a_tracking_server_just_points_at_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ui", "--tracking-uri", "https://u:p@mlflow.example:5000"])
    assert result.exit_code == 0
    assert "https://mlflow.example:5000" in result.output and "u:p" not in result.output


def test_log_unknown_run_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["log", "nope", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no run 'nope'" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_no_wait_tracking_exits_and_logging_finishes_in_the_background(
    write_suite: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from mlflow import MlflowClient

    monkeypatch.delenv("EVALKIT_NO_TRACKING")
    runs = tmp_path / "runs"
    args = ["run", str(write_suite()), "-q", "--runs-dir", str(runs), "--no-wait-tracking"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "logging to MLflow in the background" in " ".join(result.output.split())
    assert "EVALKIT_NO_WAIT_TRACKING" not in os.environ  # set for that run only
    client, found = None, []
    deadline = time.monotonic() + 180
    while not found and time.monotonic() < deadline:
        time.sleep(1)
        if (runs / "mlflow.db").is_file():
            client = client or MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
            experiment = client.get_experiment_by_name("mock-suite")
            if experiment is not None:
                found = client.search_runs(
                    [experiment.experiment_id],
                    "tags.`evalkit.fingerprint` != '' and tags.`mlflow.parentRunId` IS NULL",
                )
    assert found, "the background logging never finished"
    assert found[0].info.status == "FINISHED"
