"""One run from start to end: the single path `evalkit.run`, `arun` and the CLI go through.

    session = RunSession.prepare("suites/faq.yaml", options)   # every check; nothing on disk
    result = await session.execute(progress)

Order matters for "nothing half made": the plan is checked and the providers created (a
missing key fails here) before the run folder exists; runtimes are closed in one place
(`open_runtimes`), however the run ends; the summary is built from the records in memory and
written once, then handed to the gates, the trackers and the reporters.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.results.schema import ResultRecord, RunOptionsInfo, RunSummary
from evalkit.results.store import RunStore, StoredRun, new_run_id

if TYPE_CHECKING:
    from evalkit.api import RunOptions, RunResult
    from evalkit.engine.calls import ModelRuntime
    from evalkit.engine.progress import ProgressSink
    from evalkit.engine.runner import Engine
    from evalkit.plan import Plan, SuiteSource
    from evalkit.trackers.base import Trackers

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class RunSession:
    plan: Plan
    options: RunOptions
    store: RunStore
    resumed: bool
    collected: dict[str, ResultRecord] = field(default_factory=dict)
    trackers: Trackers = field(init=False, repr=False)  # opened when the run starts

    # --- preparing (no disk writes) ---------------------------------------------------------

    @classmethod
    def prepare(
        cls,
        suite: SuiteSource | None,
        options: RunOptions,
        dataset: Any = None,
        base_dir: Path | None = None,
    ) -> RunSession:
        plan, store = cls.plan_for(suite, options, dataset=dataset, base_dir=base_dir)
        if store is not None:
            return cls(plan, options, store, resumed=True)
        run_id = options.run_id or new_run_id(plan.suite.name)
        check_run_id(run_id)
        return cls(plan, options, RunStore(options.runs_dir, run_id), resumed=False)

    @staticmethod
    def plan_for(
        suite: SuiteSource | None,
        options: RunOptions,
        dataset: Any = None,
        base_dir: Path | None = None,
    ) -> tuple[Plan, RunStore | None]:
        """The plan of a new run, or of the run being resumed (with its store)."""
        from evalkit.plan import prepare

        if options.resume:
            check_run_id(options.resume)
            return _resumed(suite, options)
        if suite is None:
            raise SuiteError("no suite given", hint="evalkit run suites/<name>.yaml")
        source = _with_dataset(suite, dataset, base_dir) if dataset is not None else suite
        plan = prepare(
            source,
            limit=options.limit,
            variants=options.variants,
            models=options.models,
            base_dir=base_dir,
        )
        return plan, None

    # --- running ----------------------------------------------------------------------------

    async def execute(self, progress: ProgressSink | None = None) -> RunResult:
        from evalkit.engine.runtimes import open_runtimes

        drop = self._drop()
        previous = self.store.records(drop=drop) if self.resumed else []
        done = {r.key for r in previous if r.ok}
        plan = self.plan
        model_ids = [*plan.model_ids, *plan.judge_ids]
        info = self._info()
        manifest = self.store.manifest() if self.resumed else plan.manifest(self.store.run_id, info)
        self.trackers = self._trackers()
        self.trackers.on_start(manifest)  # trackers warm up while the providers start
        async with open_runtimes(plan.suite, model_ids, plan.loaded.base_dir) as runtimes:
            engine, grading = self._engine(runtimes, progress, drop)
            if not self.resumed:
                self.store.create(manifest, self.plan.loaded.text)
            interrupted = await self._run(engine, grading, done)
        records = _latest(previous, self.collected.values())
        summary = self._summarize(records, engine, interrupted)
        if interrupted:
            self.store.write_summary(summary)
            self._track(summary)
            from evalkit.api import RunInterrupted

            raise RunInterrupted(self.store.run_id, summary)
        summary = self._decide(summary, records)
        self.store.write_summary(summary)
        return self._finish(summary, engine, skipped=len(done))

    def _engine(
        self, runtimes: dict[str, ModelRuntime], progress: Any, drop: tuple[str, ...]
    ) -> tuple[Engine, Any]:
        from evalkit.engine.calls import ModelCaller
        from evalkit.engine.runner import Engine
        from evalkit.graders.hook import build_grading

        options, plan = self.options, self.plan
        max_cost = options.max_cost if options.max_cost is not None else plan.suite.max_cost
        _warn_unpriced(runtimes, max_cost)
        concurrency = options.concurrency or plan.suite.concurrency
        caller = ModelCaller(_cache(options))
        grading = build_grading(plan, runtimes, caller, concurrency)

        def collect(record: ResultRecord) -> None:
            self.trackers.on_records((record,))
            self.collected[record.key] = record.model_copy(update=dict.fromkeys(drop))

        engine = Engine(
            run_id=self.store.run_id,
            variants=dict(plan.variants),
            metrics=plan.metrics,
            models=runtimes,
            store=self.store,
            caller=caller,
            concurrency=concurrency,
            progress=progress,
            hooks=list(grading.hooks),
            max_cost=max_cost,
            max_errors=_max_errors(plan),
            on_record=collect,
        )
        return engine, grading

    async def _run(self, engine: Engine, grading: Any, done: set[str]) -> bool:
        """Run the items (and the pairwise phase); True when interrupted (Ctrl-C cancels)."""
        try:
            items = self.plan.work_items(skip=done)
            await engine.run(items, total=self.plan.total, done=len(done))
            if grading.pairwise and not engine.stats.stopped_reason:
                await grading.after_run(self.store, self.store.records())
        except asyncio.CancelledError:
            return True
        finally:
            engine.caller.cache.close()
            self.store.close()
        return False

    # --- documents --------------------------------------------------------------------------

    def _drop(self) -> tuple[str, ...]:
        """Record fields the summary and gates never read: a 20,000-item run stays small."""
        from evalkit.suite.gates import RegressionGate

        keep: set[str] = set()
        if any(getattr(g.config, "human_label", None) for g in self.plan.graders):
            keep.add("inputs")  # calibration reads the human label column
        if any(isinstance(g, RegressionGate) for g in self.plan.suite.gates):
            keep |= {"inputs", "output"}  # changed rows, and the regressed examples' outputs
        return tuple(f for f in ("messages", "output", "inputs") if f not in keep)

    def _summarize(
        self, records: list[ResultRecord], engine: Engine, interrupted: bool
    ) -> RunSummary:
        from evalkit.graders.summary import with_grader_sections
        from evalkit.results.schema import Spent
        from evalkit.results.summary import build_summary

        plan, stats = self.plan, engine.stats
        if interrupted:
            status = "interrupted"
        elif stats.stopped_reason or len(records) < plan.total:
            status = "incomplete"
        else:
            status = "complete"
        summary = build_summary(
            self.store.run_id,
            plan.suite.name,
            records,
            variants=plan.variant_names,
            models=plan.model_ids,
            total=plan.total,
            status=status,  # type: ignore[arg-type]
            stopped_reason=stats.stopped_reason,
            calls=stats.calls,
            spent=Spent(total=stats.spent, by_model=dict(stats.spent_by_model)),
        )
        return with_grader_sections(summary, self.store.dir, records, plan.graders)

    def _decide(self, summary: RunSummary, records: list[ResultRecord]) -> RunSummary:
        from evalkit.gates.apply import decide_into
        from evalkit.gates.baselines import baseline_source
        from evalkit.suite.gates import RegressionGate

        gates = list(self.plan.suite.gates)
        if not gates and self.plan.repeats < 2:
            return summary
        source = None
        if any(isinstance(g, RegressionGate) for g in gates):
            source = baseline_source(
                self.options.runs_dir,
                override=self.options.baseline,
                run_dir=self.store.dir,
                tracking_uri=self.options.tracking_uri,
                tracking=self.options.tracking,
            )
        return decide_into(summary, gates, records, repeats=self.plan.repeats, baselines=source)

    def _finish(self, summary: RunSummary, engine: Engine, skipped: int) -> RunResult:
        from evalkit.api import RunResult

        tracked = self._track(summary)
        requests = [(r.type, Path(r.path), r.options) for r in self.plan.suite.reports]
        requests += self.options.reports
        if requests:
            from evalkit.report.base import write_reports

            write_reports(self._stored(summary), requests)
        return RunResult(
            self.store.run_id, self.store.dir, summary, engine.stats, skipped, tracked=tracked
        )

    def _stored(self, summary: RunSummary) -> StoredRun:
        manifest = self.store.manifest()
        return StoredRun(self.store.dir, manifest, summary, suite_text=self.plan.loaded.text)

    def _trackers(self) -> Trackers:
        """The suite's trackers: subscribers, whose failure only warns."""
        from evalkit.trackers.base import TrackerSettings, open_trackers

        settings = TrackerSettings(
            runs_dir=self.options.runs_dir,
            run_dir=self.store.dir,
            uri=self.options.tracking_uri,
            config=self.plan.suite.tracking,
        )
        warn = self.options.notify or _warn
        return open_trackers(settings, enabled=self.options.tracking, warn=warn)

    def _track(self, summary: RunSummary) -> list[Any]:
        self.trackers.on_finish(summary)
        return self.trackers.log_run(self._stored(summary)) if self.trackers else []

    def _info(self) -> RunOptionsInfo:
        o = self.options
        return RunOptionsInfo(
            limit=o.limit,
            variants=o.variants,
            models=o.models,
            no_cache=o.no_cache,
            max_cost=o.max_cost,
        )


