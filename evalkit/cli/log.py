"""`evalkit log RUN_ID`: upload a run to its trackers later (after the server was down) or again."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option
from evalkit.errors import EXIT_INCOMPLETE, EvalkitError


class TrackingError(EvalkitError):
    """The run could not be logged (server unreachable, rejected the run, ...)."""

    exit_code = EXIT_INCOMPLETE


@click.command("log")
@click.argument("run_ids", metavar="RUN_ID...", nargs=-1, required=True)
@runs_dir_option("Where runs are")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow server or store [default: $MLFLOW_TRACKING_URI, the suite's tracking.uri,"
    " else <runs-dir>/mlflow.db].",
)
@click.option("--experiment", help="MLflow experiment [default: the suite name].")
@click.option("--force", is_flag=True, help="Log again even when nothing changed.")
@handle_errors
def log_cmd(
    run_ids: tuple[str, ...],
    runs_dir: Path | None,
    tracking_uri: str | None,
    experiment: str | None,
    force: bool,
) -> None:
    """Log RUN_ID (a run in the runs folder) to the suite's trackers (MLflow by default).

    Logging is idempotent: a run already logged with the same results is skipped, and a run
    whose results changed since (it was resumed) updates its MLflow runs instead of adding new
    ones.

    \b
    evalkit log 20261127-101500-support-faq-1a2b
    evalkit log 20261127-101500-support-faq-1a2b --tracking-uri http://mlflow.internal:5000
    """
    from evalkit.results.store import RunStore, default_runs_dir, load_run
    from evalkit.trackers.base import TrackerSettings, one_line, open_trackers

    folder = runs_dir or default_runs_dir()
    for run_id in run_ids:
        given = Path(run_id)
        if (given / "run.json").is_file():  # a run folder given as a path
            folder, run_id = given.parent, given.name
        store = RunStore.open_existing(folder, run_id)
        run = load_run(store.dir)
        settings = TrackerSettings(folder, store.dir, uri=tracking_uri, experiment=experiment)
        # the user asked for this logging: on, whatever EVALKIT_NO_TRACKING says for runs
        for tracker in open_trackers(settings, force_enabled=True).trackers:
            try:
                tracked = tracker.log_run(run, force=force)
            except EvalkitError:
                raise
            except Exception as exc:  # MLflow raises many kinds; the user needs one clear line
                raise TrackingError(
                    f"could not log {run_id} to {tracker.label}: {one_line(exc)}",
                    hint="check that the tracking server is up (curl <uri>/health) and try again",
                ) from exc
            _report(tracked)


def _report(tracked: object) -> None:
    from evalkit.trackers.base import TrackedRun

    assert isinstance(tracked, TrackedRun)
    if tracked.skipped:
        click.echo(f"{tracked.run_id}: already logged, unchanged: {tracked.location}")
        return
    details = tracked.details
    counts = ""
    if "children" in details:
        counts = f" ({details['children']} variant x model runs, {details['traces']} traces)"
    seconds = f" in {details['seconds']:.1f}s" if "seconds" in details else ""
    experiment = details.get("experiment", "")
    click.echo(
        f"{tracked.run_id}: logged to experiment '{experiment}'{seconds}{counts}:"
        f" {tracked.location}"
    )
