"""`evalkit run`: run a suite (or resume a run) and print the comparison table."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import (
    runs_dir_option,
    with_executor_options,
    with_report_options,
    with_shard_options,
)
from evalkit.errors import EXIT_INTERRUPTED


@click.command("run")
@click.argument("suite", required=False, type=click.Path(dir_okay=False))
@click.option("--resume", "resume", metavar="RUN_ID", help="Finish an interrupted run.")
@runs_dir_option("Where runs are written")
@click.option("--run-id", help="Name the run instead of a generated id.")
@click.option("--no-cache", is_flag=True, help="Call the models even when a response is cached.")
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Response cache file [default: <runs-dir>/cache.sqlite].",
)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N examples.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=1024),  # suite.limits.LIMITS.concurrency (not imported here)
    help="Override the suite's concurrency (at most 1024).",
)
@click.option("--variant", "variants", multiple=True, help="Run only this prompt variant.")
@click.option("--model", "models", multiple=True, help="Run only this model id.")
@click.option(
    "--group-by",
    "group_by",
    multiple=True,
    metavar="COLUMN",
    help="Also show every cell's numbers per value of this dataset column (added to the"
    " suite's group_by; repeatable).",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop starting new items once this many USD are spent [default: the suite's max_cost].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the calls, estimated tokens and cost of the run; call nothing, write nothing.",
)
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="Log to this MLflow server or store [default: $MLFLOW_TRACKING_URI, the suite's"
    " tracking.uri, else <runs-dir>/mlflow.db].",
)
@click.option("--no-tracking", is_flag=True, help="Do not log the run to MLflow.")
@click.option(
    "--allow-code",
    is_flag=True,
    help="Import the Python modules the suite names (custom metrics, function providers)"
    " [or EVALKIT_ALLOW_CODE=1].",
)
@click.option(
    "--no-wait-tracking",
    is_flag=True,
    help="Exit without waiting for MLflow logging to finish (it goes on in the background;"
    " `evalkit log RUN_ID` repeats it if it fails).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@with_shard_options
@with_executor_options
@with_report_options
@handle_errors
def run_cmd(suite: str | None, quiet: bool, **kwargs: Any) -> None:
    """Run SUITE: every example x prompt variant x model (x repeats), scored and summarised.

    \b
    evalkit run suites/support_faq.yaml
    evalkit run suites/support_faq.yaml --limit 5 --variant terse
    evalkit run --resume 20261127-101500-support-faq-1a2b
    evalkit run suites/support_faq.yaml --junit junit.xml --markdown summary.md

    Exit codes: 0 gates passed, 1 a gate failed, 2 invalid input, 3 run incomplete,
    130 interrupted. A shard (--shard I/N) decides no gates: it exits 0 once its slice is
    complete, and `evalkit merge` decides them on the whole run.
    """
    from rich.console import Console

    from evalkit.api import RunInterrupted, run
    from evalkit.engine.progress import NoProgress, RichProgress

    err = Console(stderr=True)
    no_wait = kwargs.pop("no_wait_tracking")
    options = _options(kwargs, err)
    if kwargs["dry_run"]:
        _dry_run(suite, options)
        return
    progress = NoProgress() if quiet else RichProgress(err, "evaluating")
    try:
        with _no_wait_tracking(no_wait):
            result = run(suite, options, progress=progress)
    except RunInterrupted as stop:
        counts = stop.summary.counts
        err.print(
            f"[yellow]interrupted[/yellow]: {counts.done} of {counts.total} items done,"
            f" kept in {options.runs_dir / stop.run_id}/"
        )
        err.print(f"resume with: evalkit run --resume {stop.run_id}")
        sys.exit(EXIT_INTERRUPTED)
    print_result(result, err)
    sys.exit(result.exit_code)


@contextlib.contextmanager
def _no_wait_tracking(on: bool) -> Iterator[None]:
    """--no-wait-tracking, for the trackers of this run (EVALKIT_NO_WAIT_TRACKING=1)."""
    saved = os.environ.get("EVALKIT_NO_WAIT_TRACKING")
    if on:
        os.environ["EVALKIT_NO_WAIT_TRACKING"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("EVALKIT_NO_WAIT_TRACKING", None)
        else:
            os.environ["EVALKIT_NO_WAIT_TRACKING"] = saved


def print_result(result: Any, err: Any) -> None:
    """The comparison table, grader lines, run notes and the verdict, as `evalkit run` prints."""
    from rich.console import Console

    from evalkit.report.gate_text import print_verdict
    from evalkit.report.grader_lines import grader_lines
    from evalkit.report.table import comparison_table, slice_tables

    # CI logs are not terminals: give the table room instead of rich's 80-column default.
    out = Console() if sys.stdout.isatty() else Console(width=220)
    summary = result.summary
    out.print(comparison_table(summary, title=f"{summary.suite} · {result.run_id}"))
    for table in slice_tables(summary):  # group_by: each cell per value of a column
        out.print(table)
    for line in grader_lines(summary):  # pairwise win rates, judge calibration
        out.print(line, markup=False, highlight=False)
    _report(out, err, result)
    for tracked in result.tracked:
        err.print(f"[dim]{escape(tracked.message)}[/dim]", highlight=False)
    print_verdict(out, summary)


def _options(kwargs: dict[str, Any], err: Any) -> Any:
    from evalkit.api import RunOptions
    from evalkit.cli.options import check_reporters, report_requests

    reports = report_requests(kwargs)
    check_reporters(reports)
    options = RunOptions(
        resume=kwargs["resume"],
        run_id=kwargs["run_id"],
        no_cache=kwargs["no_cache"],
        cache_path=kwargs["cache_path"],
        limit=kwargs["limit"],
        concurrency=kwargs["concurrency"],
        variants=list(kwargs["variants"]) or None,
        models=list(kwargs["models"]) or None,
        group_by=list(kwargs["group_by"]) or None,
        max_cost=kwargs["max_cost"],
        baseline=kwargs.get("baseline"),
        tracking_uri=kwargs.get("tracking_uri"),
        tracking=not kwargs.get("no_tracking"),
        reports=reports,
        allow_code=kwargs.get("allow_code", False),
        shard=kwargs.get("shard"),
        group=kwargs.get("group"),
        executor=kwargs.get("executor") or "local",
        ray_address=kwargs.get("ray_address"),
        ray_actors=kwargs.get("ray_actors") or 2,
        notify=lambda text: err.print(
            f"[yellow]warning:[/yellow] {escape(text)}", highlight=False, soft_wrap=True
        ),
    )
    if kwargs["runs_dir"] is not None:
        options.runs_dir = kwargs["runs_dir"]
    return options


def escape(text: str) -> str:
    """Text for a rich console: an error's "[Errno 111]" or a "[/tmp]" path is not markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _dry_run(suite: str | None, options: Any) -> None:
    from rich.console import Console

    from evalkit.api import dry_run
    from evalkit.cli.forecast_view import forecast_notes, forecast_table

    forecast = dry_run(suite, options)
    out = Console() if sys.stdout.isatty() else Console(width=220)
    out.print(forecast_table(forecast))
    for line in forecast_notes(forecast):
        out.print(line, markup=False, highlight=False)


