"""Log one evalkit run to MLflow in three steps, so the work can overlap the run itself.

    logger = MlflowLogger.connect(target)          # import, store, experiment
    logger.begin(manifest, suite_text, run_dir)    # parent and child runs, params, prompts
    logger.add(records)                            # traces and table rows, in batches
    logged = logger.finish(summary)                # metrics, tags, tables, files, end

A parent run per evalkit run, a child per variant x model; the shards of one sharded
evaluation are children of one group parent, which the merged run's figures go to (groups.py).
Logging is idempotent by evalkit run id (tag `evalkit.run_id`): a run logged again updates the
same MLflow runs (its earlier traces are replaced), and `unchanged()` tells when there is
nothing to do. Call inside an `mlflow_session` (session.py); mlflow is imported only here and
below.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
from evalkit.trackers.mlflow import rundata as rd
from evalkit.trackers.mlflow.config import TrackingTarget
from evalkit.trackers.mlflow.runs import (
    ensure_experiment,
    epoch_ms,
    find_children,
    find_parent,
    log_values,
)
from evalkit.trackers.mlflow.slice_metrics import slice_values
from evalkit.trackers.mlflow.traces import TraceParts, trace_parts, traced

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from evalkit.results.store import StoredRun
    from evalkit.trackers.mlflow.prompts import PromptVersion

STATUS = {"complete": "FINISHED", "interrupted": "KILLED"}  # anything else: FAILED
TRACE_BATCH = 200  # items per trace write while the run goes
FLUSH_S = 1.0  # ... or as many as came in this long
FINGERPRINT = f"{rd.TAG_PREFIX}fingerprint"


@dataclass
class LoggedRun:
    """Where a run was logged."""

    run_id: str
    uri: str
    experiment: str
    experiment_id: str
    mlflow_run_id: str = ""
    children: dict[str, str] = field(default_factory=dict)  # "variant x model" -> run id
    prompts: dict[str, str] = field(default_factory=dict)  # variant -> prompts:/name/version
    traces: int = 0
    skipped: bool = False  # already logged with the same results
    seconds: float = 0.0

    @property
    def url(self) -> str | None:
        """The run's page in the UI (servers only; a local store is browsed with `evalkit ui`)."""
        if not self.uri.startswith(("http://", "https://")):
            return None
        base = self.uri.rstrip("/")
        return f"{base}/#/experiments/{self.experiment_id}/runs/{self.mlflow_run_id}"


@dataclass
class _Cell:
    run_id: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # item key -> table row


