"""`evalkit gate RUN_ID`: re-decide the gates of a finished run, without calling any model.

Exit 0 when every gate passes, 1 when one fails, 3 when the run did not complete, 2 for a bad
argument (unknown run, invalid gates). The verdict is written back into the run's summary.json
and, when the run is logged and tracking is on, into its MLflow tags.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evalkit.cli.common import handle_errors, runs_dir_option

report_options = [
    click.option(
        "--junit",
        "junit",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write JUnit XML: one test case per gate check.",
    ),
    click.option(
        "--junit-examples",
        is_flag=True,
        help="Also add one failing JUnit test case per failed example.",
    ),
    click.option(
        "--markdown",
        "markdown",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set).",
    ),
    click.option(
        "--baseline",
        metavar="NAME_OR_RUN_ID",
        help="Compare every regression gate with this baseline instead of the suite's.",
    ),
]


tracking_options = [
    click.option(
        "--tracking-uri",
        metavar="URI",
        help="MLflow server or store, for baselines kept there [default: $MLFLOW_TRACKING_URI,"
        " the suite's tracking.uri, else <runs-dir>/mlflow.db].",
    ),
    click.option("--no-tracking", is_flag=True, help="Do not use MLflow (local baselines only)."),
]


def with_tracking_options(fn: Any) -> Any:
    """--tracking-uri and --no-tracking, for `gate` and `baseline set`."""
    for option in reversed(tracking_options):
        fn = option(fn)
    return fn


def with_report_options(fn: Any) -> Any:
    """--junit, --junit-examples, --markdown and --baseline, shared by `run` and `gate`."""
    for option in reversed(report_options):
        fn = option(fn)
    return fn


@click.command("gate")
@click.argument("run_id")
@click.option(
    "--suite",
    "suite",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use the gates of this suite file [default: the suite as it was run].",
)
@runs_dir_option()
@with_tracking_options
@with_report_options
@handle_errors
def gate_cmd(
    run_id: str,
    suite: Path | None,
    runs_dir: Path | None,
    tracking_uri: str | None,
    no_tracking: bool,
    **report: Any,
) -> None:
    """Decide the gates of the finished run RUN_ID again (no model is called).

    \b
    evalkit gate 20261127-101500-support-faq-1a2b
    evalkit gate ci-42 --baseline main --junit junit.xml --markdown summary.md
    evalkit gate ci-42 --suite suites/support_faq.yaml   # with edited thresholds

    A baseline that is not in the runs folder is looked up in MLflow (tracking on) and
    downloaded into it.
    """
    from rich.console import Console

    from evalkit.gates.apply import decide_and_store, exit_code, gates_of_run
    from evalkit.report.gate_text import print_verdict
    from evalkit.results.store import RunStore, default_runs_dir

    folder = runs_dir or default_runs_dir()
    store = RunStore.open_existing(folder, run_id)
    gates, repeats = gates_of_run(store)
    if suite is not None:
        gates, repeats = _suite_gates(suite)
    previous = store.summary()
    summary = decide_and_store(
        store,
        gates,
        repeats=repeats,
        runs_dir=folder,
        baseline=report["baseline"],
        tracking_uri=tracking_uri,
        tracking=not no_tracking,
    )
    console = Console() if sys.stdout.isatty() else Console(width=160)  # CI logs: room for it
    if not gates:
        console.print(f"run {run_id} has no gates to decide")
    print_verdict(console, summary)
    write_reports(summary, store, **report)
    if not no_tracking:
        _update_tracking(store.dir, summary, previous, tracking_uri)
    sys.exit(exit_code(summary))


def _update_tracking(
    run_dir: Path, summary: dict[str, Any], previous: dict[str, Any] | None, uri: str | None
) -> None:
    """A changed verdict goes to MLflow too (tags of the logged run); a failure only warns."""
    if summary.get("verdict") == (previous or {}).get("verdict"):
        return
    from evalkit.trackers.mlflow import relog_verdict_after_gate

    relog_verdict_after_gate(run_dir, tracking_uri=uri, previous_summary=previous)


def _suite_gates(path: Path) -> tuple[list[Any], int]:
    from evalkit.gates.apply import check_gates
    from evalkit.suite.loader import load_suite

    loaded = load_suite(path)
    check_gates(loaded.suite, str(loaded.path), loaded.line_of)
    return list(loaded.suite.gates), int(loaded.suite.repeats)


def write_reports(
    summary: dict[str, Any],
    store: Any,
    *,
    junit: Path | None = None,
    junit_examples: bool = False,
    markdown: Path | None = None,
    **_: Any,
) -> None:
    """Write the JUnit / Markdown files that were asked for (Markdown also to the job summary)."""
    if junit is not None:
        from evalkit.report.junit import write_junit

        write_junit(summary, junit, records=store.records() if junit_examples else None)
    if markdown is not None:
        from evalkit.report.markdown import write_markdown

        write_markdown(summary, markdown)
