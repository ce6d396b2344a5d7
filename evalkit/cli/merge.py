"""`evalkit merge RUN... -o RUN_ID`: join shard runs into one run and decide its gates.

Exit codes as `evalkit run`'s for the merged run: 0 every gate passed, 1 a gate failed, 3 a
shard did not complete, 2 the runs do not form one shard set (one line says what is missing
or different; nothing is written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option, with_report_options, with_tracking_options


@click.command("merge")
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("-o", "--output", "output", required=True, metavar="RUN_ID", help="The merged run.")
@click.option(
    "--suite",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The suite file as the shards ran it, for graders whose dataset the shards' copy of the"
    " suite cannot find [default: that copy, resolved where the suite was].",
)
@runs_dir_option()
@with_tracking_options
@with_report_options
@handle_errors
def merge_cmd(runs: tuple[str, ...], output: str, suite: Path | None, **kwargs: Any) -> None:
    """Merge the shard runs RUN... (one per shard, 1..N) into the run RUN_ID.

    \b
    evalkit run suites/x.yaml --shard 1/2 --run-id n-1    # (one job each)
    evalkit run suites/x.yaml --shard 2/2 --run-id n-2
    evalkit merge n-1 n-2 -o n --junit junit.xml --markdown summary.md

    The merged run's records, summary and verdict are those an unsharded run of the same
    outputs has: the gates (regression baselines too) are decided here, once, on the whole.
    """
    from rich.console import Console

    from evalkit.api import RunOptions, merge
    from evalkit.cli.options import check_reporters, report_requests
    from evalkit.cli.run import escape, print_result

    err = Console(stderr=True)
    reports = report_requests(kwargs)
    check_reporters(reports)
    options = RunOptions(
        baseline=kwargs.get("baseline"),
        tracking_uri=kwargs.get("tracking_uri"),
        tracking=not kwargs.get("no_tracking"),
        reports=reports,
        notify=lambda text: err.print(
            f"[yellow]warning:[/yellow] {escape(text)}", highlight=False, soft_wrap=True
        ),
    )
    if kwargs["runs_dir"] is not None:
        options.runs_dir = kwargs["runs_dir"]
    result = merge(list(runs), output, options, suite=suite)
    err.print(f"merged {len(runs)} shards into {result.run_dir}/", highlight=False, soft_wrap=True)
    print_result(result, err)
    sys.exit(result.exit_code)
