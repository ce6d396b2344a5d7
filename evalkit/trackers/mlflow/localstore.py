"""A new local MLflow store in milliseconds instead of seconds.

Creating an SQLite tracking store runs MLflow's whole chain of database migrations (3 to 12 s
on a 2-core machine), and every project's first run used to pay it. The first time this
machine creates a store with a given MLflow version, the freshly migrated, empty database is
kept as a template (`$EVALKIT_CACHE_DIR/mlflow/`, else `~/.cache/evalkit/mlflow/`); every later
new store is a copy of it: the same file MLflow itself made, with its "Default" experiment
pointed at the new store's artifact folder. A server or a database URI is never touched.

    ensure_store(target)   # before MlflowClient(target.uri) opens it
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from evalkit.trackers.mlflow.config import ARTIFACTS_DIR, TrackingTarget


def cache_dir() -> Path:
    env = os.environ.get("EVALKIT_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "mlflow"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "evalkit" / "mlflow"


def sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def ensure_store(target: TrackingTarget) -> bool:
    """Create the local SQLite store from the template if it is missing; True if created."""
    db = sqlite_path(target.uri)
    if db is None or db.is_file():
        return False
    template = template_path()
    if not template.is_file():
        make_template(template)
    db.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{db.name}.", dir=db.parent)
    os.close(fd)
    try:
        shutil.copyfile(template, tmp)
        _point_default_experiment(Path(tmp), db.parent / ARTIFACTS_DIR / "0")
        with contextlib.suppress(FileExistsError):  # another job created it first: theirs
            os.link(tmp, db)
    finally:
        os.unlink(tmp)
    return True


def template_path() -> Path:
    import mlflow

    return cache_dir() / f"empty-store-mlflow-{mlflow.__version__}.db"


def make_template(path: Path) -> None:
    """Let MLflow create and migrate an empty store, then keep it (atomically) as `path`."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        db = Path(tmp) / "store.db"
        store = SqlAlchemyStore(f"sqlite:///{db}", (Path(tmp) / "artifacts").as_uri())
        store.engine.dispose()
        os.replace(db, path)


def _point_default_experiment(db: Path, artifacts: Path) -> None:
    # MLflow creates experiment 0 ("Default") with the creating store's artifact root; the copy
    # keeps its artifacts beside itself like every experiment evalkit creates there
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (artifacts.resolve().as_uri(),),
        )
