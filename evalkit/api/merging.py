"""`evalkit merge`: shard runs joined into one run, summarised and gated like an unsharded run.

    result = merge_shards(["n-1-of-4", "n-2-of-4", "n-3-of-4", "n-4-of-4"], "n", options)

The checks and the merged documents are pure (`results/merge.py`). Here the shard folders are
read, the merged folder written (run.json, suite.yaml, results.jsonl, pairwise.jsonl), and the
summary built and the gates decided with the run path's code (`build_summary`,
`with_grader_sections`, `deciding.decide_gates`); then trackers and reports get it, as after a
run. Nothing is written before every check passed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.results.merge import (
    ShardRun,
    check_shards,
    merged_manifest,
    merged_pairs,
    merged_progress,
    merged_records,
)
from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
from evalkit.results.store import SUITE_COPY, RunStore, StoredRun

if TYPE_CHECKING:
    from evalkit.api import RunOptions, RunResult
    from evalkit.graders.bind import BoundGrader
    from evalkit.suite.loader import LoadedSuite


def merge_shards(
    run_ids: list[str], output: str, options: RunOptions, suite: Path | None = None
) -> RunResult:
    """Merge the shard runs `run_ids` (in `options.runs_dir`) into the new run `output`.

    `suite`: the suite file, where the shards' own copy cannot find its dataset (graders are
    bound against it, as the run bound them); it must be the version the shards ran."""
    from evalkit.api.session import check_run_id

    check_run_id(output)
    target = RunStore(options.runs_dir, output)
    if target.dir.exists():
        raise SuiteError(
            f"run '{output}' already exists in {options.runs_dir}/",
            hint="name the merged run with another -o RUN_ID, or delete that folder",
        )
    ordered = check_shards([_read_shard(options.runs_dir, run_id) for run_id in run_ids])
    shard_store = RunStore(options.runs_dir, ordered[0].run_id)
    loaded = _suite_of(shard_store, ordered[0].manifest, suite)
    graders = _graders(loaded, ordered[0].manifest)
    manifest = merged_manifest(ordered, output)
    records = merged_records(ordered, output)
    _write(target, manifest, shard_store.suite_text(), records, ordered)
    summary = _summary(target, manifest, records, ordered, graders, loaded.suite.group_by)
    summary = _decide(summary, records, loaded, options, target.dir)
    target.write_summary(summary)
    return _finish(target, manifest, summary, records, loaded, options)


def _read_shard(runs_dir: Path, run_id: str) -> ShardRun:
    from evalkit.graders.pairwise import PAIRWISE_FILE, read_pairs

    store = RunStore.open_existing(runs_dir, run_id)
    pairs = read_pairs(store.dir / PAIRWISE_FILE)
    return ShardRun(run_id, store.manifest(), store.summary(), store.records(), pairs)


def _suite_of(store: RunStore, manifest: RunManifest, given: Path | None) -> LoadedSuite:
    """The suite as the shards ran it: `given`, else their copy with relative paths (the
    dataset, a grader's prompt file) resolved where the suite was, when that folder is here."""
    from evalkit.suite.loader import load_suite

    if given is not None:
        loaded = load_suite(given)
        if loaded.hash != manifest.suite.hash:
            raise SuiteError(
                f"{given} is not the suite version the shards ran (suite hash {loaded.hash},"
                f" the shards': {manifest.suite.hash})",
                hint="merge with the suite file as it was when the shards ran",
            )
        return loaded
    loaded = load_suite(store.dir / SUITE_COPY)
    origin = Path(manifest.suite.path).parent if manifest.suite.path else None
    if origin is not None and origin.is_dir():
        loaded = dataclasses.replace(loaded, base_dir=origin)
    return loaded


def _graders(loaded: LoadedSuite, manifest: RunManifest) -> list[BoundGrader]:
    """The graders as the run bound them (the suite's, and rows' own ones, which need the
    dataset); a suite without graders needs nothing beyond the shards' folders."""
    from evalkit.plan import prepare

    if not manifest.graders:
        return []
    options = manifest.options
    try:
        plan = prepare(
            loaded, limit=options.limit, variants=options.variants, models=options.models
        )
    except SuiteError as exc:
        exc.hint = exc.hint or "merge binds the graders against the dataset: give --suite PATH"
        raise
    digest = plan.dataset_info().digest
    if digest != manifest.dataset.digest:
        raise SuiteError(
            f"the dataset merge found is not the one the shards ran (digest {digest}, the"
            f" shards': {manifest.dataset.digest})",
            hint="run merge where the suite's dataset is as it was, or give --suite PATH",
        )
    return plan.graders


def _write(
    target: RunStore,
    manifest: RunManifest,
    suite_text: str,
    records: list[ResultRecord],
    ordered: list[ShardRun],
) -> None:
    from evalkit.graders.pairwise import PAIRWISE_FILE

    target.create(manifest, suite_text)
    try:
        for record in records:
            target.append(record)
    finally:
        target.close()
    pairs = merged_pairs(ordered)
    if pairs:
        target.append_docs(PAIRWISE_FILE, pairs)


def _summary(
    target: RunStore,
    manifest: RunManifest,
    records: list[ResultRecord],
    ordered: list[ShardRun],
    graders: list[BoundGrader],
    group_by: list[str],
) -> RunSummary:
    from evalkit.graders.summary import with_grader_sections
    from evalkit.results.slices import group_columns
    from evalkit.results.summary import build_summary

    progress = merged_progress(ordered, len(records), manifest.total)
    summary = build_summary(
        manifest.run_id,
        manifest.suite.name,
        records,
        variants=list(manifest.variants),
        models=[m.id for m in manifest.models],
        total=manifest.total,
        status=progress.status,
        stopped_reason=progress.stopped_reason,
        calls=progress.calls,
        spent=progress.spent,
        group_by=group_columns(group_by, manifest.options.group_by),
    )
    return with_grader_sections(summary, target.dir, records, graders)


def _decide(
    summary: RunSummary,
    records: list[ResultRecord],
    loaded: LoadedSuite,
    options: RunOptions,
    run_dir: Path,
) -> RunSummary:
    from evalkit.api.deciding import decide_gates

    gates = list(loaded.suite.gates)
    return decide_gates(summary, records, gates, int(loaded.suite.repeats), options, run_dir)


def _finish(
    target: RunStore,
    manifest: RunManifest,
    summary: RunSummary,
    records: list[ResultRecord],
    loaded: LoadedSuite,
    options: RunOptions,
) -> RunResult:
    """Trackers and reports, as after a run; the result a run would return."""
    from evalkit.api import RunResult
    from evalkit.engine.runner import EngineStats
    from evalkit.report.base import write_reports
    from evalkit.trackers.base import TrackerSettings, open_trackers

    stored = StoredRun(target.dir, manifest, summary, suite_text=loaded.text)
    settings = TrackerSettings(
        runs_dir=options.runs_dir,
        run_dir=target.dir,
        uri=options.tracking_uri,
        config=loaded.suite.tracking,
    )
    trackers = open_trackers(settings, enabled=options.tracking, warn=options.notify or _warn)
    tracked = trackers.log_run(stored) if trackers else []
    requests: list[tuple[str, Path, dict[str, Any]]] = [
        (r.type, Path(r.path), r.options) for r in loaded.suite.reports
    ]
    requests += options.reports
    if requests:
        write_reports(stored, requests)
    errors = [r.error for r in records if r.error is not None]
    stats = EngineStats(done=len(records), errors=len(errors), error_samples=errors[:5])
    return RunResult(target.run_id, target.dir, summary, stats, tracked=tracked)


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)
