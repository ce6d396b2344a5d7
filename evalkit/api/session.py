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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.api.inputs import check_options, check_run_id, resumed_plan, with_dataset
from evalkit.data.shards import Shard
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


@dataclass
class RunSession:
    plan: Plan
    options: RunOptions
    store: RunStore
    resumed: bool
    collected: dict[str, ResultRecord] = field(default_factory=dict)
    allow_code: bool = False  # consent to import the suite's user code (checked in prepare)
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
        plan.render_all()
        allow = _consent(plan, options)
        if store is not None:
            store.redactor = plan.redactor()
            return cls(plan, options, store, resumed=True, allow_code=allow)
        run_id = options.run_id or new_run_id(plan.suite.name)
        check_run_id(run_id)
        store = RunStore(options.runs_dir, run_id, plan.redactor())
        if store.dir.exists():  # never write into another run's folder
            raise store.exists_error()
        return cls(plan, options, store, resumed=False, allow_code=allow)

    @staticmethod
    def plan_for(
        suite: SuiteSource | None,
        options: RunOptions,
        dataset: Any = None,
        base_dir: Path | None = None,
    ) -> tuple[Plan, RunStore | None]:
        """The plan of a new run, or of the run being resumed (with its store)."""
        from evalkit.plan import prepare

        check_options(options)
        if options.resume:
            check_run_id(options.resume)
            return resumed_plan(suite, options)
        if suite is None:
            raise SuiteError("no suite given", hint="evalkit run suites/<name>.yaml")
        source = with_dataset(suite, dataset, base_dir) if dataset is not None else suite
        plan = prepare(
            source,
            limit=options.limit,
            variants=options.variants,
            models=options.models,
            base_dir=base_dir,
            shard=Shard.parse(options.shard) if options.shard else None,
            group_by=options.group_by,
        )
        return plan, None

    # --- running ----------------------------------------------------------------------------

    async def execute(self, progress: ProgressSink | None = None) -> RunResult:
        """Run it as the folder's only writer (run.lock), released however the run ends."""
        from evalkit.plugins.user_code import allowed

        try:
            with allowed(self.allow_code):
                self.plan.load_user_code()  # a broken custom metric fails before anything
                if self.resumed:  # locked before reading what is done: no second resume
                    self._note(self.store.lock())
                    for note in self.store.repair():
                        self._note(note)
                return await self._execute(progress)
        finally:
            self.store.unlock()

    async def _execute(self, progress: ProgressSink | None) -> RunResult:
        from evalkit.engine.executors import use_executor
        from evalkit.engine.runtimes import open_runtimes

        drop = self._drop()
        previous = self.store.records(drop=drop) if self.resumed else []
        done = {r.key for r in previous if r.ok}
        plan, base_dir = self.plan, self.plan.loaded.base_dir
        model_ids = [*plan.model_ids, *plan.judge_ids]
        info = self._info()
        if self.resumed:
            manifest = self.store.manifest()
        else:
            manifest = plan.manifest(self.store.run_id, info, self.options.group)
        self.trackers = self._trackers()
        self.trackers.on_start(manifest)  # trackers warm up while the providers start
        async with (
            open_runtimes(plan.suite, model_ids, base_dir) as runtimes,
            use_executor(self._executor(), runtimes, plan.model_ids, plan.judge_ids, base_dir),
        ):
            engine, grading = self._engine(runtimes, progress, drop)
            if not self.resumed:  # the folder is made only once providers exist
                self._note(self.store.create(manifest, self.plan.loaded.text))
            try:
                interrupted = await self._run(engine, grading, done)
            except Exception:
                if not self.resumed and not self.store.has_results():
                    self.store.discard()  # failed before its first result: leave nothing
                raise
        records = _latest(previous, self.collected.values())
        # scrubbed in memory too: reporters, trackers and the console get this summary
        summary = self.store.redactor.doc(self._summarize(records, engine, interrupted))
        engine.stats.error_samples = [
            self.store.redactor.text(e) for e in engine.stats.error_samples
        ]
        if interrupted:
            self.store.write_summary(summary)
            self._track(summary)
            from evalkit.api import RunInterrupted

            raise RunInterrupted(self.store.run_id, summary)
        summary = self.store.redactor.doc(self._decide(summary, records))
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
        caller = ModelCaller(_cache(options, self.store.redactor))
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

        # group_by and `per:` gates read each record's dataset row
        keep: set[str] = {"inputs"} if self.plan.slice_columns else set()
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
            group_by=plan.group_by,
        )
        return with_grader_sections(summary, self.store.dir, records, plan.graders)

    def _decide(self, summary: RunSummary, records: list[ResultRecord]) -> RunSummary:
        if self.plan.shard is not None:
            return summary  # a shard's numbers cover part of the matrix: the merged run gates
        gates = list(self.plan.suite.gates)
        from evalkit.api.deciding import decide_gates

        return decide_gates(
            summary, records, gates, self.plan.repeats, self.options, self.store.dir
        )

    def _finish(self, summary: RunSummary, engine: Engine, skipped: int) -> RunResult:
        from evalkit.api import RunResult

        tracked = self._track(summary)
        # the suite's own reports describe the whole evaluation: a shard leaves them to merge
        suite_reports = self.plan.suite.reports if self.plan.shard is None else []
        requests = [(r.type, Path(r.path), r.options) for r in suite_reports]
        requests += self.options.reports
        if requests:
            from evalkit.report.base import write_reports

            write_reports(self._stored(summary), requests)
        return RunResult(
            self.store.run_id, self.store.dir, summary, engine.stats, skipped, tracked=tracked
        )

    def _stored(self, summary: RunSummary) -> StoredRun:
        manifest = self.store.manifest()
        text = self.store.redactor.text(self.plan.loaded.text)
        return StoredRun(self.store.dir, manifest, summary, suite_text=text)

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

    def _note(self, text: str | None) -> None:
        if text:
            (self.options.notify or _warn)(text)

    def _executor(self) -> Any:
        from evalkit.engine.executors import ExecutorSpec

        o = self.options
        return ExecutorSpec(o.executor, address=o.ray_address, actors=o.ray_actors)

    def _info(self) -> RunOptionsInfo:
        o = self.options
        return RunOptionsInfo(
            limit=o.limit,
            variants=o.variants,
            models=o.models,
            no_cache=o.no_cache,
            max_cost=o.max_cost,
            group_by=o.group_by,
        )


def _consent(plan: Plan, options: RunOptions) -> bool:
    """User code runs only with consent: refuse naming the module, or say what is imported."""
    from evalkit.plugins.user_code import consent, refusal

    codes = plan.user_code()
    if not codes:
        return False
    reason = consent(options.allow_code)
    if reason is None:
        raise refusal(codes[0])
    modules = ", ".join(dict.fromkeys(f"{c.module} ({c.kind} {c.target})" for c in codes))
    (options.notify or _warn)(f"importing user code, allowed by {reason}: {modules}")
    return True


def _latest(previous: list[ResultRecord], new: Any) -> list[ResultRecord]:
    """The last record of every key (a resumed item replaces its failed attempt)."""
    latest = {r.key: r for r in previous}
    for record in new:
        latest[record.key] = record
    return list(latest.values())


def _cache(options: RunOptions, redactor: Any) -> Any:
    from evalkit.engine.cache import NullCache, ResponseCache

    if options.no_cache:
        return NullCache()
    path = options.cache_path or options.runs_dir / "cache.sqlite"
    return ResponseCache(path, redactor=redactor)


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
