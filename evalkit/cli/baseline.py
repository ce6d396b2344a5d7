"""`evalkit baseline set RUN_ID --name main` and `evalkit baseline list`.

A baseline is a name for a run that regression gates compare against. Names live in
<runs dir>/baselines.json, and are tagged in MLflow too when tracking is on, so CI runners that
share the tracking server find the baseline there.
"""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option, with_tracking_options


@click.group("baseline")
def baseline_group() -> None:
    """Name runs as baselines for regression gates.

    \b
    evalkit baseline set 20261127-101500-support-faq-1a2b --name main
    evalkit baseline list
    """


@baseline_group.command("set")
@click.argument("run_id")
@click.option("--name", default="main", show_default=True, help="The baseline's name.")
@click.option(
    "--force", is_flag=True, help="Accept a run that did not complete or failed its gates."
)
@runs_dir_option()
@with_tracking_options
@handle_errors
def set_cmd(
    run_id: str,
    name: str,
    force: bool,
    runs_dir: Path | None,
    tracking_uri: str | None,
    no_tracking: bool,
) -> None:
    """Mark RUN_ID as the baseline NAME (replacing the run it named before).

    With tracking on, the run is also logged to MLflow if it is not yet, and tagged there
    (run and experiment tag evalkit.baseline.NAME), for CI runners that share the server.
    """
    from evalkit.gates.baselines import list_baselines, set_baseline

    previous = list_baselines(runs_dir).get(name)
    entry = set_baseline(
        run_id, name, runs_dir, tracking_uri=tracking_uri, tracking=not no_tracking, force=force
    )
    where = "locally and in MLflow" if entry["tracked"] else "locally"
    was = f" (was {previous['run_id']})" if previous and previous["run_id"] != run_id else ""
    click.echo(f"baseline '{name}' -> {run_id}{was}, stored {where}")
    if entry.get("tracking_error"):
        click.echo(
            f"warning: not tagged in MLflow: {entry['tracking_error']}; set it again once the"
            " tracking server is reachable, so that CI runners find it there",
            err=True,
        )
    if entry.get("status") not in (None, "complete"):
        click.echo(f"warning: run {run_id} is {entry['status']}", err=True)


@baseline_group.command("list")
@runs_dir_option()
@handle_errors
def list_cmd(runs_dir: Path | None) -> None:
    """List the baselines and the runs they name."""
    from evalkit.gates.baselines import list_baselines

    baselines = list_baselines(runs_dir)
    if not baselines:
        click.echo("no baselines yet; set one with: evalkit baseline set RUN_ID --name main")
    for name, entry in sorted(baselines.items()):
        click.echo(f"{name}\t{entry['run_id']}\t{entry.get('suite') or ''}\t{entry['set_at']}")
