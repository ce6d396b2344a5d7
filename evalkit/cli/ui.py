"""`evalkit ui`: serve the MLflow UI on the local tracking store and print its URL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option
from evalkit.errors import SuiteError

STARTUP_TIMEOUT_S = 180.0


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
    run per variant x model. Select runs and press Compare to compare their metrics.

    \b
    evalkit ui
    evalkit ui --port 5001 --runs-dir ci-runs
    """
    from evalkit.results.store import default_runs_dir
    from evalkit.trackers.mlflow.config import ARTIFACTS_DIR, default_uri, strip_credentials

    folder = runs_dir or default_runs_dir()
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(folder)
    if uri.startswith(("http://", "https://")):
        click.echo(f"runs are logged to a tracking server; open it: {strip_credentials(uri)}")
        return
    _check_store(uri, folder)
    _check_port(host, port)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", host,
        "--port", str(port),
        "--workers", "1",  # one user, one browser: more workers only slow the start
        "--backend-store-uri", uri,
        "--artifacts-destination", str((folder / ARTIFACTS_DIR).resolve()),
    ]  # fmt: skip
    _serve(command, host, port)


def _check_store(uri: str, folder: Path) -> None:
    if not uri.startswith("sqlite:///"):
        return
    if not Path(uri.removeprefix("sqlite:///")).is_file():
        raise SuiteError(
            f"no MLflow store in {folder}/ yet (nothing has been logged there)",
            hint="run a suite (`evalkit run suites/<name>.yaml`) or upload one: evalkit log RUN_ID",
        )


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SuiteError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint=f"another server uses it; pick another port: evalkit ui --port {port + 1}",
            ) from exc


def _serve(command: list[str], host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    click.echo(f"starting the MLflow UI on {url} ...", err=True)
    env = dict(os.environ)
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # scheduled scorers and other server jobs are not used by evalkit: a faster, lighter start
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    proc = subprocess.Popen(command, env=env)
    try:
        if _wait_healthy(proc, url):
            click.echo(f"MLflow UI: {url}  (Ctrl-C to stop)")
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return
    if code != 0:
        sys.exit(code)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    return False
