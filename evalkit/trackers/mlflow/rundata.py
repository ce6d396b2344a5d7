"""What of a run goes to MLflow as params, metrics and tags: pure functions of the typed documents.

No mlflow here. A parent run per evalkit run carries the suite, dataset and models as params and
each cell's headline means as `<variant>/<model>/<metric>`; a child run per variant x model
carries its own params, one metric per metric or grader (its mean, rounded) plus latency, tokens,
cost and counts, and the interval of each mean as a tag (`evalkit.ci.<metric>`), so the metric
picker lists what a PO reads and nothing else. Everything is redacted on the way out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from evalkit.records import stable_hash
from evalkit.results.redaction import Redactor
from evalkit.results.schema import (
    CellSummary,
    GateResultDoc,
    MetricStats,
    ModelInfo,
    RunManifest,
    RunSummary,
    VerdictDoc,
)
from evalkit.trackers.mlflow.grader_metrics import grader_metrics

TAG_PREFIX = "evalkit."
GROUP_TAG = f"{TAG_PREFIX}group"  # the shards of one sharded evaluation (groups.py)
SHARD_TAG = f"{TAG_PREFIX}shard"  # a shard run's "I/N"
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")
MAX_VALUE = 6000  # MLflow's limit for a param value
DIGITS = 4  # significant digits of a logged value: 0.7500, not 0.7499999999999999


@dataclass
class RunDocs:
    """The documents of one run as MLflow needs them (records are streamed separately)."""

    manifest: RunManifest
    summary: RunSummary
    suite_text: str = ""
    redactor: Redactor = field(default_factory=Redactor.from_env)

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def suite_name(self) -> str:
        return self.manifest.suite.name

    @property
    def status(self) -> str:
        return self.summary.status

    def fingerprint(self) -> str:
        """Changes when the run's results change (a resumed run), so re-logging it updates."""
        return summary_fingerprint(self.summary)


def summary_fingerprint(summary: RunSummary) -> str:
    verdict = summary.verdict.model_dump(mode="json") if summary.verdict else None
    cells = [c.model_dump(mode="json") for c in summary.cells]
    return stable_hash([summary.counts.model_dump(mode="json"), cells, verdict])


def key(name: str) -> str:
    """A metric/param name MLflow accepts (letters, digits, _ - . space / :)."""
    return _BAD_KEY_CHARS.sub("_", name)[:250]


def rounded(value: float) -> float:
    """A value as people read it (4 significant digits); integers stay integers."""
    if not math.isfinite(value) or value == int(value):
        return float(value)
    return float(f"{value:.{DIGITS}g}")


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_VALUE]


def _clean(run: RunDocs, params: dict[str, Any]) -> dict[str, str]:
    return {key(k): run.redactor.text(_param(v)) for k, v in params.items() if v is not None}


# --- parent run ------------------------------------------------------------------------------


def _common_params(run: RunDocs) -> dict[str, Any]:
    m = run.manifest
    return {
        "suite": m.suite.name,
        "suite_hash": m.suite.hash,
        "dataset": m.dataset.name,
        "dataset_digest": m.dataset.digest,
        "dataset_rows": m.dataset.rows,
        "repeats": m.repeats,
        "evalkit_version": m.evalkit_version or None,
        "git_commit": m.git_commit,
    }


def parent_params(run: RunDocs) -> dict[str, str]:
    m = run.manifest
    params: dict[str, Any] = {
        **_common_params(run),
        "total_items": m.total,
        "variants": ",".join(m.variants),
        "models": ",".join(model.id for model in m.models),
        "metrics": ",".join(metric.name for metric in m.metrics),
    }
    for name, variant in m.variants.items():
        params[f"variant.{name}.hash"] = variant.hash
    for model in m.models:
        params.update(model_params(run, model, prefix=f"model.{model.id}."))
    return _clean(run, params)


