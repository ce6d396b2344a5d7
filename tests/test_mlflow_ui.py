"""The MLflow UI in a real headless Chromium, served by `evalkit ui` for a store with two
evalkit runs of the same suite: the runs and their metrics must be on screen.

Screenshots are kept under the test's temp dir (their paths are printed) for CI artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import MOCK_SUITE
from mlflow_server import free_port

from evalkit.api import RunOptions, run_suite

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# run B: "hot" now gets "cold", so its contains rate is 1.0 where run A has 0.75
SUITE_B = MOCK_SUITE.replace('"hot": "warm"', '"hot": "cold"')


@pytest.fixture
def two_logged_runs(
    write_suite: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.delenv("EVALKIT_NO_TRACKING", raising=False)
    runs = tmp_path / "runs"
    run_suite(write_suite(), RunOptions(runs_dir=runs, run_id="ui-run-a"))
    run_suite(write_suite(SUITE_B), RunOptions(runs_dir=runs, run_id="ui-run-b"))
    return runs


@pytest.fixture
def evalkit_ui(two_logged_runs: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path / "ui.log", "wb")  # noqa: SIM115 (closed below, after the process)
    cmd = [
        sys.executable,
        "-m",
        "evalkit",
        "ui",
        "--port",
        str(port),
        "--runs-dir",
        str(two_logged_runs),
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, tmp_path / "ui.log")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the session we started: evalkit ui + mlflow server
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert "MLflow UI: " + url in (tmp_path / "ui.log").read_text()


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    pytest.fail(f"evalkit ui did not come up:\n{log.read_text()[-3000:]}")


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):  # CI installs them (.ci/run -> make browser): never skip there
            pytest.fail(message)
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1800,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _ids(runs: Path) -> tuple[str, dict[str, str]]:
    """The experiment id and evalkit run id -> MLflow parent run id, from the store itself."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mock-suite")
    parents = client.search_runs([experiment.experiment_id], "tags.`mlflow.parentRunId` IS NULL")
    return experiment.experiment_id, {p.data.tags["evalkit.run_id"]: p.info.run_id for p in parents}


def _row_text(driver, run_name: str) -> str:
    from selenium.webdriver.common.by import By

    for row in driver.find_elements(By.CSS_SELECTOR, "[role='row']"):
        if run_name in row.text:
            return str(row.text)
    return ""


def _metric_cells(driver, run_name: str) -> dict[str, str]:
    """Column name -> cell text of a run's row, for the columns after the dataset column."""
    from selenium.webdriver.common.by import By

    header = driver.find_element(By.CSS_SELECTOR, "[role='row']").text.split("\n")
    cells = _row_text(driver, run_name).split("\n")
    names, values = header[header.index("Dataset") + 1 :], cells[cells.index("data") + 1 :]
    assert len(names) == len(values), (names, values)
    return dict(zip(names, values, strict=True))


def _close_assistant(driver) -> None:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
        if button.is_displayed():
            button.click()  # the assistant side panel hides the wide runs table


def test_ui_shows_both_runs_and_their_metrics(
    evalkit_ui: str,
    two_logged_runs: Path,
    browser,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    experiment_id, parents = _ids(two_logged_runs)
    assert set(parents) == {"ui-run-a", "ui-run-b"}
    browser.get(f"{evalkit_ui}/#/experiments/{experiment_id}/evaluation-runs")
    wait = WebDriverWait(browser, 60, poll_frequency=0.5)
    wait.until(lambda d: _row_text(d, "ui-run-a") and _row_text(d, "ui-run-b"))
    _close_assistant(browser)
    run_a, run_b = _metric_cells(browser, "ui-run-a"), _metric_cells(browser, "ui-run-b")
    assert run_a["plain/mock/contains"] == "0.75" and run_b["plain/mock/contains"] == "1"
    assert run_a["polite/mock/contains"] == "0.75" and run_b["polite/mock/contains"] == "1"
    assert run_a["plain/mock/length"] == run_b["plain/mock/length"] == "0.75"
    assert run_a["done"] == run_b["done"] == "8"
    shot = tmp_path / "mlflow-ui-runs.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")

    # one run's evaluation view: per-example traces with their assessments
    _, child = _child_run(two_logged_runs, parents["ui-run-b"])
    browser.get(f"{evalkit_ui}/#/experiments/{experiment_id}/runs/{child}/traces")
    wait.until(lambda d: "Opposite of hot?" in d.find_element("tag name", "body").text)
    _close_assistant(browser)
    body = browser.find_element("tag name", "body").text
    assert "contains" in body and "length" in body and '"cold"' in body
    shot = tmp_path / "mlflow-ui-traces.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def _child_run(runs: Path, parent_id: str) -> tuple[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    polite = next(c for c in children if c.data.tags["evalkit.variant"] == "polite")
    return json.dumps(polite.data.tags), polite.info.run_id
