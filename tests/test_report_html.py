"""The HTML report: rendering from typed documents (fast), the `evalkit report` command, and a
real headless Chromium opening a report of two real mock runs with no network (slow).

The browser test keeps a screenshot under $EVALKIT_TEST_ARTIFACTS (or the test's tmp dir) and
prints its path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import MOCK_SUITE, ROWS

from evalkit.cli.main import cli
from evalkit.report.html import HtmlReporter, _load_run, render_html
from evalkit.results.schema import (
    CellSummary,
    FlakyReport,
    GateResultDoc,
    MetricStats,
    ResultRecord,
    RunManifest,
    RunSummary,
    ScoreDoc,
    SuiteInfo,
    VerdictCounts,
    VerdictDoc,
)
from evalkit.results.store import StoredRun

HOSTILE = "<script>alert(\"x\")</script> & 'q' <img src=x onerror=alert(1)>"


def record(
    run_id: str,
    example: str,
    variant: str,
    output: str | None,
    passed: bool | None = True,
    repeat: int = 0,
    error: str | None = None,
    reason: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> ResultRecord:
    scores = {} if error else {"contains": ScoreDoc(value=float(bool(passed)), passed=passed)}
    if reason:
        scores["contains"].reason = reason
    return ResultRecord(
        run_id=run_id,
        key=f"{example}|{variant}|mock|{repeat}",
        example_id=example,
        variant=variant,
        model="mock",
        repeat=repeat,
        inputs=inputs or {"id": example, "question": f"question {example}", "expected": "4"},
        output=output,
        scores=scores,
        error=error,
    )


def stored(
    run_id: str,
    records: list[ResultRecord],
    verdict: VerdictDoc | None = None,
    flaky: list[FlakyReport] | None = None,
    status: str = "complete",
) -> StoredRun:
    cells = []
    for variant in dict.fromkeys(r.variant for r in records):
        mine = [r for r in records if r.variant == variant and not r.error]
        rate = sum(r.scores["contains"].passed is True for r in mine) / max(1, len(mine))
        stats = MetricStats(
            mean=rate, ci_low=rate / 2, ci_high=min(1, rate + 0.2), n=len(mine), kind="pass_rate"
        )
        cells.append(CellSummary(variant=variant, model="mock", metrics={"contains": stats}))
    manifest = RunManifest(
        run_id=run_id,
        suite=SuiteInfo(name="demo"),
        metrics=[{"name": "contains", "type": "contains", "args": {"value": "{{ expected }}"}}],
    )
    summary = RunSummary(
        run_id=run_id,
        suite="demo",
        status=status,
        cells=cells,
        verdict=verdict,
        flaky=flaky or [],
    )
    return StoredRun(Path("runs") / run_id, manifest, summary, records)


def rows(page: str) -> dict[str, str]:
    """example id -> the HTML of its row in the per-example table."""
    found = re.findall(r'(<tr class="ex"[^>]*data-id="([^"]*)".*?</tr>)', page, flags=re.S)
    return {ex_id: html for html, ex_id in found}


def test_everything_from_the_run_is_escaped() -> None:
    evil = stored(
        "r1",
        [
            record("r1", "q1", "plain", HOSTILE, reason=HOSTILE, inputs={"question": HOSTILE}),
            record("r1", "q1", "po<b>lite", "fine"),
        ],
        verdict=VerdictDoc(
            passed=False,
            counts=VerdictCounts(gates=1, failed=1),
            gates=[
                GateResultDoc(
                    name=HOSTILE, type="threshold", passed=False, status="fail", message=HOSTILE
                )
            ],
        ),
    )
    page = render_html(evil)
    assert "<script>alert" not in page and "<img" not in page and "<b>lite" not in page
    assert page.count("<script") == 1  # the report's own, inline
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in page
    assert "po&lt;b&gt;lite" in page


def test_the_page_fetches_nothing() -> None:
    page = render_html(stored("r1", [record("r1", "q1", "plain", "4")]))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


def test_verdict_and_gates_come_first_worst_first() -> None:
    gates = [
        GateResultDoc(name="ok gate", type="threshold", passed=True, status="pass", message="fine"),
        GateResultDoc(
            name="bad gate", type="threshold", passed=False, status="fail", message="too low"
        ),
    ]
    verdict = VerdictDoc(passed=False, counts=VerdictCounts(gates=2, failed=1), gates=gates)
    page = render_html(stored("r1", [record("r1", "q1", "plain", "4")], verdict=verdict))
    assert page.index('id="verdict"') < page.index('id="results"') < page.index('id="examples"')
    assert "FAILED: 1 of 2 gate checks failed" in page
    assert page.index("bad gate") < page.index("ok gate")
    assert "too low" in page


def test_an_incomplete_run_is_not_a_pass() -> None:
    page = render_html(stored("r1", [record("r1", "q1", "plain", "4")], status="interrupted"))
    assert 'class="verdict inconclusive"' in page and "INCOMPLETE" in page


def test_error_bars_per_metric_and_cell_with_the_baseline_in_grey() -> None:
    base = stored("r0", [record("r0", "q1", v, "4") for v in ("plain", "polite")])
    run = stored("r1", [record("r1", "q1", v, "5", passed=False) for v in ("plain", "polite")])
    page = render_html(run, base)
    assert page.count('<svg class="errbar"') == 2  # 2 cells x 1 metric
    assert page.count('<circle class="ci"') == 2 and page.count('<circle class="ghost"') == 2
    assert page.count('<line class="ci"') == 2 * 3  # interval and its two caps


def test_a_changed_example_is_shown_side_by_side_with_the_baseline() -> None:
    base = stored(
        "r0", [record("r0", "q1", "plain", "warm", False), record("r0", "q2", "plain", "4")]
    )
    run = stored("r1", [record("r1", "q1", "plain", "cold"), record("r1", "q2", "plain", "4")])
    page = render_html(run, base)
    changed = rows(page)["q1"]
    assert 'data-changed="1"' in changed
    assert changed.index("warm") < changed.index("cold")  # baseline column first
    assert '<td class="out baseline">' in changed and '<td class="out run diff">' in changed
    assert 'data-changed="0"' in rows(page)["q2"]
    assert "this run</th>" in page and "baseline</th>" in page


def test_without_a_baseline_changed_means_variants_disagree() -> None:
    run = stored(
        "r1",
        [
            record("r1", "q1", "plain", "4"),
            record("r1", "q1", "polite", "four", passed=False),
            record("r1", "q2", "plain", "4"),
            record("r1", "q2", "polite", "4"),
        ],
    )
    found = rows(render_html(run))
    assert 'data-changed="1"' in found["q1"] and 'data-failed="1"' in found["q1"]
    assert 'data-changed="0"' in found["q2"] and 'data-failed="0"' in found["q2"]


def test_filters_flaky_and_failed_flags() -> None:
    run = stored(
        "r1",
        [
            record("r1", "q1", "plain", "4", passed=True, repeat=0),
            record("r1", "q1", "plain", "5", passed=False, repeat=1),
            record("r1", "q2", "plain", None, error="timeout after 30 s"),
            record("r1", "q3", "plain", "4"),
        ],
        flaky=[
            FlakyReport(variant="plain", model="mock", metric="contains", repeats=2, flaky=["q3"])
        ],
    )
    page = render_html(run)
    for name in ("changed", "failed", "flaky"):
        assert f'id="filter-{name}"' in page
    assert "row.dataset[filters[i].value]" in page  # the filtering script is inline
    found = rows(page)
    assert 'data-flaky="1"' in found["q1"] and "repeat 1" in found["q1"]
    assert 'data-failed="1"' in found["q2"] and "error: timeout after 30 s" in found["q2"]
    assert 'data-flaky="1"' in found["q3"]  # as summary.json reports it


def test_slices_by_a_dataset_column() -> None:
    def rec(example: str, category: str, passed: bool) -> ResultRecord:
        inputs = {"question": f"q {example}", "expected": "4", "category": category}
        return record("r1", example, "plain", "4", passed=passed, inputs=inputs)

    run = stored(
        "r1", [rec("q1", "billing", True), rec("q2", "billing", False), rec("q3", "geo", True)]
    )
    page = render_html(run)
    assert '<select id="group-by">' in page and ">category</option>" in page
    assert ">question</option>" not in page  # one value per example: not a slice
    billing = re.search(r"<tr><th>billing</th><td>2</td><td>(.*?)</td>", page)
    assert billing and "50%" in billing.group(1)
    assert 'data-s0="billing"' in rows(page)["q1"]


def test_a_big_run_is_capped_with_flagged_examples_first() -> None:
    records = [record("r1", f"q{i}", "plain", "4") for i in range(30)]
    records[25] = record("r1", "q25", "plain", "5", passed=False)
    page = render_html(stored("r1", records), max_examples=10)
    assert len(rows(page)) == 10 and "q25" in rows(page)
    assert "Showing 10 of 30 examples" in page


def test_the_reader_keeps_the_last_record_of_a_key_and_skips_torn_lines(
    write_suite: Callable[..., Path], tmp_path: Path
) -> None:
    from evalkit.api import RunOptions, run_suite

    result = run_suite(write_suite(), RunOptions(runs_dir=tmp_path / "runs", run_id="a"))
    results = result.run_dir / "results.jsonl"
    lines = results.read_text().splitlines()
    retried = json.dumps({**json.loads(lines[0]), "output": "retried"})
    results.write_text("\n".join([*lines, retried, '{"torn": ']) + "\n")
    run = _load_run(result.run_dir)
    assert len(run.records()) == len(lines)
    assert "retried" in [r.output for r in run.records()]
    assert run.summary.status == "complete" and run.manifest.suite.name == "mock-suite"


def test_report_command_with_a_named_baseline(
    write_suite: Callable[..., Path], tmp_path: Path
) -> None:
    from evalkit.api import RunOptions, run_suite
    from evalkit.gates.baselines import set_baseline

    runs = tmp_path / "runs"
    run_suite(write_suite(), RunOptions(runs_dir=runs, run_id="a"))
    run_suite(write_suite(SUITE_B, name="b.yaml"), RunOptions(runs_dir=runs, run_id="b"))
    set_baseline("a", "main", runs, tracking=False)
    out = tmp_path / "out" / "report.html"
    args = ["report", "b", "--baseline", "main", "-o", str(out), "--runs-dir", str(runs)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.output
    page = out.read_text()
    assert "compared with baseline run <code>a</code>" in page
    assert 'data-changed="1"' in rows(page)["q4"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["nope"], "no run 'nope'"),
        (["a", "--baseline", "nope"], "no baseline or run named 'nope'"),
    ],
)
def test_report_command_user_errors(
    extra: list[str], message: str, write_suite: Callable[..., Path], tmp_path: Path
) -> None:
    from evalkit.api import RunOptions, run_suite

    runs = tmp_path / "runs"
    run_suite(write_suite(), RunOptions(runs_dir=runs, run_id="a"))
    result = CliRunner().invoke(cli, ["report", *extra, "--runs-dir", str(runs)])
    assert result.exit_code == 2
    assert message in result.output and "hint:" in result.output
    assert "Traceback" not in result.output


def test_html_reporter_is_registered(write_suite: Callable[..., Path], tmp_path: Path) -> None:
    from evalkit.api import RunOptions, run_suite
    from evalkit.plugins.registry import registry
    from evalkit.report.base import Reporter, write_reports

    assert registry().get("reporter", "html") is HtmlReporter
    assert isinstance(HtmlReporter(), Reporter)
    result = run_suite(write_suite(), RunOptions(runs_dir=tmp_path / "runs", run_id="a"))
    path = tmp_path / "r" / "report.html"
    write_reports(_load_run(result.run_dir), [("html", path, {"max_examples": 2})])
    assert "Showing 2 of 4 examples" in path.read_text()


# --- a real browser, no network ---------------------------------------------------------------

# run b: "hot" now gets "cold" (q4 changes from fail to pass), "sky" gets hostile text
SUITE_B = MOCK_SUITE.replace('"hot": "warm"', '"hot": "cold"').replace(
    '"sky": "It is blue"', '"sky": "<b>grey</b> \\"sky\\""'
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def offline_browser() -> Iterator[Any]:
    """Headless Chromium that cannot reach any host: every name resolves to nothing and every
    connection goes to a dead proxy, so the page can only show what the file holds."""
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
        "--disable-quic",
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--window-size=1600,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "evalkit", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_report_in_headless_chromium(
    write_suite: Callable[..., Path], tmp_path: Path, offline_browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    gate = "gates:\n  - {metric: contains, min: 0.7}\n"
    rows_ = [{**row, "category": "geo" if row["id"] in ("q2", "q3") else "other"} for row in ROWS]
    suite_a = write_suite(MOCK_SUITE + gate, rows=rows_)
    suite_b = write_suite(SUITE_B + gate, rows=rows_, name="b.yaml")
    runs = tmp_path / "runs"
    for suite, run_id in ((suite_a, "run-a"), (suite_b, "run-b")):
        done = _evalkit(
            "run", str(suite), "--run-id", run_id, "--runs-dir", str(runs), "-q", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
    report = tmp_path / "report.html"
    done = _evalkit(
        "report",
        "run-b",
        "--baseline",
        "run-a",
        "-o",
        str(report),
        "--runs-dir",
        str(runs),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr

    driver = offline_browser
    driver.get(report.as_uri())
    verdict = driver.find_element(By.ID, "verdict")
    assert verdict.is_displayed() and verdict.text == "PASSED: all 2 gate checks passed"
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.gates tr.gate.pass")) == 2
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.errbar")
    assert len(bars) == 4 and all(b.is_displayed() and b.size["width"] > 100 for b in bars)
    assert driver.find_elements(By.CSS_SELECTOR, "svg.errbar circle.ghost")  # the baseline's

    q4 = driver.find_element(By.CSS_SELECTOR, "tr.ex[data-id='q4']")
    outputs = [td.text for td in q4.find_elements(By.CSS_SELECTOR, "td.out")]
    assert [o.splitlines()[0] for o in outputs] == ["warm", "cold", "warm", "cold"]
    assert "contains 0 ✗" in outputs[0] and "contains 1 ✓" in outputs[1]
    q3 = driver.find_element(By.CSS_SELECTOR, "tr.ex[data-id='q3'] td.out.run")
    assert q3.text.startswith('<b>grey</b> "sky"')  # shown as text, not markup

    driver.find_element(By.ID, "filter-changed").click()
    visible = [
        r.get_attribute("data-id")
        for r in driver.find_elements(By.CSS_SELECTOR, "tr.ex")
        if r.is_displayed()
    ]
    assert visible == ["q3", "q4"]
    assert driver.find_element(By.ID, "shown-count").text == "2 of 4 shown"
    Select(driver.find_element(By.ID, "group-by")).select_by_visible_text("category")
    groups = [g.text for g in driver.find_elements(By.CSS_SELECTOR, "tr.group") if g.is_displayed()]
    assert groups == ["category = geo · 1 of 2 shown", "category = other · 1 of 2 shown"]
    geo = driver.find_element(By.CSS_SELECTOR, "div.slice[data-slice='0']")
    assert geo.is_displayed() and "was 100% (-50%)" in geo.text  # q3 fell in geo
    # nothing was fetched: the document is the only resource the page ever loaded
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0

    folder = Path(os.environ.get("EVALKIT_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "html-report-changed.png"
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