def model_params(run: RunDocs, model: ModelInfo, prefix: str = "model.") -> dict[str, Any]:
    params: dict[str, Any] = {
        f"{prefix}id": model.id,
        f"{prefix}provider": model.provider,
        f"{prefix}name": model.model,
    }
    for name, value in model.params.items():
        params[f"{prefix}param.{name}"] = value
    for name, value in run.redactor.mapping(model.options).items():
        params[f"{prefix}option.{name}"] = value
    return params


def parent_metrics(run: RunDocs) -> dict[str, float]:
    """Each cell's metric means as <variant>/<model>/<metric> (first: the UI's columns follow
    the logging order), then the run's counts and cost, then the graders' pairwise,
    calibration and judging figures (see grader_metrics)."""
    metrics: dict[str, float] = {}
    for cell in run.summary.cells:
        prefix = f"{cell.variant}/{cell.model}/"
        for name, stats in cell.metrics.items():
            if stats.mean is not None:
                metrics[key(prefix + name)] = rounded(stats.mean)
    counts = run.summary.counts
    for name in ("total", "done", "errors", "cached"):
        metrics[name] = float(getattr(counts, name))
    metrics["cost"] = rounded(run.summary.cost)
    metrics.update({key(k): rounded(v) for k, v in grader_metrics(run.summary).items()})
    return metrics


def parent_tags(run: RunDocs) -> dict[str, str]:
    m = run.manifest
    tags = {
        "mlflow.runName": run.run_id,
        f"{TAG_PREFIX}run_id": run.run_id,
        f"{TAG_PREFIX}status": run.status,
        f"{TAG_PREFIX}suite": run.suite_name,
        f"{TAG_PREFIX}created_at": m.created_at,
    }
    if m.suite.description:
        tags["mlflow.note.content"] = m.suite.description
    if m.git_commit:
        tags["mlflow.source.git.commit"] = m.git_commit
    for name, value in m.suite.tags.items():
        tags[key(str(name))] = str(value)
    if m.shard is not None and m.group:  # a child of the group's parent (groups.py)
        tags["mlflow.runName"] = f"shard {m.shard.label} · {run.run_id}"
        tags[GROUP_TAG] = m.group
        tags[SHARD_TAG] = m.shard.label
    tags.update(verdict_tags(run.summary.verdict))
    return {k: run.redactor.text(v)[:8000] for k, v in tags.items()}


def verdict_tags(verdict: VerdictDoc | None) -> dict[str, str]:
    """The gate verdict, when the gates have been decided: passed/failed and which gates failed."""
    if verdict is None:
        return {}
    failed = [gate_name(g) for g in verdict.gates if not g.passed]
    tags = {f"{TAG_PREFIX}verdict": "passed" if verdict.passed else "failed"}
    tags[f"{TAG_PREFIX}gates"] = f"{len(verdict.gates) - len(failed)}/{len(verdict.gates)} passed"
    if failed:
        tags[f"{TAG_PREFIX}gates_failed"] = ", ".join(failed)
    for status in ("inconclusive", "not_comparable"):
        named = [gate_name(g) for g in verdict.gates if g.status == status]
        if named:
            tags[f"{TAG_PREFIX}gates_{status}"] = ", ".join(named)
    missing = [
        _missing_text(g) for g in verdict.gates if (g.statistics.get("missing") or {}).get("count")
    ]
    if missing:  # the results a gate counted against the candidate (or left out), by gate
        tags[f"{TAG_PREFIX}gates_missing"] = "; ".join(missing)
    return tags


def _missing_text(gate: GateResultDoc) -> str:
    missing = gate.statistics["missing"]
    return f"{gate_name(gate)}: {missing['count']} missing (missing: {missing.get('policy')})"


def gate_name(gate: GateResultDoc) -> str:
    if gate.name:  # the gates name each result, with its cell ("min-acc [a/m]")
        return gate.name
    name = gate.metric or gate.type or "gate"
    if gate.variant or gate.model:
        name += f" [{gate.variant or '*'}/{gate.model or '*'}]"
    return name


def cell_verdict(verdict: VerdictDoc | None, variant: str, model: str) -> VerdictDoc | None:
    """The verdict restricted to the gates that judged this cell (or every cell)."""
    if verdict is None:
        return None
    gates = [g for g in verdict.gates if g.variant in (None, variant) and g.model in (None, model)]
    if not gates:
        return None
    return VerdictDoc(passed=all(g.passed for g in gates), gates=gates)


