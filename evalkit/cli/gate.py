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

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option, with_report_options, with_tracking_options


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
    from rich.markup import escape

    from evalkit.api import gate
    from evalkit.cli.options import check_reporters, report_requests
    from evalkit.gates.apply import exit_code
    from evalkit.report.base import write_reports
    from evalkit.report.gate_text import print_verdict
    from evalkit.results.store import default_runs_dir, load_run

    requests = report_requests(report)
    check_reporters(requests)
    err = Console(stderr=True)
    folder = runs_dir or default_runs_dir()
    summary = gate(
        run_id,
        runs_dir=folder,
        suite=suite,
        baseline=report["baseline"],
        tracking_uri=tracking_uri,
        tracking=not no_tracking,
        notify=lambda text: err.print(f"[dim]{escape(text)}[/dim]", highlight=False),
    )
    console = Console() if sys.stdout.isatty() else Console(width=160)  # CI logs: room for it
    if summary.verdict is None:
        console.print(f"run {run_id} has no gates to decide")
    print_verdict(console, summary)
    if requests:
        write_reports(load_run(folder / run_id), requests)
    sys.exit(exit_code(summary))
