"""The Python API behind the CLI: `run_suite()` runs a suite (or resumes a run) end to end.

from evalkit.api import run_suite
result = run_suite("suites/support_faq.yaml")
print(result.summary["cells"])
"""

from __future__ import annotations

import asyncio
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit import __version__
from evalkit.engine.cache import NullCache, ResponseCache
from evalkit.engine.progress import ProgressSink
from evalkit.engine.runner import Engine, EngineStats
from evalkit.engine.runtimes import close_runtimes, create_runtimes
from evalkit.errors import SuiteError
from evalkit.gates.apply import check_gates, decide_and_store
from evalkit.gates.apply import exit_code as gate_exit_code
from evalkit.graders.hook import (
    Grading,
    attach_graders,
    grader_manifest,
    grader_sections,
    judge_ids,
)
from evalkit.plan import Plan, prepare
from evalkit.results.store import RunStore, default_runs_dir, new_run_id
from evalkit.results.summary import aggregate

if TYPE_CHECKING:
    from evalkit.engine.dry_run import Estimate


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
    max_cost: float | None = None
    baseline: str | None = None  # a baseline name or run id for every regression gate
    tracking_uri: str | None = None  # MLflow; else $MLFLOW_TRACKING_URI, the suite, runs/mlflow.db
    tracking: bool = True  # False (or EVALKIT_NO_TRACKING=1): do not log to MLflow


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: what finished is on disk and `run_id` can be resumed."""

    def __init__(self, run_id: str, summary: dict[str, Any]) -> None:
        super().__init__(run_id)
        self.run_id = run_id
        self.summary = summary


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    stats: EngineStats
    skipped: int
    interrupted: bool = False

    @property
    def status(self) -> str:
        return str(self.summary["status"])

    @property
    def exit_code(self) -> int:
        """3 when the run did not complete (whatever the gates say), 1 when a gate failed."""
        return gate_exit_code(self.summary)


def run_suite(
    suite_path: str | Path | None,
    options: RunOptions | None = None,
    progress: ProgressSink | None = None,
) -> RunResult:
    """Run a suite (or resume `options.resume`) and write runs/<run_id>/. Raises on user errors.

    KeyboardInterrupt propagates after the summary of what finished has been written.
    """
    options = options or RunOptions()
    store, plan = _open_run(suite_path, options)
    check_gates(plan.suite, str(plan.loaded.path), plan.loaded.line_of)  # before any spend
    done = store.done_keys() if options.resume else set()
    runtimes = create_runtimes(plan, concurrency=options.concurrency, extra_ids=judge_ids(plan))
    max_cost = options.max_cost if options.max_cost is not None else plan.suite.max_cost
    _warn_unpriced(runtimes, max_cost)
    engine = Engine(
        run_id=store.run_id,
        variants=dict(plan.variants),
        metrics=plan.metrics,
        models=runtimes,
        store=store,
        cache=_cache(options),
        concurrency=options.concurrency or plan.suite.concurrency,
        progress=progress,
        max_cost=max_cost,
        max_errors=_max_errors(plan),
    )
    grading = attach_graders(engine, plan, runtimes, store)
    items = plan.work_items(skip=done)
    interrupted = False
    try:
        asyncio.run(_run_engine(engine, items, plan.total, len(done), runtimes, grading))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        engine.cache.close()
        store.close()
        summary = write_summary(store, plan, engine.stats, interrupted=interrupted)
    if interrupted:
        _track(store, plan, options)
        raise RunInterrupted(store.run_id, summary)
    if plan.suite.gates or plan.repeats > 1:
        summary = decide_and_store(
            store,
            plan.suite.gates,
            repeats=plan.repeats,
            runs_dir=options.runs_dir,
            baseline=options.baseline,
            tracking_uri=options.tracking_uri,
            tracking=options.tracking,
        )
    _track(store, plan, options)
    return RunResult(store.run_id, store.dir, summary, engine.stats, skipped=len(done))


def _warn_unpriced(runtimes: dict[str, Any], max_cost: float | None) -> None:
    """A budget cannot see calls it has no price for: say so before spending anything."""
    unpriced = [model_id for model_id, runtime in runtimes.items() if runtime.cost is None]
    if max_cost is not None and unpriced:
        warnings.warn(
            f"max_cost ${max_cost:g} does not count the calls of {', '.join(unpriced)}: no price"
            " is known for them; add one under the suite's `prices:`",
            stacklevel=3,
        )


def _track(store: RunStore, plan: Plan, options: RunOptions) -> None:
    """Log the run to MLflow, a subscriber: its failure is a warning, the results are on disk."""
    if options.tracking:
        from evalkit.trackers.mlflow import track_after_run

        track_after_run(store.dir, tracking_uri=options.tracking_uri, config=plan.suite.tracking)


async def _run_engine(
    engine: Engine, items: Any, total: int, done: int, runtimes: Any, grading: Grading | None
) -> None:
    try:
        await engine.run(items, total=total, done=done)
        if grading is not None and not engine.stats.stopped_reason:
            await grading.after_run()  # pairwise graders compare finished outputs
    finally:
        await close_runtimes(runtimes)


def dry_run(suite_path: str | Path | None, options: RunOptions | None = None) -> Estimate:
    """What `run_suite` would call and cost (generation and judging), without calling anything.

    Nothing is written: no run folder, no cache (an existing cache is read, so items it holds
    count as free). With `options.resume`, only the items the run still lacks are counted.
    """
    from evalkit.engine.dry_run import estimate_plan

    options = options or RunOptions()
    skip: set[str] = set()
    if options.resume:
        store, plan = _resumed(suite_path, options.runs_dir, options.resume)
        skip = store.done_keys()
    elif suite_path is None:
        raise SuiteError("no suite given", hint="evalkit run suites/<name>.yaml --dry-run")
    else:
        plan = prepare(
            suite_path, limit=options.limit, variants=options.variants, models=options.models
        )
    check_gates(plan.suite, str(plan.loaded.path), plan.loaded.line_of)
    cache = None if options.no_cache else options.cache_path or options.runs_dir / "cache.sqlite"
    max_cost = options.max_cost if options.max_cost is not None else plan.suite.max_cost
    return estimate_plan(plan, cache_path=cache, skip=skip, max_cost=max_cost)


def _resumed(suite_path: str | Path | None, runs_dir: Path, run_id: str) -> tuple[RunStore, Plan]:
    """An existing run and its plan, rebuilt from its manifest; the suite must be unchanged."""
    store = RunStore.open_existing(runs_dir, run_id)
    previous = store.manifest()
    plan = prepare(
        suite_path or previous["suite"]["path"],
        limit=previous["options"].get("limit"),
        variants=previous["options"].get("variants"),
        models=previous["options"].get("models"),
    )
    if plan.loaded.hash != previous["suite"]["hash"]:
        raise SuiteError(
            f"the suite changed since run {run_id} started",
            file=str(plan.loaded.path),
            hint="resuming would mix two versions; start a new run without --resume",
        )
    return store, plan


def _open_run(suite_path: str | Path | None, options: RunOptions) -> tuple[RunStore, Plan]:
    if options.resume:
        return _resumed(suite_path, options.runs_dir, options.resume)
    if suite_path is None:
        raise SuiteError("no suite given", hint="evalkit run suites/<name>.yaml")
    plan = prepare(
        suite_path, limit=options.limit, variants=options.variants, models=options.models
    )
    store = RunStore(options.runs_dir, options.run_id or new_run_id(plan.suite.name))
    store.create(manifest(plan, store.run_id, options), plan.loaded.text)
    return store, plan


def _cache(options: RunOptions) -> ResponseCache | NullCache:
    if options.no_cache:
        return NullCache()
    return ResponseCache(options.cache_path or options.runs_dir / "cache.sqlite")


def _max_errors(plan: Plan) -> int | None:
    budget = float(plan.suite.error_budget)
    return None if budget >= 1.0 else int(budget * plan.total)


def manifest(plan: Plan, run_id: str, options: RunOptions) -> dict[str, Any]:
    """run.json: what was run, enough to resume it and to log it to a tracker later."""
    from evalkit.results.redaction import Redactor

    suite = plan.suite
    redactor = Redactor.from_env()
    return {
        "run_id": run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "evalkit_version": __version__,
        "python": platform.python_version(),
        "git_commit": git_commit(plan.loaded.base_dir),
        "suite": {
            "name": suite.name,
            "description": suite.description,
            "path": str(plan.loaded.path),
            "hash": plan.loaded.hash,
            "tags": dict(suite.tags),
        },
        "dataset": plan.dataset_info(),
        "variants": {
            name: {
                "hash": v.hash,
                "template": v.template_text,
                "messages": [{"role": m.role, "content": m.source} for m in v.messages],
            }
            for name, v in plan.variants.items()
            if name in plan.variant_names
        },
        # options may hold an interpolated ${SECRET}: run.json must never carry it
        "models": [
            redactor.mapping(m.model_dump()) for m in suite.models if m.id in plan.model_ids
        ],
        "metrics": [{"name": m.name, "type": m.type, "args": m.args} for m in plan.metrics],
        "graders": grader_manifest(plan.graders),
        "repeats": plan.repeats,
        "total": plan.total,
        "options": {
            "limit": options.limit,
            "variants": options.variants,
            "models": options.models,
            "no_cache": options.no_cache,
            "max_cost": options.max_cost,
        },
    }


def write_summary(
    store: RunStore, plan: Plan, stats: EngineStats, *, interrupted: bool
) -> dict[str, Any]:
    records = store.records(drop=_unsummarised(plan))
    errors = sum(1 for r in records if r.get("error") is not None)
    if interrupted:
        status = "interrupted"
    elif stats.stopped_reason or len(records) < plan.total:
        status = "incomplete"
    else:
        status = "complete"
    summary = {
        "v": 1,
        "run_id": store.run_id,
        "suite": plan.suite.name,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": status,
        "stopped_reason": stats.stopped_reason,
        "counts": {
            "total": plan.total,
            "done": len(records),
            "errors": errors,
            "cached": sum(1 for r in records if r.get("cached")),
            "calls_this_session": stats.calls,
        },
        "cost": sum(r.get("cost") or 0.0 for r in records),
        # what this invocation paid for (cache hits are free), judges included
        "spent": {"total": stats.spent, "by_model": dict(stats.spent_by_model)},
        "cells": aggregate(records, plan.variant_names, plan.model_ids),
    }
    summary.update(grader_sections(store.dir, records, plan.graders))
    store.write_json("summary.json", summary)
    return summary


def _unsummarised(plan: Plan) -> tuple[str, ...]:
    """Record fields the summary never reads: left out, a 20,000-item run's summary stays small."""
    human_labels = any(getattr(g.config, "human_label", None) for g in plan.graders)
    return ("messages", "output") if human_labels else ("messages", "output", "inputs")


def git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