# --- one child run per variant x model -------------------------------------------------------


def cell_name(variant: str, model: str) -> str:
    return f"{variant} x {model}"


_GENERATED_ID = re.compile(r"^\d{8}-\d{6}-")


def run_label(manifest: RunManifest) -> str:
    """Which run, in a few characters: a run id the user chose, else when it started."""
    if not _GENERATED_ID.match(manifest.run_id):
        return manifest.run_id
    return manifest.created_at[5:16].replace("T", " ") or manifest.run_id


def cell_run_name(
    variant: str, model: str, prompt_version: str | None = None, label: str = ""
) -> str:
    """What the child run is, then which run: "polite x gpt-4o · prompt v3 · 11-27 10:15" (the
    version in the Prompt Registry), so the same cell of two runs says which prompt each
    evaluated and the "compare to" list tells them apart."""
    parts = [cell_name(variant, model)]
    if prompt_version:
        parts.append(f"prompt v{prompt_version}")
    if label:
        parts.append(label)
    return " · ".join(parts)


def cell_params(run: RunDocs, variant: str, model_id: str) -> dict[str, str]:
    info = run.manifest.variants.get(variant)
    model = run.manifest.model_info(model_id) or ModelInfo(id=model_id, provider="")
    params: dict[str, Any] = {
        **_common_params(run),
        "variant": variant,
        "template_hash": info.hash if info else None,
        **model_params(run, model),
    }
    return _clean(run, params)


def cell_metrics(cell: CellSummary) -> dict[str, float]:
    """One metric per metric or grader (its mean, rounded: all means first, the UI's first
    columns), then latency p50/p95, tokens, cost and the counts."""
    out: dict[str, float] = {}
    for name, stats in cell.metrics.items():
        if stats.mean is not None:
            out[key(name)] = rounded(stats.mean)
    for stat in ("p50", "p95"):
        value = getattr(cell.latency_ms, stat)
        if value is not None:
            out[f"latency_ms.{stat}"] = rounded(value)
    out["tokens.input"] = float(cell.tokens.input)
    out["tokens.output"] = float(cell.tokens.output)
    if cell.cost is not None:
        out["cost.total"] = rounded(cell.cost.total)
        out["cost.per_item"] = rounded(cell.cost.per_item)
    for name in ("items", "errors", "cached"):
        out[name] = float(getattr(cell, name))
    return out


def interval_text(stats: MetricStats) -> str | None:
    """A mean's interval as one tag value: "0.3006 to 0.9544 (95% CI, n=4, 1 unscored)"."""
    if stats.ci_low is None or stats.ci_high is None:
        return None
    notes = [f"{stats.confidence:.0%} CI", f"n={stats.n}"]
    if stats.n_unscored:
        notes.append(f"{stats.n_unscored} unscored")
    if stats.skipped:
        notes.append(f"{stats.skipped} skipped")
    return f"{rounded(stats.ci_low):g} to {rounded(stats.ci_high):g} ({', '.join(notes)})"


def cell_tags(
    run: RunDocs, cell: CellSummary, parent_id: str, prompt_version: str | None = None
) -> dict[str, str]:
    tags = {
        "mlflow.parentRunId": parent_id,
        "mlflow.runName": cell_run_name(
            cell.variant, cell.model, prompt_version, run_label(run.manifest)
        ),
        f"{TAG_PREFIX}run_id": run.run_id,
        f"{TAG_PREFIX}cell": f"{cell.variant}|{cell.model}",
        f"{TAG_PREFIX}variant": cell.variant,
        f"{TAG_PREFIX}model": cell.model,
        f"{TAG_PREFIX}status": run.status,
        **verdict_tags(cell_verdict(run.summary.verdict, cell.variant, cell.model)),
    }
    for name, stats in cell.metrics.items():
        text = interval_text(stats)
        if text:
            tags[key(f"{TAG_PREFIX}ci.{name}")] = text
    return tags
