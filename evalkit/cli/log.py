"""`evalkit log RUN_ID`: upload a run to MLflow later (after the server was down) or again."""

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
    """Log RUN_ID (a run in the runs folder) to MLflow.

    Logging is idempotent: a run already logged with the same results is skipped, and a run
    whose results changed since (it was resumed) updates its MLflow runs instead of adding new
    ones.

    \b
    evalkit log 20261127-101500-support-faq-1a2b
    evalkit log 20261127-101500-support-faq-1a2b --tracking-uri http://mlflow.internal:5000
    """
    from evalkit.results.store import RunStore, default_runs_dir
    from evalkit.trackers.mlflow import one_line_error, track_run

    folder = runs_dir or default_runs_dir()
    for run_id in run_ids:
        given = Path(run_id)
        if (given / "run.json").is_file():  # a run folder given as a path
            folder, run_id = given.parent, given.name
        store = RunStore.open_existing(folder, run_id)
        try:
            tracked = track_run(
                store.dir, tracking_uri=tracking_uri, experiment=experiment, force=force
            )
        except EvalkitError:
            raise
        except Exception as exc:  # MLflow raises many kinds; the user needs one clear line
            raise TrackingError(
                f"could not log {run_id}: {one_line_error(exc)}",
                hint="check that the tracking server is up (curl <uri>/health) and try again",
            ) from exc
        _report(tracked)


def _report(tracked: object) -> None:
    from evalkit.trackers.mlflow.mlflow_logger import TrackedRun

    assert isinstance(tracked, TrackedRun)
    where = tracked.url or f"{tracked.uri} (browse with `evalkit ui`)"
    if tracked.skipped:
        click.echo(f"{tracked.run_id}: already logged, unchanged: {where}")
        return
    click.echo(
        f"{tracked.run_id}: logged to experiment '{tracked.experiment}' in {tracked.seconds:.1f}s"
        f" ({len(tracked.children)} variant x model runs, {tracked.traces} traces): {where}"
    )
