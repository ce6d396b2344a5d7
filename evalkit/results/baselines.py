"""Named baselines: `evalkit baseline set RUN_ID --name main` and their lookup by regression gates.

Names are stored locally in <runs dir>/baselines.json (name -> run id, when and by whom set), next
to the runs they point at; that file is the source of truth, as results.jsonl is for a run.
When MLflow tracking is on, the tracking plug-in also tags the run there, so a baseline set on
one machine can be found from another, and a baseline run missing from the runs folder is
downloaded into it (see `BaselineTracker`). MLflow is never imported here.

    set_baseline("20261127-101500-support-faq-1a2b", "main")
    source = baseline_source(Path("runs"))
    source("main").run_id
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol

from evalkit.errors import SuiteError
from evalkit.gates.regression import BaselineRun, BaselineSource, BaselineUnavailable
from evalkit.results.store import RunStore, default_runs_dir

BASELINES = "baselines.json"
# Optional plug-in: a module that defines
# `baseline_tracker(run_dir, tracking_uri=None) -> BaselineTracker | None`, where run_dir is the
# run whose suite says where tracking goes (the baseline being set, or the run being gated).
TRACKER_MODULE = "evalkit.trackers.mlflow.baseline_tags"

log = logging.getLogger(__name__)


class BaselineTracker(Protocol):
    """What the tracking plug-in offers for baselines (None from baseline_tracker(): tracking off).

    mark_baseline tags the evalkit run in the tracker (e.g. MLflow tag evalkit.baseline.main);
    find_baseline returns the evalkit run id tagged with that name (or a run id it knows), or
    None; fetch_run downloads a run's files into runs_dir/run_id. Lookups raise when the
    tracker cannot be asked (unreachable server).
    """

    def mark_baseline(self, name: str, run_id: str, manifest: dict[str, Any]) -> None: ...

    def find_baseline(self, name: str) -> str | None: ...

    def fetch_run(self, run_id: str, runs_dir: Path) -> None: ...


def _tracker(
    run_dir: Path, tracking_uri: str | None = None, tracking: bool = True
) -> BaselineTracker | None:
    """The tracking plug-in's baseline support, if the module exists and tracking is on."""
    if not tracking or importlib.util.find_spec(TRACKER_MODULE) is None:
        return None
    try:
        module = importlib.import_module(TRACKER_MODULE)
        tracker: BaselineTracker | None = module.baseline_tracker(run_dir, tracking_uri)
    except Exception as exc:  # tracking is a subscriber: its failure must not block a baseline
        log.warning("baseline tracking unavailable: %s", exc)
        return None
    return tracker


def _path(runs_dir: Path) -> Path:
    return runs_dir / BASELINES


def list_baselines(runs_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """name -> {run_id, set_at, suite}, from the local file (empty when none is set)."""
    path = _path(runs_dir or default_runs_dir())
    if not path.exists():
        return {}
    try:
        data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"{path} is not valid JSON ({exc.msg})",
            file=str(path),
            line=exc.lineno,
            hint="fix or delete the file, then set the baselines again",
        ) from None
    return data


def set_baseline(
    run_id: str,
    name: str,
    runs_dir: Path | None = None,
    *,
    tracking_uri: str | None = None,
    tracking: bool = True,
) -> dict[str, Any]:
    """Mark `run_id` as baseline `name` locally (and in the tracker when tracking is on).

    The entry returned has "tracking_error" (not stored) when the tracker could not tag it."""
    runs_dir = runs_dir or default_runs_dir()
    if not name or any(c in name for c in "/\\ "):
        raise SuiteError(f"invalid baseline name '{name}'", hint="use a plain name like main")
    store = RunStore.open_existing(runs_dir, run_id)  # refuses a run that does not exist
    manifest = store.manifest()
    entry = {
        "run_id": run_id,
        "set_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suite": (manifest.get("suite") or {}).get("name"),
        "status": (store.summary() or {}).get("status"),
        "tracked": False,
    }
    tracker = _tracker(store.dir, tracking_uri, tracking)
    error = None
    if tracker is not None:
        try:
            tracker.mark_baseline(name, run_id, manifest)
            entry["tracked"] = True
        except Exception as exc:  # keep the local baseline; the caller says what went wrong
            log.debug("could not tag baseline '%s' in the tracker", name, exc_info=True)
            error = _one_line(exc)
    baselines = list_baselines(runs_dir)
    baselines[name] = entry
    tmp = _path(runs_dir).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(baselines, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(_path(runs_dir))
    return {**entry, "tracking_error": error} if error else entry


def resolve_baseline(
    name: str,
    runs_dir: Path | None = None,
    *,
    tracker: BaselineTracker | None = None,
) -> str | None:
    """The run id behind a baseline name: local file, `name` as a local run id, then tracker.

    Raises BaselineUnavailable when only the tracker could tell and it cannot be asked."""
    runs_dir = runs_dir or default_runs_dir()
    entry = list_baselines(runs_dir).get(name)
    if entry is not None:
        return str(entry["run_id"])
    if (runs_dir / name / "run.json").is_file():
        return name
    if tracker is None:
        return None
    try:
        return tracker.find_baseline(name) or None
    except Exception as exc:
        raise BaselineUnavailable(
            f"baseline '{name}' is not in {runs_dir}/ and could not be looked up in MLflow:"
            f" {_one_line(exc)}; check the tracking server (MLFLOW_TRACKING_URI, curl"
            " <uri>/health), or keep the baseline run in the runs folder"
        ) from exc


def baseline_source(
    runs_dir: Path | None = None,
    override: str | None = None,
    *,
    run_dir: Path | None = None,
    tracking_uri: str | None = None,
    tracking: bool = True,
) -> BaselineSource:
    """A lookup for regression gates; `override` (a name or run id) replaces every gate's own.

    With `run_dir` (the run being gated) and tracking on, a baseline that is not in the runs
    folder is looked up in MLflow and its files downloaded into it (a fresh CI runner)."""
    folder = runs_dir or default_runs_dir()
    tracker = _tracker(run_dir, tracking_uri, tracking) if run_dir is not None else None
    loaded: dict[str, BaselineRun | BaselineUnavailable | None] = {}  # gates share baselines

    def load(name: str) -> BaselineRun | None:
        if name not in loaded:
            try:
                loaded[name] = _load(override or name, folder, tracker)
            except BaselineUnavailable as exc:
                loaded[name] = exc  # one failed lookup per name, not one per gate
        found = loaded[name]
        if isinstance(found, BaselineUnavailable):
            raise found
        return found

    return load


def _load(name: str, folder: Path, tracker: BaselineTracker | None) -> BaselineRun | None:
    run_id = resolve_baseline(name, folder, tracker=tracker)
    if run_id is None:
        return None
    if not (folder / run_id / "run.json").is_file():
        if tracker is None:
            return None  # e.g. named in baselines.json, but the run folder is gone
        try:
            tracker.fetch_run(run_id, folder)
        except Exception as exc:
            raise BaselineUnavailable(
                f"baseline '{name}' is run {run_id}, which is not in {folder}/ and could not"
                f" be downloaded from MLflow: {_one_line(exc)}"
            ) from exc
    return BaselineRun(run_id, RunStore(folder, run_id).records())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
