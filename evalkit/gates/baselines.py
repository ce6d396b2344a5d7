"""Named baselines: `evalkit baseline set RUN_ID --name main` and their lookup by regression gates.

Names are stored locally in <runs dir>/baselines.json (name -> run id, when and by whom set), next
to the runs they point at; that file is the source of truth, as results.jsonl is for a run.
With tracking on, the run's trackers (evalkit.trackers.base) are told too, so a baseline set on
one machine can be found from another, and a baseline run missing from the runs folder is
downloaded into it. No tracker SDK is imported here.

    set_baseline("20261127-101500-support-faq-1a2b", "main")
    source = baseline_source(Path("runs"))
    source("main").run_id
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.gates.regression import BaselineRun, BaselineSource, BaselineUnavailable
from evalkit.results.schema import RunManifest
from evalkit.results.store import RunStore, default_runs_dir

if TYPE_CHECKING:
    from evalkit.trackers.base import Trackers

BASELINES = "baselines.json"


def run_trackers(run_dir: Path, tracking_uri: str | None, tracking: bool) -> Trackers:
    """The trackers of the run in `run_dir` (its suite copy says which), or none."""
    from evalkit.trackers.base import TrackerSettings, open_trackers

    settings = TrackerSettings(runs_dir=run_dir.parent, run_dir=run_dir, uri=tracking_uri)
    return open_trackers(settings, enabled=tracking)


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
    force: bool = False,
) -> dict[str, Any]:
    """Mark `run_id` as baseline `name` locally (and in its trackers when tracking is on).

    A run that did not complete or failed its gates is refused unless `force`: comparing later
    runs with it would make a regression look like no change. The entry returned has
    "tracking_error" (not stored) when a tracker could not record it."""
    from evalkit.results.store import load_run

    runs_dir = runs_dir or default_runs_dir()
    if not name or any(c in name for c in "/\\ "):
        raise SuiteError(f"invalid baseline name '{name}'", hint="use a plain name like main")
    store = RunStore.open_existing(runs_dir, run_id)  # refuses a run that does not exist
    run = load_run(store.dir)
    if not force:
        _check_fit_for_baseline(run.summary, run_id)
    entry = {
        "run_id": run_id,
        "set_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suite": run.manifest.suite.name,
        "status": run.summary.status,
        "tracked": False,
    }
    trackers = run_trackers(store.dir, tracking_uri, tracking)
    errors = trackers.mark_baseline(name, run) if trackers else []
    entry["tracked"] = bool(trackers) and not errors
    baselines = list_baselines(runs_dir)
    baselines[name] = entry
    tmp = _path(runs_dir).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(baselines, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(_path(runs_dir))
    return {**entry, "tracking_error": "; ".join(errors)} if errors else entry


def _compared(gate: Any) -> bool:
    """A failed gate that judged the run; a regression gate that found no baseline to compare
    with (the very first run of a suite) says nothing against the run itself."""
    return gate.type != "regression" or "n" in gate.statistics


def _check_fit_for_baseline(summary: Any, run_id: str) -> None:
    if summary.status != "complete":
        raise SuiteError(
            f"run {run_id} is {summary.status}: a baseline must be a complete run",
            hint=f"finish it with `evalkit run --resume {run_id}`, or pass --force",
        )
    failed_gates = [g for g in summary.verdict.failed if _compared(g)] if summary.verdict else []
    if failed_gates:
        failed = ", ".join(g.name for g in failed_gates[:3])
        raise SuiteError(
            f"run {run_id} failed its gates ({failed}): a baseline must pass them",
            hint="pass --force to make it the baseline anyway",
        )


def resolve_baseline(
    name: str,
    runs_dir: Path | None = None,
    *,
    tracker: Trackers | None = None,
) -> str | None:
    """The run id behind a baseline name: local file, `name` as a local run id, then trackers.

    Raises BaselineUnavailable when only a tracker could tell and none can be asked."""
    runs_dir = runs_dir or default_runs_dir()
    entry = list_baselines(runs_dir).get(name)
    if entry is not None:
        return str(entry["run_id"])
    if (runs_dir / name / "run.json").is_file():
        return name
    if not tracker:
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
    tracker = run_trackers(run_dir, tracking_uri, tracking) if run_dir is not None else None
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


def _load(name: str, folder: Path, tracker: Trackers | None) -> BaselineRun | None:
    run_id = resolve_baseline(name, folder, tracker=tracker)
    if run_id is None:
        return None
    if not (folder / run_id / "run.json").is_file():
        if not tracker:
            return None  # e.g. named in baselines.json, but the run folder is gone
        try:
            tracker.fetch_run(run_id, folder)
        except Exception as exc:
            raise BaselineUnavailable(
                f"baseline '{name}' is run {run_id}, which is not in {folder}/ and could not"
                f" be downloaded from MLflow: {_one_line(exc)}"
            ) from exc
    store = RunStore(folder, run_id)
    records = store.records(drop=("messages",))
    return BaselineRun(run_id, records, store.summary(), _manifest(store))


def _manifest(store: RunStore) -> RunManifest | None:
    """The baseline's run.json, for what differs when its judge did; unreadable: None."""
    try:
        return store.manifest()
    except Exception:  # an old or damaged run.json only costs the explanation, not the gate
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
