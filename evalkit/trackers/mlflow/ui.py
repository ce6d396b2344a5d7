"""`evalkit ui`: serve the MLflow UI on the local tracking store and print its URL.

A tracking server needs no serving: its URL is printed instead. The local store is served by
`mlflow server` in a child process (one worker: one user, one browser) with the artifacts
beside it, until Ctrl-C.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from evalkit.errors import SuiteError
from evalkit.trackers.mlflow.config import ARTIFACTS_DIR, default_uri, strip_credentials
from evalkit.trackers.mlflow.localstore import sqlite_path

STARTUP_TIMEOUT_S = 180.0


def serve(runs_dir: Path, uri: str | None, host: str, port: int) -> None:
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(runs_dir)
    if uri.startswith(("http://", "https://")):
        print(f"runs are logged to a tracking server; open it: {strip_credentials(uri)}")
        return
    _check_store(uri, runs_dir)
    _check_port(host, port)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", host,
        "--port", str(port),
        "--workers", "1",  # one user, one browser: more workers only slow the start
        "--backend-store-uri", uri,
        "--artifacts-destination", str((runs_dir / ARTIFACTS_DIR).resolve()),
    ]  # fmt: skip
    _run(command, host, port)


def _check_store(uri: str, folder: Path) -> None:
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
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


def _run(command: list[str], host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    print(f"starting the MLflow UI on {url} ...", file=sys.stderr, flush=True)
    env = dict(os.environ)
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # scheduled scorers and other server jobs are not used by evalkit: a faster, lighter start
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    proc = subprocess.Popen(command, env=env)
    try:
        if _wait_healthy(proc, url):
            print(f"MLflow UI: {url}  (Ctrl-C to stop)", flush=True)
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
