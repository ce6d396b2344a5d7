"""A finished (or interrupted) run directory, read back, and what of it goes to a tracker.

Everything here is pure (no mlflow): params, metrics and tags of the parent run and of each
variant x model cell are plain dicts, already redacted, so they are easy to test and to batch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError
from evalkit.records import stable_hash
from evalkit.results.redaction import Redactor
from evalkit.results.store import MANIFEST, RunStore
from evalkit.trackers.mlflow.grader_metrics import grader_metrics

TAG_PREFIX = "evalkit."
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")
MAX_VALUE = 6000  # MLflow's limit for a param value


@dataclass
class RunData:
    run_dir: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]]
    suite_text: str
    redactor: Redactor = field(default_factory=Redactor.from_env)

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def suite_name(self) -> str:
        return str(self.manifest["suite"]["name"])

    @property
    def status(self) -> str:
        return str(self.summary.get("status", "unknown"))

    def fingerprint(self) -> str:
        """Changes when the run's results change (a resumed run), so re-logging it updates."""
        return summary_fingerprint(self.summary)

    @property
    def verdict(self) -> dict[str, Any] | None:
        verdict = self.summary.get("verdict")
        return verdict if isinstance(verdict, dict) else None

    def cell_records(self, variant: str, model: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["variant"] == variant and r["model"] == model]


def summary_fingerprint(summary: dict[str, Any]) -> str:
    verdict = summary.get("verdict")
    verdict = verdict if isinstance(verdict, dict) else None
    return stable_hash([summary.get("counts"), summary.get("cells"), verdict])


def load_run(run_dir: Path) -> RunData:
    """Read runs/<run_id>/; a run without summary.json (killed hard) is summarised as partial.

    The MLflow writers read plain JSON (the documents' on-disk form, NaN as null)."""
    store = RunStore(run_dir.parent, run_dir.name)
    if not (run_dir / MANIFEST).is_file():
        raise SuiteError(f"{run_dir} is not an evalkit run (no {MANIFEST})")
    summary = store.summary()
    plain_summary: dict[str, Any] = (
        _plain(summary)
        if summary is not None
        else {"status": "incomplete", "cells": [], "counts": {}}
    )
    return RunData(
        run_dir=run_dir,
        manifest=_plain(store.manifest()),
        summary=plain_summary,
        records=[_plain(r) for r in store.records()],
        suite_text=store.suite_text(),
    )


def _plain(doc: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(doc.model_dump_json())
    return data


def key(name: str) -> str:
    """A metric/param name MLflow accepts (letters, digits, _ - . space / :)."""
    return _BAD_KEY_CHARS.sub("_", name)[:250]


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_VALUE]


# --- parent run ------------------------------------------------------------------------------


def parent_params(run: RunData) -> dict[str, str]:
    m = run.manifest
    params: dict[str, Any] = {
        "suite": m["suite"]["name"],
        "suite_hash": m["suite"].get("hash"),
        "dataset": m["dataset"].get("name"),
        "dataset_digest": m["dataset"].get("digest"),
        "dataset_rows": m["dataset"].get("rows"),
        "repeats": m.get("repeats"),
        "total_items": m.get("total"),
        "evalkit_version": m.get("evalkit_version"),
        "git_commit": m.get("git_commit"),
        "variants": ",".join(m.get("variants", {})),
        "models": ",".join(model["id"] for model in m.get("models", [])),
        "metrics": ",".join(metric["name"] for metric in m.get("metrics", [])),
    }
    for name, variant in m.get("variants", {}).items():
        params[f"variant.{name}.hash"] = variant.get("hash")
    for model in m.get("models", []):
        params.update(model_params(run, model, prefix=f"model.{model['id']}."))
    return _clean(run, params)


def model_params(run: RunData, model: dict[str, Any], prefix: str = "model.") -> dict[str, Any]:
    params = {
        f"{prefix}id": model["id"],
        f"{prefix}provider": model.get("provider"),
        f"{prefix}name": model.get("model"),
    }
    for name, value in (model.get("params") or {}).items():
        params[f"{prefix}param.{name}"] = value
    options = run.redactor.mapping(model.get("options") or {})
    for name, value in options.items():
        params[f"{prefix}option.{name}"] = value
    return params


def _clean(run: RunData, params: dict[str, Any]) -> dict[str, str]:
    return {key(k): run.redactor.text(_param(v)) for k, v in params.items() if v is not None}


def parent_metrics(run: RunData) -> dict[str, float]:
    """Each cell's metric means as <variant>/<model>/<metric> (first: the UI's columns follow
    the logging order), then the run's counts and cost, then the graders' pairwise,
    calibration and judging figures (see grader_metrics)."""
    metrics: dict[str, float] = {}
    for cell in run.summary.get("cells", []):
        prefix = f"{cell['variant']}/{cell['model']}/"
        for name, stats in (cell.get("metrics") or {}).items():
            if stats.get("mean") is not None:
                metrics[key(prefix + name)] = float(stats["mean"])
    counts = run.summary.get("counts") or {}
    for name in ("total", "done", "errors", "cached"):
        if name in counts:
            metrics[name] = float(counts[name])
    if run.summary.get("cost") is not None:
        metrics["cost"] = float(run.summary["cost"])
    metrics.update({key(name): value for name, value in grader_metrics(run.summary).items()})
    return metrics


