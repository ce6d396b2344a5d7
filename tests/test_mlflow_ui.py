"""The MLflow UI in a real headless Chromium, on a store with two evalkit runs of the same
two-variant suite (logged the default way, by the background logging process):

- `evalkit ui` serves it: both runs and their metrics are on screen;
- a real `mlflow server` (tests/mlflow_server.py) serves it: the traces "compare to" view of
  each variant pairs every example of run B with the same example of run A, with both runs'
  scores, and the results-table artifact shows every score column filled.

Screenshots are kept under $EVALKIT_TEST_ARTIFACTS (else the test's temp dir) and their paths
printed, for CI to keep.
"""

from __future__ import annotations

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
from mlflow_server import MlflowServer, free_port

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
    for run_id, text in (("ui-run-a", MOCK_SUITE), ("ui-run-b", SUITE_B)):
        result = run_suite(write_suite(text), RunOptions(runs_dir=runs, run_id=run_id))
        (tracked,) = result.tracked  # logged, not a warning
        assert not tracked.skipped and tracked.details["traces"] == 8, tracked
    return runs


def _artifacts_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EVALKIT_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
    shot = _artifacts_folder(tmp_path) / "mlflow-ui-runs.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")

    # one run's evaluation view: per-example traces with their assessments
    child = _child_runs(two_logged_runs, parents["ui-run-b"])["polite"]
    browser.get(f"{evalkit_ui}/#/experiments/{experiment_id}/runs/{child}/traces")
    wait.until(lambda d: "Opposite of hot?" in d.find_element("tag name", "body").text)
    _close_assistant(browser)
    body = browser.find_element("tag name", "body").text
    assert "contains" in body and "length" in body and "cold" in body.split("\n")
    shot = _artifacts_folder(tmp_path) / "mlflow-ui-traces.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def _child_runs(runs: Path, parent_id: str) -> dict[str, str]:
    """variant -> the MLflow run id of its child run."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    return {c.data.tags["evalkit.variant"]: c.info.run_id for c in children}


@pytest.fixture
def mlflow_server(two_logged_runs: Path) -> Iterator[MlflowServer]:
    # a real `mlflow server` on the store the runs were logged to (the default, runs/mlflow.db)
    with MlflowServer(two_logged_runs) as server:
        yield server


def _table(driver) -> list[list[str]]:
    """The rows of the grid on screen (header first), each as its cells' text."""
    script = """
        return Array.from(document.querySelectorAll('[role=row]')).map(row =>
            Array.from(row.querySelectorAll('[role=cell], [role=columnheader]'))
                .map(cell => cell.innerText.trim()));
    """
    rows: list[list[str]] = driver.execute_script(script)
    return [r for r in rows if any(r)]


def _compare_rows(driver) -> dict[str, dict[str, list[str]]]:
    """Compare view: example id -> column -> [this run's value, the other run's value]."""
    rows = _table(driver)
    header = next((r for r in rows if "Request" in r), None)
    if header is None:  # not rendered yet
        return {}
    names = [cell.split("\n")[0] for cell in header]
    found = {}
    for row in rows:
        if row is header or len(row) != len(names):
            continue
        cells = dict(zip(names, row, strict=True))
        example = cells["Request"].split(" · ")[0]
        found[example] = {k: v.split("\n") for k, v in cells.items() if k != "Request"}
    return found


def test_compare_view_pairs_every_example_of_two_runs_with_their_scores(
    mlflow_server: MlflowServer, two_logged_runs: Path, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    experiment_id, parents = _ids(two_logged_runs)
    run_a, run_b = (
        _child_runs(two_logged_runs, parents["ui-run-a"]),
        _child_runs(two_logged_runs, parents["ui-run-b"]),
    )
    examples = {"q1", "q2", "q3", "q4"}
    wait = WebDriverWait(browser, 90, poll_frequency=0.5)
    for variant in ("plain", "polite"):
        url = f"{mlflow_server.uri}/#/experiments/{experiment_id}/runs/{run_b[variant]}/traces"
        browser.get(f"{url}?compareToRunUuid={run_a[variant]}")
        wait.until(lambda d: set(_compare_rows(d)) == examples)
        _close_assistant(browser)
        rows = _compare_rows(browser)
        for example in examples:  # each row: run B's trace and run A's, side by side
            assert len(rows[example]["Trace ID"]) == 2, rows[example]
            assert rows[example]["contains"] in (["True", "True"], ["True", "False"])
            assert len(rows[example]["length"]) == 2
        # B answers "cold" where A answered "warm": the one example whose score changed
        assert rows["q4"]["Response"] == ["cold", "warm"]
        assert rows["q4"]["contains"] == ["True", "False"]
        assert rows["q1"]["length"] == ["False", "False"]  # "The answer is 4": 4 words > 3
        shot = _artifacts_folder(tmp_path) / f"mlflow-ui-compare-{variant}.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot: {shot}")


def test_results_table_artifact_shows_every_score(
    mlflow_server: MlflowServer, two_logged_runs: Path, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    experiment_id, parents = _ids(two_logged_runs)
    child = _child_runs(two_logged_runs, parents["ui-run-a"])["polite"]
    url = f"{mlflow_server.uri}/#/experiments/{experiment_id}/runs/{child}/artifacts"
    browser.get(f"{url}/evalkit_results.json")
    wait = WebDriverWait(browser, 90, poll_frequency=0.5)
    wait.until(lambda d: any("score_contains" in r for r in _table(d)))
    _close_assistant(browser)
    header, *rows = _table(browser)
    table = [dict(zip(header, row, strict=True)) for row in rows]
    assert len(table) == 4
    for name in ("score_contains", "pass_contains", "score_length", "pass_length"):
        assert all(row[name] not in ("", "null") for row in table), (name, table)
    q4 = next(row for row in table if row["example_id"] == "q4")
    assert q4["output"] == "warm" and q4["score_contains"] == "0" and q4["pass_contains"] == "false"
    assert q4["input_question"] == "Opposite of hot?"
    assert "[system] Be polite." in q4["prompt"]  # the full prompt, system message included
    shot = _artifacts_folder(tmp_path) / "mlflow-ui-results-table.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
