"""Named baselines: `evalkit baseline set RUN_ID --name main` and their lookup by regression gates.

Names are stored locally in <runs dir>/baselines.json (name -> run id, when and by whom set), next
to the runs they point at; that file is the source of truth, as results.jsonl is for a run.
When MLflow tracking is on, the tracking plug-in also tags the run there, so a baseline set on
one machine can be found from another (see `BaselineTracker`). MLflow is never imported here.

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
from evalkit.gates.regression import BaselineRun, BaselineSource
from evalkit.results.store import RunStore, default_runs_dir

BASELINES = "baselines.json"
# Optional plug-in: a module that defines `baseline_tracker() -> BaselineTracker | None`.
TRACKER_MODULE = "evalkit.tracking.baselines"

log = logging.getLogger(__name__)


class BaselineTracker(Protocol):
    """What the tracking plug-in offers for baselines (None from baseline_tracker(): tracking off).

    mark_baseline tags the evalkit run in the tracker (e.g. MLflow tag evalkit.baseline.main);
    find_baseline returns the evalkit run id tagged with that name, or None.
    """

    def mark_baseline(self, name: str, run_id: str, manifest: dict[str, Any]) -> None: ...

    def find_baseline(self, name: str) -> str | None: ...


def _tracker() -> BaselineTracker | None:
    """The tracking plug-in's baseline support, if the module exists and tracking is on."""
    if importlib.util.find_spec(TRACKER_MODULE) is None:
        return None
    try:
        module = importlib.import_module(TRACKER_MODULE)
        tracker: BaselineTracker | None = module.baseline_tracker()
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


def set_baseline(run_id: str, name: str, runs_dir: Path | None = None) -> dict[str, Any]:
    """Mark `run_id` as baseline `name` locally (and in the tracker when tracking is on)."""
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
    tracker = _tracker()
    if tracker is not None:
        try:
            tracker.mark_baseline(name, run_id, manifest)
            entry["tracked"] = True
        except Exception as exc:  # keep the local baseline; say what went wrong
            log.warning("could not tag baseline '%s' in the tracker: %s", name, exc)
    baselines = list_baselines(runs_dir)
    baselines[name] = entry
    tmp = _path(runs_dir).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(baselines, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(_path(runs_dir))
    return entry


def resolve_baseline(name: str, runs_dir: Path | None = None) -> str | None:
    """The run id behind a baseline name: local file, then tracker, then `name` as a run id."""
    runs_dir = runs_dir or default_runs_dir()
    entry = list_baselines(runs_dir).get(name)
    if entry is not None:
        return str(entry["run_id"])
    tracker = _tracker()
    if tracker is not None:
        try:
            found = tracker.find_baseline(name)
        except Exception as exc:
            log.warning("could not look baseline '%s' up in the tracker: %s", name, exc)
            found = None
        if found:
            return found
    if (runs_dir / name / "run.json").is_file():
        return name
    return None


def baseline_source(runs_dir: Path | None = None, override: str | None = None) -> BaselineSource:
    """A lookup for regression gates; `override` (a name or run id) replaces every gate's own."""
    folder = runs_dir or default_runs_dir()
    loaded: dict[str, BaselineRun | None] = {}  # several gates usually share one baseline

    def load(name: str) -> BaselineRun | None:
        if name not in loaded:
            run_id = resolve_baseline(override or name, folder)
            if run_id is None or not (folder / run_id / "run.json").is_file():
                loaded[name] = None  # e.g. tagged in MLflow but not here: reported as missing
            else:
                loaded[name] = BaselineRun(run_id, RunStore(folder, run_id).records())
        return loaded[name]

    return load
