"""`evalkit report RUN -o report.html`: a self-contained HTML report of a finished run."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option


@click.command("report")
@click.argument("run")
@click.option(
    "--baseline",
    metavar="NAME_OR_RUN",
    help="Compare with this run: a baseline name (evalkit baseline set), a run id or folder.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Examples in the per-example table (changed, failed and flaky ones first).",
)
@runs_dir_option()
@handle_errors
def report_cmd(
    run: str, baseline: str | None, output: Path, max_examples: int, runs_dir: Path | None
) -> None:
    """Write an HTML report of RUN (a run id or a run folder) to open offline or attach.

    Verdict and gates, each variant x model with intervals, slices by a dataset column, and
    every example side by side (vs the baseline too), filterable by changed/failed/flaky.

    \b
    evalkit report 20261127-101500-support-faq-1a2b -o report.html
    evalkit report ci-42 --baseline main -o ci-42.html
    """
    from evalkit.report.html import find_run, write_html_report
    from evalkit.results.store import default_runs_dir

    folder = runs_dir or default_runs_dir()
    run_dir = find_run(run, folder)
    path = write_html_report(
        run_dir, output, baseline=baseline, runs_dir=folder, max_examples=max_examples
    )
    click.echo(f"report: {path} ({path.stat().st_size / 1024:.0f} KiB)")
