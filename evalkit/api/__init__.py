"""The Python API behind the CLI: run, validate, gate and compare suites and runs.

    import evalkit
    result = evalkit.run("suites/support_faq.yaml", limit=5)
    result.summary.cells[0].metrics["icontains"].mean
    result.to_pandas()

    result = await evalkit.arun(suite)          # in a notebook or an async service

One run, one path: prepare (every check, nothing on disk) -> runtimes (closed however the run
ends) -> the engine appends records -> the summary is built in memory -> the gates decide on it
-> summary.json is written once -> trackers and reporters get the in-memory documents. The disk
stays the source of truth for `evalkit gate`, `log`, `report` and `--resume`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.engine.progress import ProgressSink
from evalkit.errors import SuiteError
from evalkit.gates.apply import exit_code as gate_exit_code
from evalkit.results.schema import ResultRecord, RunSummary
from evalkit.results.store import RunStore, default_runs_dir

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.api.forecast import Forecast
    from evalkit.engine.runner import EngineStats
    from evalkit.plan import Plan, SuiteSource
    from evalkit.results.compare import Comparison
    from evalkit.suite.loader import LoadedSuite
    from evalkit.trackers.base import TrackedRun

Notify = Callable[[str], None]


@dataclass
class RunOptions:
    runs_dir: Path = field(default_factory=default_runs_dir)
    run_id: str | None = None
    resume: str | None = None
    no_cache: bool = False
    cache_path: Path | None = None
    limit: int | None = None
    concurrency: int | None = None
    variants: list[str] | None = None
    models: list[str] | None = None
    group_by: list[str] | None = None  # slice columns added to the suite's group_by
    max_cost: float | None = None
    baseline: str | None = None  # a baseline name or run id for every regression gate
    tracking_uri: str | None = None  # else $MLFLOW_TRACKING_URI, the suite, runs/mlflow.db
    tracking: bool = True  # False (or EVALKIT_NO_TRACKING=1): log to no tracker
    reports: list[tuple[str, Path, dict[str, Any]]] = field(default_factory=list)
    notify: Notify | None = None  # warnings for people (tracker failures); default: warnings
    allow_code: bool = False  # import the suite's custom metrics / function providers
    # Sharding (docs/ci.md): run slice "I/N" of the examples; `group` keeps one sharded
    # evaluation apart from another [default: $EVALKIT_GROUP, else the CI run id]
    shard: str | tuple[int, int] | None = None
    group: str | None = None
    # Where the in-process models run: "local", or "ray" (an actor pool of `ray_actors`
    # replicas per model on the cluster at `ray_address`; docs/team.md)
    executor: str = "local"
    ray_address: str | None = None
    ray_actors: int = 2


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: what finished is on disk and `run_id` can be resumed."""

    def __init__(self, run_id: str, summary: RunSummary) -> None:
        super().__init__(run_id)
        self.run_id = run_id
        self.summary = summary


@dataclass
class RunResult:
    """A finished run: its typed summary (verdict included) and where its files are."""

    run_id: str
    run_dir: Path
    summary: RunSummary
    stats: EngineStats
    skipped: int = 0
    interrupted: bool = False
    tracked: list[TrackedRun] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def passed(self) -> bool:
        """Complete, and every gate passed (or there are none)."""
        return self.exit_code == 0

    @property
    def exit_code(self) -> int:
        """3 when the run did not complete (whatever the gates say), 1 when a gate failed."""
        return gate_exit_code(self.summary)

    def records(self) -> list[ResultRecord]:
        """Every item's latest record, read from results.jsonl (messages and outputs included)."""
        return RunStore(self.run_dir.parent, self.run_id).records()

    def to_pandas(self) -> pd.DataFrame:
        """One row per item: ids, output, error, latency, cost, and each score's value/passed."""
        from evalkit.results.tables import records_frame

        return records_frame(self.records())


def run(
    suite: SuiteSource | None = None,
    options: RunOptions | None = None,
    *,
    progress: ProgressSink | None = None,
    dataset: Any = None,
    base_dir: str | Path | None = None,
    **overrides: Any,
) -> RunResult:
    """Run a suite (a path, a Suite, or None with resume=RUN_ID) and return its RunResult.

    `dataset` (a list of mappings or a DataFrame) replaces the suite's dataset; `base_dir` is
    where the relative paths of a Suite built in Python resolve (default: the working
    directory); keyword arguments override fields of `options` (RunOptions).

    Inside a running event loop (a notebook cell) the run gets its own loop on a worker
    thread; `await arun(...)` is the native way there. Raises SuiteError on user errors,
    RunInterrupted on Ctrl-C (results so far are kept).
    """
    coroutine = arun(
        suite, options, progress=progress, dataset=dataset, base_dir=base_dir, **overrides
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="evalkit-run") as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def arun(
    suite: SuiteSource | None = None,
    options: RunOptions | None = None,
    *,
    progress: ProgressSink | None = None,
    dataset: Any = None,
    base_dir: str | Path | None = None,
    **overrides: Any,
) -> RunResult:
    """The async twin of `run`, for notebooks and async applications."""
    from evalkit.api.session import RunSession

    opts = _options(options, overrides)
    where = Path(base_dir) if base_dir is not None else None
    session = RunSession.prepare(suite, opts, dataset=dataset, base_dir=where)
    return await session.execute(progress)


