"""`evalkit ui`: serve the MLflow UI on the local tracking store and print its URL."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@runs_dir_option("Whose store to serve")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="Serve this store instead [default: $MLFLOW_TRACKING_URI, else <runs-dir>/mlflow.db].",
)
@handle_errors
def ui_cmd(host: str, port: int, runs_dir: Path | None, tracking_uri: str | None) -> None:
    """Start the MLflow UI on the local tracking store (Ctrl-C stops it).

    Runs are grouped in one experiment per suite; each evalkit run is a parent run with a child
    run per variant x model. Select runs and press Compare to compare their metrics; a child
    run's Traces tab compares its examples with another run's ("compare to").

    \b
    evalkit ui
    evalkit ui --port 5001 --runs-dir ci-runs
    """
    from evalkit.plugins.registry import registry
    from evalkit.results.store import default_runs_dir
    from evalkit.trackers.base import TrackerSettings

    settings = TrackerSettings(runs_dir=runs_dir or default_runs_dir(), uri=tracking_uri)
    tracker = registry().get("tracker", "mlflow")(settings)
    tracker.serve(host, port)
