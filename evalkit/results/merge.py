"""Join shard runs into one run: the checks that they belong together, and the merged documents.

    shards = check_shards([ShardRun(run_id, manifest, summary, records, pairs), ...])
    manifest = merged_manifest(shards, "nightly-42")
    records = merged_records(shards, "nightly-42")

Pure functions of the typed documents. `evalkit.api.merge` reads the shard folders, writes the
merged one, builds its summary and decides its gates with the run path's own code, so the
merged run equals the unsharded run on the same outputs (tests/test_merge.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from evalkit.errors import SuiteError
from evalkit.results.schema import (
    PairRecord,
    ResultRecord,
    RunManifest,
    RunSummary,
    ShardInfo,
    Spent,
    Status,
)

MERGE_HINT = "merge the runs of one `evalkit run --shard I/N` per shard, I = 1..N, of one group"


@dataclass
class ShardRun:
    """One shard's documents as read from its folder (summary None: killed before the end).

    `run_id` is the folder's name, as the user named it (a copied folder keeps its manifest)."""

    run_id: str
    manifest: RunManifest
    summary: RunSummary | None
    records: list[ResultRecord]
    pairs: list[PairRecord] = field(default_factory=list)

    @property
    def shard(self) -> ShardInfo:
        assert self.manifest.shard is not None  # check_shards refuses runs without one
        return self.manifest.shard


def check_shards(shards: Sequence[ShardRun]) -> list[ShardRun]:
    """The shards in index order, once each shard is known to belong with the others.

    One set: the same suite version, dataset, group, shard count and run filters; every index
    1..N exactly once; no example in two shards. Else a SuiteError naming what differs."""
    if not shards:
        raise SuiteError("nothing to merge", hint=MERGE_HINT)
    for run in shards:
        if run.manifest.shard is None:
            raise SuiteError(f"run {run.run_id} is not a shard (it ran without --shard)")
    first = shards[0]
    for run in shards[1:]:
        _check_same(first, run)
    ordered = sorted(shards, key=lambda r: r.shard.index)
    _check_complete(ordered)
    _check_disjoint(ordered)
    return ordered


def _check_same(first: ShardRun, other: ShardRun) -> None:
    a, b = first.manifest, other.manifest
    pairs = [
        ("shard count", first.shard.count, other.shard.count),
        ("suite version (suite hash)", a.suite.hash, b.suite.hash),
        ("dataset (digest)", a.dataset.digest, b.dataset.digest),
        ("group", a.group, b.group),
        ("variants", list(a.variants), list(b.variants)),
        ("models", [m.id for m in a.models], [m.id for m in b.models]),
        ("--limit", a.options.limit, b.options.limit),
    ]
    for what, mine, theirs in pairs:
        if mine != theirs:
            raise SuiteError(
                f"shards do not belong together: {what} differs: {first.run_id} has {mine},"
                f" {other.run_id} has {theirs}",
                hint=MERGE_HINT,
            )


def _check_complete(ordered: list[ShardRun]) -> None:
    count = ordered[0].shard.count
    seen: dict[int, str] = {}
    for run in ordered:
        index = run.shard.index
        if index in seen:
            raise SuiteError(
                f"shard {index}/{count} given twice: {seen[index]} and {run.run_id}",
                hint=MERGE_HINT,
            )
        seen[index] = run.run_id
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise SuiteError(
            f"incomplete shard set of group {ordered[0].manifest.group}: missing shard"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            hint="run the missing shards (evalkit run --shard I/N) and merge all of them",
        )
    rows = ordered[0].manifest.dataset.rows
    held = sum(run.shard.examples for run in ordered)
    if held != rows:
        raise SuiteError(
            f"the shards hold {held} examples, the dataset has {rows}", hint=MERGE_HINT
        )


def _check_disjoint(ordered: list[ShardRun]) -> None:
    """No example in two shards (the shard function guarantees it; edited folders may not)."""
    owner: dict[str, str] = {}
    for run in ordered:
        for example_id in {r.example_id for r in run.records}:
            if example_id in owner:
                raise SuiteError(
                    f"example '{example_id}' is in two shards: {owner[example_id]} and"
                    f" {run.run_id}",
                    hint=MERGE_HINT,
                )
            owner[example_id] = run.run_id


def merged_manifest(ordered: list[ShardRun], run_id: str) -> RunManifest:
    """The first shard's manifest for the whole run: no shard, every shard's items counted."""
    first = ordered[0].manifest
    return first.model_copy(
        update={
            "run_id": run_id,
            "created_at": min(run.manifest.created_at for run in ordered),
            "total": sum(run.manifest.total for run in ordered),
            "shard": None,
            "merged_from": [run.run_id for run in ordered],
        }
    )


def merged_records(ordered: list[ShardRun], run_id: str) -> list[ResultRecord]:
    """Every shard's latest records, as records of the merged run, in dataset order (the
    order an unsharded run writes them: lists like the flaky examples follow it)."""
    positions = {k: v for run in ordered for k, v in run.shard.positions.items()}
    records = [r.model_copy(update={"run_id": run_id}) for run in ordered for r in run.records]
    return sorted(records, key=lambda r: positions.get(r.example_id, len(positions)))


def merged_pairs(ordered: list[ShardRun]) -> list[PairRecord]:
    return [pair for run in ordered for pair in run.pairs]


@dataclass
class MergedProgress:
    """What the shards' engines knew and the records do not: status, calls, spending."""

    status: Status
    stopped_reason: str | None
    calls: int
    spent: Spent


def merged_progress(ordered: list[ShardRun], records: int, total: int) -> MergedProgress:
    """Complete when every shard completed and every item has a record; else incomplete,
    with the first unfinished shard named (resume it, then merge again)."""
    calls, spent, by_model = 0, 0.0, dict[str, float]()
    reason = None
    for run in ordered:
        summary = run.summary
        if summary is None or summary.status != "complete":
            status = summary.status if summary is not None else "killed (no summary.json)"
            why = summary.stopped_reason if summary is not None else None
            reason = reason or (
                f"shard {run.shard.label} ({run.run_id}) is {status}"
                + (f": {why}" if why else "")
                + f"; finish it with evalkit run --resume {run.run_id}, then merge again"
            )
        if summary is not None:
            calls += summary.counts.calls_this_session
            spent += summary.spent.total
            for model, amount in summary.spent.by_model.items():
                by_model[model] = by_model.get(model, 0.0) + amount
    complete = reason is None and records >= total
    return MergedProgress(
        status="complete" if complete else "incomplete",
        stopped_reason=reason,
        calls=calls,
        spent=Spent(total=spent, by_model=by_model),
    )
