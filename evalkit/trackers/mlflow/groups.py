"""One MLflow parent run per shard group: found or created by whichever shard logs first.

The shards of one sharded evaluation (`evalkit run --shard I/N`, run.json `group`) log from
separate CI jobs at about the same moment. Each finds the group's parent run (tag
`evalkit.group`, no `evalkit.shard`) or creates it, and logs itself as its child (tag
`evalkit.shard` = "I/N"); `evalkit merge` logs the merged run onto that same parent.

MLflow cannot create a run under a chosen id, nor "create unless one exists" atomically, so
two jobs may both create one. The rule that makes them agree: of the group's parents, the one
with the earliest start time (then the lowest run id) is the group's. A job that created one
searches again (after a moment, for a twin created about then) and deletes its own if it is
not the first; `reconcile` (at each shard's
end and at the merge) moves any shard run still under a duplicate to the first and deletes the
duplicate, so a race that both sides lost sight of (clock skew between runners) converges too.

    parent = find_or_create(client, experiment_id, manifest)
    reconcile(client, experiment_id, manifest.group)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from evalkit.results.schema import RunManifest
from evalkit.trackers.mlflow.rundata import GROUP_TAG, SHARD_TAG, TAG_PREFIX

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

RUN_ID_TAG = f"{TAG_PREFIX}run_id"
PARENT_TAG = "mlflow.parentRunId"
SETTLE_MIN_S, SETTLE_MAX_S = 0.5, 5.0  # the creator's wait before it looks for a twin
MAX_RUNS = 1000  # a group's runs: its parent(s), shard runs (re-runs of a failed job add some)


def group_name(manifest: RunManifest) -> str:
    """What the group's parent is called in the runs list: "support-faq · 4 shards"."""
    count = manifest.shard.count if manifest.shard else len(manifest.merged_from)
    return f"{manifest.suite.name} · {count} shards"


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def group_runs(client: MlflowClient, experiment_id: str, group: str) -> list[Run]:
    """Every run of the group: its parent(s) and its shard runs (cells carry no group tag)."""
    return list(
        client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{GROUP_TAG}` = '{_quote(group)}'",
            max_results=MAX_RUNS,
        )
    )


def _parents(runs: list[Run]) -> list[Run]:
    return sorted(
        (r for r in runs if SHARD_TAG not in r.data.tags),
        key=lambda r: (r.info.start_time or 0, r.info.run_id),
    )


def find_or_create(client: MlflowClient, experiment_id: str, manifest: RunManifest) -> Run:
    """The group's parent run; created (then checked against a concurrent twin) if none."""
    group = manifest.group or ""
    found = _parents(group_runs(client, experiment_id, group))
    if found:
        return found[0]
    tags = {GROUP_TAG: group, f"{TAG_PREFIX}suite": manifest.suite.name}
    # the start time orders twins: the creation time, not the shard's own start
    began = time.monotonic()
    mine = client.create_run(
        experiment_id,
        start_time=int(time.time() * 1000),
        tags=tags,
        run_name=group_name(manifest),
    )
    # a twin whose search also came up empty is created about one request later: wait for
    # it before looking again, so both sides see both and agree now, not only at reconcile
    time.sleep(min(SETTLE_MAX_S, max(SETTLE_MIN_S, 2 * (time.monotonic() - began))))
    first = (_parents(group_runs(client, experiment_id, group)) or [mine])[0]
    if first.info.run_id != mine.info.run_id:
        client.delete_run(mine.info.run_id)  # another job's came first: use theirs
    return first


def reconcile(client: MlflowClient, experiment_id: str, group: str) -> Run | None:
    """Shard runs under a duplicate parent move to the group's first one; the duplicates
    (unless a merged run holds one) are deleted. Returns the group's parent."""
    runs = group_runs(client, experiment_id, group)
    parents = _parents(runs)
    if not parents:
        return None
    first = parents[0]
    for run in runs:
        if SHARD_TAG in run.data.tags and run.data.tags.get(PARENT_TAG) != first.info.run_id:
            client.set_tag(run.info.run_id, PARENT_TAG, first.info.run_id)
    for duplicate in parents[1:]:
        if RUN_ID_TAG not in duplicate.data.tags:
            client.delete_run(duplicate.info.run_id)
    return first


def group_parent(client: MlflowClient, experiment_id: str, manifest: RunManifest) -> Run | None:
    """Where a new run of a group goes: a shard under the returned run, a merged run onto it
    (claimed with its run id). None: a run of its own (no group, or a second merge of the
    group: the first one's figures stay where they are)."""
    if not manifest.group or (manifest.shard is None and not manifest.merged_from):
        return None
    parent = find_or_create(client, experiment_id, manifest)
    if manifest.shard is not None:
        return parent
    parent = reconcile(client, experiment_id, manifest.group) or parent  # the shards ended
    holder = parent.data.tags.get(RUN_ID_TAG)
    if holder is not None and holder != manifest.run_id:
        return None
    client.set_tag(parent.info.run_id, RUN_ID_TAG, manifest.run_id)
    return parent


def end_group(client: MlflowClient, experiment_id: str, group: str, end_ms: int | None) -> None:
    """A shard has ended: tidy the group, and end its parent unless a merged run holds it
    (then the merged run's status is the group's). Each shard's end moves the end time on."""
    parent = reconcile(client, experiment_id, group)
    if parent is not None and RUN_ID_TAG not in parent.data.tags:
        client.set_terminated(parent.info.run_id, status="FINISHED", end_time=end_ms)
