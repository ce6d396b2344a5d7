"""The servers a team deploys, started for real on loopback: PostgreSQL and an MLflow tracking
server on it, with basic-auth and proxied artifact storage (`--serve-artifacts`).

    with Postgres(tmp) as pg, TeamMlflow(tmp / "mlflow", pg, admin=("admin", PW)) as server:
        server.create_user("ci", "a-long-password")

PostgreSQL runs from Debian's binaries (/usr/lib/postgresql/<v>/bin). The server refuses to run
as root, so as root the data folder belongs to `postgres` and the commands run through
`runuser -u postgres`. The folder is made with mkdtemp under /tmp, not under pytest's tmp_path:
that one is private to root, and `postgres` could not reach it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from mlflow_server import free_port

STARTUP_TIMEOUT_S = 180.0  # migrations on a new PostgreSQL database, on a busy 2-core runner


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL binaries folder, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>, user `mlflow`, trust auth."""

    def __init__(self, databases: tuple[str, ...] = ("mlflow", "mlflow_auth")) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb)")
        self.bin = bindir
        self.databases = databases
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="evalkit-pg-"))
        self.data = self.dir / "data"

    def uri(self, database: str = "mlflow") -> str:
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3: name the installed driver
        return f"postgresql+psycopg2://mlflow@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *cmd: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return list(cmd)

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        run = self._run
        run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "mlflow")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        log = str(self.dir / "postgres.log")
        run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        for name in self.databases:
            sql = f"CREATE DATABASE {name}"
            run(
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "mlflow",
                "-d",
                "postgres",
                "-c",
                sql,
            )
        return self

    def _run(self, *cmd: str) -> None:
        done = subprocess.run(self._as_owner(*cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            pg_ctl = str(self.bin / "pg_ctl")
            subprocess.run(
                self._as_owner(pg_ctl, "-D", str(self.data), "stop", "-m", "fast"),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TeamMlflow:
    """`mlflow server --app-name basic-auth` on PostgreSQL, artifacts proxied to a local root."""

    def __init__(self, root: Path, pg: Postgres, admin: tuple[str, str], workers: int = 2) -> None:
        self.root = root
        self.pg = pg
        self.admin = admin
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "server.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TeamMlflow:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "basic_auth.ini"
        config.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {self.pg.uri('mlflow_auth')}\n"
            f"admin_username = {self.admin[0]}\nadmin_password = {self.admin[1]}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        mlflow_bin = Path(sys.executable).with_name("mlflow")
        cmd = [
            str(mlflow_bin) if mlflow_bin.exists() else "mlflow", "server",
            "--app-name", "basic-auth",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--backend-store-uri", self.pg.uri("mlflow"),
            "--serve-artifacts", "--artifacts-destination", str(self.root / "artifacts"),
        ]  # fmt: skip
        env = {
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "evalkit-test-csrf-key",  # CSRF, needed by auth
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(name, None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"mlflow server not healthy after {STARTUP_TIMEOUT_S}s:\n{self.log_tail()}"
        )

    def create_user(self, username: str, password: str) -> None:
        """A user through the auth REST API, as an admin does it for a CI job."""
        body = json.dumps({"username": username, "password": password}).encode()
        request = urllib.request.Request(
            f"{self.uri}/api/2.0/mlflow/users/create", data=body, method="POST"
        )
        token = base64.b64encode(f"{self.admin[0]}:{self.admin[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200, response.read()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the server and its workers, nothing else
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> TeamMlflow:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