def check_run_id(run_id: str) -> None:
    """A run id names a folder inside the runs folder: no separators, no `..`, no surprises."""
    if not _RUN_ID.match(run_id) or ".." in run_id:
        raise SuiteError(
            f"invalid run id {run_id[:80]!r}",
            hint="use letters, digits, '.', '_' and '-' (at most 128, no '..' or slashes)",
        )


def _resumed(suite: SuiteSource | None, options: RunOptions) -> tuple[Plan, RunStore]:
    """An existing run and its plan, rebuilt from its manifest; the suite must be unchanged."""
    from evalkit.plan import prepare

    run_id = options.resume or ""
    store = RunStore.open_existing(options.runs_dir, run_id)
    previous = store.manifest()
    plan = prepare(
        suite if suite is not None else (previous.suite.path or ""),
        limit=previous.options.limit,
        variants=previous.options.variants,
        models=previous.options.models,
    )
    if plan.loaded.hash != previous.suite.hash:
        raise SuiteError(
            f"the suite changed since run {run_id} started",
            file=str(plan.loaded.path),
            hint="resuming would mix two versions; start a new run without --resume",
        )
    return plan, store


def _with_dataset(suite: SuiteSource, dataset: Any, base_dir: Path | None) -> Any:
    """The suite with inline rows (a list of mappings or a pandas DataFrame) as its dataset."""
    from evalkit.plan import _loaded
    from evalkit.suite.loader import adopt_suite
    from evalkit.suite.schema import DatasetConfig

    if hasattr(dataset, "to_dict"):
        dataset = dataset.to_dict(orient="records")
    if not isinstance(dataset, list) or not all(isinstance(r, dict) for r in dataset):
        raise SuiteError("dataset= takes a list of mappings or a pandas DataFrame")
    loaded = _loaded(suite, base_dir)
    rows = [{str(k): v for k, v in row.items()} for row in dataset]
    config = DatasetConfig(rows=rows, id_field=loaded.suite.dataset.id_field)
    return adopt_suite(loaded.suite.model_copy(update={"dataset": config}), loaded.base_dir)


def _latest(previous: list[ResultRecord], new: Any) -> list[ResultRecord]:
    """The last record of every key (a resumed item replaces its failed attempt)."""
    latest = {r.key: r for r in previous}
    for record in new:
        latest[record.key] = record
    return list(latest.values())


def _cache(options: RunOptions) -> Any:
    from evalkit.engine.cache import NullCache, ResponseCache

    if options.no_cache:
        return NullCache()
    return ResponseCache(options.cache_path or options.runs_dir / "cache.sqlite")


def _max_errors(plan: Plan) -> int | None:
    budget = float(plan.suite.error_budget)
    return None if budget >= 1.0 else int(budget * plan.total)


def _warn_unpriced(runtimes: dict[str, Any], max_cost: float | None) -> None:
    """A budget cannot see calls it has no price for: say so before spending anything."""
    unpriced = [model_id for model_id, runtime in runtimes.items() if runtime.cost is None]
    if max_cost is not None and unpriced:
        warnings.warn(
            f"max_cost ${max_cost:g} does not count the calls of {', '.join(unpriced)}: no price"
            " is known for them; add one under the suite's `prices:`",
            stacklevel=3,
        )


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)