def parent_tags(run: RunData) -> dict[str, str]:
    m = run.manifest
    tags = {
        "mlflow.runName": run.run_id,
        f"{TAG_PREFIX}run_id": run.run_id,
        f"{TAG_PREFIX}status": run.status,
        f"{TAG_PREFIX}suite": run.suite_name,
        f"{TAG_PREFIX}created_at": str(m.get("created_at", "")),
    }
    if m["suite"].get("description"):
        tags["mlflow.note.content"] = str(m["suite"]["description"])
    if m.get("git_commit"):
        tags["mlflow.source.git.commit"] = str(m["git_commit"])
    for name, value in (m["suite"].get("tags") or {}).items():
        tags[key(str(name))] = str(value)
    tags.update(verdict_tags(run.verdict))
    return {k: run.redactor.text(v)[:8000] for k, v in tags.items()}


def verdict_tags(verdict: dict[str, Any] | None) -> dict[str, str]:
    """The gate verdict, when the gates have been decided: passed/failed and which gates failed."""
    if verdict is None:
        return {}
    gates = verdict.get("gates") or []
    failed = [_gate_name(g) for g in gates if isinstance(g, dict) and g.get("passed") is False]
    tags = {f"{TAG_PREFIX}verdict": "passed" if verdict.get("passed") else "failed"}
    tags[f"{TAG_PREFIX}gates"] = f"{len(gates) - len(failed)}/{len(gates)} passed"
    if failed:
        tags[f"{TAG_PREFIX}gates_failed"] = ", ".join(failed)
    return tags


def _gate_name(gate: dict[str, Any]) -> str:
    if gate.get("name"):  # the gates name each result, with its cell ("min-acc [a/m]")
        return str(gate["name"])
    name = str(gate.get("metric") or gate.get("type") or "gate")
    if gate.get("variant") or gate.get("model"):
        name += f" [{gate.get('variant') or '*'}/{gate.get('model') or '*'}]"
    return name


def cell_verdict(verdict: dict[str, Any] | None, cell: dict[str, Any]) -> dict[str, Any] | None:
    """The verdict restricted to the gates that judged this cell (or every cell)."""
    if verdict is None:
        return None
    gates = [
        g
        for g in verdict.get("gates") or []
        if isinstance(g, dict)
        and g.get("variant") in (None, cell["variant"])
        and g.get("model") in (None, cell["model"])
    ]
    if not gates:
        return None
    return {"passed": all(g.get("passed") is not False for g in gates), "gates": gates}


# --- one child run per variant x model -------------------------------------------------------


def cell_name(cell: dict[str, Any]) -> str:
    return f"{cell['variant']} x {cell['model']}"


def cell_run_name(run: RunData, cell: dict[str, Any]) -> str:
    """The child run's name: the cell and when its run started, so that comparing the same
    cell of two runs in the UI says which is which."""
    stamp = str(run.manifest.get("created_at", ""))[5:16].replace("T", " ")
    return f"{cell_name(cell)} ({stamp})" if stamp else cell_name(cell)


def cell_params(run: RunData, cell: dict[str, Any]) -> dict[str, str]:
    m = run.manifest
    variant = m.get("variants", {}).get(cell["variant"], {})
    model = next(
        (x for x in m.get("models", []) if x["id"] == cell["model"]), {"id": cell["model"]}
    )
    params: dict[str, Any] = {
        "suite": m["suite"]["name"],
        "suite_hash": m["suite"].get("hash"),
        "variant": cell["variant"],
        "template_hash": variant.get("hash"),
        "dataset": m["dataset"].get("name"),
        "dataset_digest": m["dataset"].get("digest"),
        "dataset_rows": m["dataset"].get("rows"),
        "repeats": m.get("repeats"),
        "evalkit_version": m.get("evalkit_version"),
        "git_commit": m.get("git_commit"),
        **model_params(run, model),
    }
    return _clean(run, params)


def cell_metrics(cell: dict[str, Any]) -> dict[str, float]:
    """Every aggregate with its bounds and n, latency p50/p95, tokens, cost and errors."""
    out: dict[str, float] = {}
    metrics = cell.get("metrics") or {}
    for stat in ("mean", "ci_low", "ci_high", "n", "n_unscored", "skipped", "pass_rate"):
        for name, stats in metrics.items():  # all means first: the UI's first columns
            if isinstance(stats.get(stat), int | float):
                out[key(name) if stat == "mean" else f"{key(name)}.{stat}"] = float(stats[stat])
    for stat in ("mean", "p50", "p95"):
        value = (cell.get("latency_ms") or {}).get(stat)
        if value is not None:
            out[f"latency_ms.{stat}"] = float(value)
    for stat, value in (cell.get("tokens") or {}).items():
        out[f"tokens.{stat}"] = float(value)
    cost = cell.get("cost")
    if cost:
        out["cost.total"] = float(cost["total"])
        out["cost.per_item"] = float(cost["per_item"])
    for name in ("items", "errors", "cached"):
        if name in cell:
            out[name] = float(cell[name])
    return out


def cell_tags(run: RunData, cell: dict[str, Any], parent_id: str) -> dict[str, str]:
    return {
        "mlflow.parentRunId": parent_id,
        "mlflow.runName": cell_run_name(run, cell),
        f"{TAG_PREFIX}run_id": run.run_id,
        f"{TAG_PREFIX}cell": f"{cell['variant']}|{cell['model']}",
        f"{TAG_PREFIX}variant": cell["variant"],
        f"{TAG_PREFIX}model": cell["model"],
        f"{TAG_PREFIX}status": run.status,
        **verdict_tags(cell_verdict(run.verdict, cell)),
    }
