"""What a run is given, checked: options from Python, run ids, a resumed run's plan, rows.

check_run_id("../x")          # SuiteError: a run id names a folder inside runs/
plan, store = resumed_plan(None, RunOptions(resume="20261127-101500-faq-1a2b"))
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.results.store import RunStore

if TYPE_CHECKING:
    from pathlib import Path

    from evalkit.api import RunOptions
    from evalkit.plan import Plan, SuiteSource

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_options(options: RunOptions) -> None:
    """Options given in Python get the bounds the CLI and the suite have."""
    from evalkit.suite.limits import LIMITS

    for name, low, high in (("concurrency", 1, LIMITS.concurrency), ("limit", 1, None)):
        value = getattr(options, name)
        if value is None:
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not whole or value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise SuiteError(f"{name} must be a whole number {span}, got {value!r:.40}")


def check_run_id(run_id: str) -> None:
    """A run id names a folder inside the runs folder: no separators, no `..`, no surprises."""
    if not _RUN_ID.match(run_id) or ".." in run_id:
        raise SuiteError(
            f"invalid run id {run_id[:80]!r}",
            hint="use letters, digits, '.', '_' and '-' (at most 128, no '..' or slashes)",
        )


def resumed_plan(suite: SuiteSource | None, options: RunOptions) -> tuple[Plan, RunStore]:
    """An existing run and its plan, rebuilt from its manifest; the suite must be unchanged."""
    from evalkit.data.shards import Shard
    from evalkit.plan import prepare

    run_id = options.resume or ""
    store = RunStore.open_existing(options.runs_dir, run_id)
    previous = store.manifest()
    plan = prepare(
        suite if suite is not None else (previous.suite.path or ""),
        limit=previous.options.limit,
        variants=previous.options.variants,
        models=previous.options.models,
        shard=Shard(previous.shard.index, previous.shard.count) if previous.shard else None,
        group_by=previous.options.group_by,
    )
    if plan.loaded.hash != previous.suite.hash:
        raise SuiteError(
            f"the suite changed since run {run_id} started",
            file=str(plan.loaded.path),
            hint="resuming would mix two versions; start a new run without --resume",
        )
    return plan, store


def with_dataset(suite: SuiteSource, dataset: Any, base_dir: Path | None) -> Any:
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
    id_field = loaded.suite.dataset.id_field if loaded.suite.dataset is not None else None
    config = DatasetConfig(rows=rows, id_field=id_field)
    return adopt_suite(loaded.suite.model_copy(update={"dataset": config}), loaded.base_dir)
