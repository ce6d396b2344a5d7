"""Process-wide MLflow state while evalkit logs: tracking URI, HTTP retries, log noise."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.trackers.mlflow.config import TrackingTarget

if TYPE_CHECKING:
    from mlflow import MlflowClient

# MLflow retries a failing request for ~4 minutes (made for rate limits); a run that just ended
# should warn within seconds instead. It also prints run URLs to stdout, which is evalkit's
# output (tables, JSON). A user's own settings of these variables win.
SESSION_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # a bar per downloaded baseline file
}
PROBE_TIMEOUT_S = 5.0


def check_reachable(target: TrackingTarget) -> None:
    """Fail fast when a tracking server does not answer at all (down, wrong host or port)."""
    import urllib.error
    import urllib.request

    if not target.uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{target.uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S):
            return
    except urllib.error.HTTPError:
        return  # it answered (a proxy without /health, auth): let MLflow's own calls judge
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectionError(
            f"tracking server {target.display_uri} unreachable: {reason}"
        ) from exc


def quiet_process(uri: str) -> None:
    """The logging process's settings for its whole life (see SESSION_ENV); nothing to restore."""
    os.environ["MLFLOW_TRACKING_URI"] = uri  # prompt linking reads the global store
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for name, value in SESSION_ENV.items():
        os.environ.setdefault(name, value)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.simplefilter("ignore")


@contextlib.contextmanager
def mlflow_session(uri: str) -> Iterator[None]:
    """Point MLflow's global URI at `uri` for the duration (prompt linking reads the global
    store, not the client's), quiet its INFO logs and warnings, and restore everything after."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home from CI
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_env = {name: os.environ.get(name) for name in ["MLFLOW_TRACKING_URI", *SESSION_ENV]}
    for name, value in SESSION_ENV.items():
        os.environ.setdefault(name, value)
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        with warnings.catch_warnings(), tracking_utils._use_tracking_uri(uri):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        for name, saved in saved_env.items():
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved


@contextlib.contextmanager
def tracking_client(target: TrackingTarget) -> Iterator[MlflowClient]:
    """A client on `target` inside an mlflow_session, after a fast reachability probe."""
    from evalkit.trackers.mlflow.localstore import ensure_store

    check_reachable(target)
    with mlflow_session(target.uri):
        ensure_store(target)
        from mlflow import MlflowClient

        yield MlflowClient(target.uri)


def store_missing(target: TrackingTarget) -> bool:
    """A local SQLite store that was never created: nothing to find (and asking would create
    it, which takes seconds)."""
    if not target.uri.startswith("sqlite:///"):
        return False
    return not Path(target.uri.removeprefix("sqlite:///")).is_file()