def run_suite(
    suite_path: SuiteSource | None,
    options: RunOptions | None = None,
    progress: ProgressSink | None = None,
) -> RunResult:
    """`run(suite, options, progress=progress)`, the name evalkit 0.1 used."""
    return run(suite_path, options, progress=progress)


def _options(options: RunOptions | None, overrides: dict[str, Any]) -> RunOptions:
    options = options or RunOptions()
    known = {f.name for f in fields(RunOptions)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        from evalkit.errors import did_you_mean

        raise SuiteError(
            f"unknown run option '{unknown[0]}'",
            hint=did_you_mean(unknown[0], known) or f"options: {', '.join(sorted(known))}",
        )
    if "runs_dir" in overrides and overrides["runs_dir"] is not None:
        overrides["runs_dir"] = Path(overrides["runs_dir"])
    return replace(options, **overrides)


def validate(suite: SuiteSource, *, limit: int | None = None) -> Plan:
    """Every check a run makes before its first call (no model is called, no user code runs)."""
    from evalkit.plan import prepare

    return prepare(suite, limit=limit)


def load_suite(path: str | Path) -> LoadedSuite:
    """Read and validate a suite file: `.suite` is the typed Suite, `.base_dir` its folder."""
    from evalkit.suite.loader import load_suite as _load

    return _load(path)


def dry_run(suite: SuiteSource | None, options: RunOptions | None = None) -> Forecast:
    """What `run` would call and cost (generation and judging), without calling anything.

    Nothing is written: no run folder, no cache (an existing cache is read, so items it holds
    count as free). With `options.resume`, only the items the run still lacks are counted.
    """
    from evalkit.api.forecast import forecast_plan
    from evalkit.api.session import RunSession

    options = options or RunOptions()
    plan, store = RunSession.plan_for(suite, options)
    skip = store.done_keys() if store is not None else set()
    cache = None if options.no_cache else options.cache_path or options.runs_dir / "cache.sqlite"
    max_cost = options.max_cost if options.max_cost is not None else plan.suite.max_cost
    return forecast_plan(plan, cache_path=cache, skip=skip, max_cost=max_cost)


def gate(
    run_id: str,
    *,
    runs_dir: str | Path | None = None,
    suite: str | Path | None = None,
    baseline: str | None = None,
    tracking_uri: str | None = None,
    tracking: bool = True,
    notify: Notify | None = None,
) -> RunSummary:
    """Decide the gates of a finished run again (no model is called); summary.json is updated.

    `suite` uses the gates of that file instead of the suite the run kept; a changed verdict
    is sent to the run's trackers too.
    """
    from evalkit.gates.apply import check_gates, decide_and_store, gates_of_run
    from evalkit.results.store import load_run
    from evalkit.trackers.base import TrackerSettings, open_trackers

    folder = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    store = RunStore.open_existing(folder, run_id)
    gates, repeats = gates_of_run(store)
    if suite is not None:
        loaded = load_suite(suite)
        # a row's own assertions and a multi-prompt file add names the suite does not list
        recorded = store.summary()
        cells = recorded.cells if recorded is not None else []
        check_gates(
            loaded.suite,
            loaded.file,
            loaded.line_of,
            extra_metrics=[name for c in cells for name in c.metrics],
            variants=[*loaded.suite.prompts, *(c.variant for c in cells)],
        )
        gates, repeats = list(loaded.suite.gates), int(loaded.suite.repeats)
    previous = store.summary()
    summary = decide_and_store(
        store,
        gates,
        repeats=repeats,
        runs_dir=folder,
        baseline=baseline,
        tracking_uri=tracking_uri,
        tracking=tracking,
    )
    if previous is None or summary.verdict != previous.verdict:
        settings = TrackerSettings(runs_dir=folder, run_dir=store.dir, uri=tracking_uri)
        trackers = open_trackers(settings, enabled=tracking, warn=notify or _warn)
        for done in trackers.log_verdict(load_run(store.dir), previous):
            if notify is not None:
                notify(done.message)
    return summary


def compare(run_a: str, run_b: str, *, runs_dir: str | Path | None = None) -> Comparison:
    """Two runs example by example: each metric's values, the paired difference, what changed."""
    from evalkit.results.compare import compare_runs

    folder = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    return compare_runs(folder, run_a, run_b)


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def merge(
    run_ids: list[str],
    output: str,
    options: RunOptions | None = None,
    *,
    suite: str | Path | None = None,
    **overrides: Any,
) -> RunResult:
    """Merge shard runs (`run(..., shard="I/N")`, I = 1..N) into the run `output`.

    The shards must belong together (suite version, dataset, group; every shard once), else
    SuiteError names what is missing or different. The merged run is summarised and gated like
    an unsharded run of the same outputs; its `exit_code` is the release decision. `suite`
    names the suite file when the shards' copy cannot find the dataset (graders need it).
    """
    from evalkit.api.merging import merge_shards

    where = Path(suite) if suite is not None else None
    return merge_shards(list(run_ids), output, _options(options, overrides), suite=where)
