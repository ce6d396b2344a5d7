"""Where a run is logged: the tracking URI, the experiment and what to log. No mlflow import.

Resolution order for the URI: `--tracking-uri`, then `MLFLOW_TRACKING_URI`, then the suite's
`tracking.uri`, then the embedded default `sqlite:///<runs_dir>/mlflow.db` with artifacts in
`<runs_dir>/mlartifacts`, so logging works with no server. The experiment is named after the
suite unless `--experiment`, `MLFLOW_EXPERIMENT_NAME` or `tracking.experiment` says otherwise.

    target = resolve_target(Path("runs/20261127-101500-support-faq-1a2b"))
    target.uri, target.experiment
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from evalkit.suite.schema import TrackingConfig

DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"


@dataclass(frozen=True)
class TrackingTarget:
    uri: str
    experiment: str
    artifact_location: str | None  # for experiments we create on a local SQLite store
    register_prompts: bool = True
    traces: int | None = None  # at most this many items traced; None: all

    @property
    def is_local(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "databricks"))

    @property
    def display_uri(self) -> str:
        return strip_credentials(self.uri)


def tracking_disabled_by_env() -> bool:
    return os.environ.get("EVALKIT_NO_TRACKING", "").strip().lower() in ("1", "true", "yes")


def default_uri(runs_dir: Path) -> str:
    return f"sqlite:///{(runs_dir / DB_NAME).resolve()}"


def resolve_target(
    run_dir: Path,
    *,
    uri: str | None = None,
    experiment: str | None = None,
    config: TrackingConfig | None = None,
    suite_name: str | None = None,
) -> TrackingTarget:
    """The tracking target of the run in `run_dir`; `config` defaults to the suite copy's."""
    config = config if config is not None else suite_tracking_config(run_dir)
    runs_dir = run_dir.parent
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or config.uri or default_uri(runs_dir)
    name = (
        experiment
        or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        or config.experiment
        or suite_name
        or _suite_name(run_dir)
    )
    return TrackingTarget(
        uri=chosen,
        experiment=name,
        artifact_location=_artifact_location(chosen, name),
        register_prompts=config.register_prompts,
        traces=config.traces,
    )


def suite_tracking_config(run_dir: Path) -> TrackingConfig:
    """The `tracking:` section of the suite copy kept with the run (defaults when absent)."""
    from evalkit.suite.interpolation import interpolate_env

    path = run_dir / "suite.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return TrackingConfig()
    if not isinstance(data, dict) or "tracking" not in data:
        return TrackingConfig()
    data = interpolate_env({"tracking": data["tracking"]}, {}, str(path))
    return TrackingConfig.model_validate(data["tracking"])


def _suite_name(run_dir: Path) -> str:
    import json

    try:
        manifest: dict[str, Any] = json.loads((run_dir / "run.json").read_text("utf-8"))
        return str(manifest["suite"]["name"])
    except (OSError, ValueError, KeyError):
        return "evalkit"


def _artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts beside a local SQLite file, a folder per experiment; a server decides (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    db_file = Path(uri.removeprefix("sqlite:///"))
    if not db_file.is_absolute():  # sqlite:///relative.db is relative to the working dir
        db_file = db_file.resolve()
    folder = re.sub(r"[^\w.\-]", "-", experiment) or "default"
    return (db_file.parent / ARTIFACTS_DIR / folder).as_uri()


def strip_credentials(uri: str) -> str:
    """https://user:secret@host/ -> https://host/ (for messages and tags)."""
    parts = urlsplit(uri)
    if not parts.netloc or "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