class MlflowLogger:
    def __init__(self, client: MlflowClient, target: TrackingTarget, experiment_id: str) -> None:
        self.client = client
        self.target = target
        self.experiment_id = experiment_id
        self.sql = not target.uri.startswith(("http://", "https://", "databricks"))
        self.started = time.perf_counter()
        self.docs: rd.RunDocs | None = None
        self.logged: LoggedRun | None = None
        self.cells: dict[tuple[str, str], _Cell] = {}
        self.fresh = True
        self.on_group = False  # the parent is a shard group's (a merged run logged there)
        self.pending: list[TraceParts] = []
        self.examples: dict[str, ResultRecord] = {}  # variant -> one record, for its rendering
        self.dataset: dict[str, dict[str, Any]] = {}
        self.seen: set[str] = set()  # item keys traced (a retried item replaces its trace)
        self.order = 0
        self.flushed = time.monotonic()
        self.run_dir = Path()

    @classmethod
    def connect(cls, target: TrackingTarget) -> MlflowLogger:
        from mlflow import MlflowClient

        from evalkit.trackers.mlflow.localstore import ensure_store
        from evalkit.trackers.mlflow.session import check_reachable

        check_reachable(target)
        ensure_store(target)
        client = MlflowClient(target.uri)
        return cls(client, target, ensure_experiment(client, target))

    # --- the three steps ---------------------------------------------------------------------

    def unchanged(self, docs: rd.RunDocs) -> LoggedRun | None:
        """The logged run when it was logged with these very results (nothing to do)."""
        existing = find_parent(self.client, self.experiment_id, docs.run_id)
        if existing is None or existing.data.tags.get(FINGERPRINT) != docs.fingerprint():
            return None
        logged = self._logged(docs.run_id, existing.info.run_id)
        logged.skipped = True
        return logged

    def begin(self, manifest: RunManifest, suite_text: str, run_dir: Path) -> None:
        """Create (or find again) the parent and child runs, with params and prompt versions."""
        summary = RunSummary(run_id=manifest.run_id, suite=manifest.suite.name)
        self.docs = docs = rd.RunDocs(manifest, summary, suite_text)
        self.run_dir = run_dir
        existing = find_parent(self.client, self.experiment_id, manifest.run_id)
        self.fresh = existing is None
        parent = existing or self._create_parent(manifest)
        self.on_group = rd.GROUP_TAG in parent.data.tags and rd.SHARD_TAG not in parent.data.tags
        self.logged = self._logged(manifest.run_id, parent.info.run_id)
        if not self.fresh:  # logged before: its traces are replaced, not duplicated
            from evalkit.trackers.mlflow.trace_sinks import delete_traces, run_trace_ids

            old = run_trace_ids(self.client, self.experiment_id, manifest.run_id)
            delete_traces(self.client, self.experiment_id, old)
        tags = {**self._parent_tags(docs), f"{rd.TAG_PREFIX}status": "running"}
        log_values(self.client, parent, rd.parent_params(docs), {}, tags)
        versions = self._prompts() if self.target.register_prompts else {}
        self._children(parent, versions)

    def add(self, records: Iterable[ResultRecord]) -> None:
        """Items as they finish: table rows now, traces in batches of TRACE_BATCH."""
        from evalkit.trackers.mlflow.tables import result_row

        docs = self._docs()
        for record in records:
            cell = self.cells.get(record.cell)
            if cell is None:
                continue
            cell.rows[record.key] = result_row(record, docs.redactor)  # a retry replaces
            self.examples.setdefault(record.variant, record)
            self.dataset.setdefault(record.example_id, record.inputs or {})
            self.order += 1
            if traced(record, self.target.traces, docs.manifest.total, self.logged_traces()):
                self._trace(record, cell)
        # a full batch, or whatever came in a slow run: the UI fills while the run goes
        stale = time.monotonic() - self.flushed > FLUSH_S
        if len(self.pending) >= TRACE_BATCH or (self.pending and stale):
            self.flush()

    def flush(self) -> None:
        from evalkit.trackers.mlflow.trace_sinks import write_traces

        batch, self.pending = self.pending, []
        self.flushed = time.monotonic()
        self.sql = write_traces(self.client, self.experiment_id, batch, sql=self.sql)
        self._logged_run().traces += len(batch)

    def finish(self, summary: RunSummary) -> LoggedRun:
        """Metrics, tags, tables, files and the end of every run; the fingerprint goes last, so
        a logging that failed half-way is done again next time."""
        from evalkit.trackers.mlflow.artifacts import log_dataset, log_parent_artifacts

        self.flush()
        docs = self._docs()
        docs.summary = summary
        logged = self._logged_run()
        parent = self.client.get_run(logged.mlflow_run_id)
        log_values(self.client, parent, {}, rd.parent_metrics(docs), self._parent_tags(docs))
        self._finish_cells(summary)
        log_parent_artifacts(self.client, parent.info.run_id, docs, self.run_dir, self.examples)
        self._table(parent.info.run_id, [r for c in self.cells.values() for r in c.rows.values()])
        run_ids = [parent.info.run_id, *(c.run_id for c in self.cells.values())]
        log_dataset(self.client, run_ids, docs, self.dataset)
        end = epoch_ms(summary.finished_at)
        for run_id in run_ids:
            self.client.set_terminated(
                run_id, status=STATUS.get(summary.status, "FAILED"), end_time=end
            )
        self.client.set_tag(parent.info.run_id, FINGERPRINT, docs.fingerprint())
        if docs.manifest.shard is not None and docs.manifest.group:
            from evalkit.trackers.mlflow.groups import end_group

            end_group(self.client, self.experiment_id, docs.manifest.group, end)
        logged.seconds = time.perf_counter() - self.started
        return logged

    def abort(self) -> None:
        """The run died without a summary: keep its traces, end its MLflow runs as failed (no
        fingerprint, so `evalkit log` completes it later)."""
        self.flush()
        logged = self._logged_run()
        for run_id in [logged.mlflow_run_id, *(c.run_id for c in self.cells.values())]:
            self.client.set_terminated(run_id, status="FAILED")

    # --- pieces ------------------------------------------------------------------------------

    def logged_traces(self) -> int:
        return self._logged_run().traces + len(self.pending)

    def _trace(self, record: ResultRecord, cell: _Cell) -> None:
        docs = self._docs()
        if record.key in self.seen:  # a retried item (resumed run): its new trace replaces it
            from evalkit.trackers.mlflow.trace_sinks import delete_traces
            from evalkit.trackers.mlflow.traces import trace_id_for

            self.flush()
            delete_traces(self.client, self.experiment_id, [trace_id_for(docs.run_id, record.key)])
            self._logged_run().traces -= 1
        self.seen.add(record.key)
        start = (epoch_ms(docs.manifest.created_at) or int(time.time() * 1000)) + self.order
        self.pending.append(
            trace_parts(
                record,
                source_run=cell.run_id,
                start_ms=start,
                redactor=docs.redactor,
                repeats=docs.manifest.repeats,
            )
        )

    def _prompts(self) -> dict[str, PromptVersion]:
        from evalkit.trackers.mlflow.prompts import register_variants

        docs, logged = self._docs(), self._logged_run()
        manifest = docs.manifest
        versions = register_variants(
            self.client, manifest.suite.name, docs.run_id, manifest.variants
        )
        for name, version in versions.items():
            self.client.link_prompt_version_to_run(logged.mlflow_run_id, version.entity)
            logged.prompts[name] = version.uri
        return versions

    def _children(self, parent: Run, versions: dict[str, PromptVersion]) -> None:
        from evalkit.results.schema import CellSummary
        from evalkit.trackers.mlflow.artifacts import log_text, variant_text
        from evalkit.trackers.mlflow.prompts import description

        docs, logged = self._docs(), self._logged_run()
        existing = (
            {} if self.fresh else find_children(self.client, self.experiment_id, parent.info.run_id)
        )
        for variant in docs.manifest.variants:
            version = versions.get(variant)
            label = version.version if version else None
            for model in docs.manifest.models:
                cell = CellSummary(variant=variant, model=model.id)
                tags = rd.cell_tags(docs, cell, parent.info.run_id, label)
                tags[f"{rd.TAG_PREFIX}status"] = "running"
                if version is not None:
                    tags["mlflow.note.content"] = description(version)
                child = existing.get(tags[f"{rd.TAG_PREFIX}cell"]) or self._create(
                    docs.manifest, tags["mlflow.runName"], tags
                )
                log_values(self.client, child, rd.cell_params(docs, variant, model.id), {}, tags)
                run_id = child.info.run_id
                log_text(self.client, run_id, variant_text(docs, variant), "prompt.txt")
                if version is not None:
                    self.client.link_prompt_version_to_run(run_id, version.entity)
                    if version.diff:
                        log_text(self.client, run_id, version.diff + "\n", "prompt.diff")
                self.cells[(variant, model.id)] = _Cell(run_id)
                logged.children[rd.cell_name(variant, model.id)] = run_id

    def _finish_cells(self, summary: RunSummary) -> None:
        docs = self._docs()
        for cell in summary.cells:
            found = self.cells.get((cell.variant, cell.model))
            if found is None:
                continue
            child = self.client.get_run(found.run_id)
            tags = rd.cell_tags(docs, cell, self._logged_run().mlflow_run_id)
            tags.pop("mlflow.runName")  # named at creation, with its prompt version
            sliced, slice_tags = slice_values(cell)  # group_by: bounded, sanitised names
            log_values(self.client, child, {}, rd.cell_metrics(cell) | sliced, tags | slice_tags)
            self._table(found.run_id, list(found.rows.values()))

    def _table(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        from evalkit.trackers.mlflow.artifacts import log_table

        if rows:
            log_table(self.client, run_id, rows, self.fresh)

    def _create_parent(self, manifest: RunManifest) -> Run:
        """A parent run of its own; for a shard, a child of its group's parent; a merged run
        takes the group's parent itself (groups.py)."""
        from evalkit.trackers.mlflow.groups import group_parent

        group = group_parent(self.client, self.experiment_id, manifest)
        if group is None:
            return self._create(manifest, manifest.run_id, {})
        if manifest.shard is not None:
            parent = {"mlflow.parentRunId": group.info.run_id}
            return self._create(manifest, manifest.run_id, parent)
        return group

    def _parent_tags(self, docs: rd.RunDocs) -> dict[str, str]:
        tags = rd.parent_tags(docs)
        if self.on_group:  # a merged run on its group's parent: that keeps its name
            tags.pop("mlflow.runName", None)
        return tags

    def _create(self, manifest: RunManifest, name: str, tags: dict[str, str]) -> Run:
        # the MLflow run starts when the evalkit run started, so the UI's dates are the run's
        start = epoch_ms(manifest.created_at)
        return self.client.create_run(
            self.experiment_id, start_time=start, tags=tags, run_name=name
        )

    def _logged(self, run_id: str, mlflow_run_id: str) -> LoggedRun:
        target = self.target
        return LoggedRun(
            run_id, target.display_uri, target.experiment, self.experiment_id, mlflow_run_id
        )

    def _docs(self) -> rd.RunDocs:
        assert self.docs is not None, "begin() first"
        return self.docs

    def _logged_run(self) -> LoggedRun:
        assert self.logged is not None, "begin() first"
        return self.logged


def log_stored_run(run: StoredRun, target: TrackingTarget, force: bool = False) -> LoggedRun:
    """Log a finished run from its documents, in this process (`evalkit log`, baselines);
    raises on any MLflow error (callers decide how to warn)."""
    from evalkit.trackers.mlflow import reruns
    from evalkit.trackers.mlflow.session import mlflow_session

    with mlflow_session(target.uri):
        logger = MlflowLogger.connect(target)
        docs = rd.RunDocs(run.manifest, run.summary, run.suite_text)
        same = None if force else logger.unchanged(docs)
        if same is not None:
            same.seconds = time.perf_counter() - logger.started
            return same
        logger.begin(run.manifest, run.suite_text, run.run_dir)
        logger.add(run.records())
        logged = logger.finish(run.summary)
    key = reruns.target_key(target.display_uri, target.experiment)
    reruns.remember(run.run_dir.parent, key, run.manifest, run.summary)
    return logged