def _report(out: Any, err: Any, result: Any) -> None:
    from evalkit.results.store import RunStore

    manifest = RunStore(result.run_dir.parent, result.run_id).manifest()
    counts = result.summary.counts
    if result.skipped:
        out.print(f"resumed: {result.skipped} items were already done and not repeated")
    if counts.cached and counts.cached == counts.done:
        out.print(f"all {counts.cached} items served from the cache (--no-cache to call again)")
    elif counts.cached:
        out.print(f"{counts.cached} of {counts.done} items served from the cache")
    if counts.errors:
        err.print(f"[red]{counts.errors} items failed[/red]; first errors:")
        for sample in result.stats.error_samples[:3]:
            err.print(f"  - {escape(sample)}")
    if result.summary.stopped_reason:
        err.print(f"[red]stopped:[/red] {escape(result.summary.stopped_reason)}")
        if not manifest.merged_from:  # a merged run's reason names the shard to resume
            err.print(f"finish it later with: evalkit run --resume {result.run_id}")
    out.print(f"results: {result.run_dir}/results.jsonl and summary.json")
    if manifest.shard is not None:  # its numbers cover its slice: where the verdict comes from
        out.print(
            f"shard {manifest.shard.label} of group {manifest.group}: no gates decided here;"
            " merge the shards to decide them: evalkit merge RUN... -o RUN_ID",
            markup=False,
            highlight=False,
        )
