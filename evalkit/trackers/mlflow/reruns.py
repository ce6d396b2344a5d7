"""A re-run whose results are those of a run already in MLflow is not logged again.

Re-running an unchanged suite on a warm cache gives the same results as the run before it;
logging it would add a duplicate parent run, child runs and thousands of traces to the
experiment, and cost seconds. The runs folder keeps a small index (`mlflow-logged.json`) of
what was logged where, written after each successful logging:

    (tracking URI, experiment) -> inputs fingerprint -> {run_id, results fingerprint}

The inputs fingerprint covers what decides the results (suite, dataset digest, variants,
models and their params, repeats, item count); the results fingerprint covers the outcome
(per cell: items, errors, every metric's mean, n and unscored; the verdict), not timings or
cache counts. A run whose inputs match an entry starts no MLflow work until an item is not
served from the cache; at the end, if its results match too, nothing is logged and the run
says which logged run it equals. Pure file work: no mlflow import.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from evalkit.records import stable_hash
from evalkit.results.schema import RunManifest, RunSummary

INDEX = "mlflow-logged.json"
MAX_ENTRIES = 200  # per target: the newest win


def inputs_fingerprint(manifest: RunManifest) -> str:
    models = [[m.id, m.provider, m.model, m.params] for m in manifest.models]
    parts: list[object] = [
        manifest.suite.hash,
        manifest.dataset.digest,
        {name: v.hash for name, v in manifest.variants.items()},
        models,
        manifest.repeats,
        manifest.total,
    ]
    if manifest.shard is not None:  # shards of equal size are no re-runs of each other
        parts.append([manifest.shard.label, manifest.group])
    return stable_hash(parts)


def results_fingerprint(summary: RunSummary) -> str:
    cells = [
        [
            c.variant,
            c.model,
            c.items,
            c.errors,
            {k: [m.mean, m.n, m.n_unscored] for k, m in sorted(c.metrics.items())},
        ]
        for c in summary.cells
    ]
    verdict = None
    if summary.verdict is not None:
        verdict = [summary.verdict.passed, [[g.name, g.status] for g in summary.verdict.gates]]
    return stable_hash([summary.status, summary.counts.total, cells, verdict])


def target_key(uri: str, experiment: str) -> str:
    return f"{uri} {experiment}"


def find(runs_dir: Path, target: str, manifest: RunManifest) -> dict[str, Any] | None:
    """The logged run with the same inputs (another run id), or None."""
    entry = _read(runs_dir).get(target, {}).get(inputs_fingerprint(manifest))
    if not isinstance(entry, dict) or entry.get("run_id") == manifest.run_id:
        return None
    return entry


def remember(runs_dir: Path, target: str, manifest: RunManifest, summary: RunSummary) -> None:
    """Record a successful logging (a lost race with another job only loses an entry)."""
    data = _read(runs_dir)
    entries = data.setdefault(target, {})
    entries.pop(inputs_fingerprint(manifest), None)
    entries[inputs_fingerprint(manifest)] = {
        "run_id": manifest.run_id,
        "results": results_fingerprint(summary),
    }
    for stale in list(entries)[:-MAX_ENTRIES]:
        del entries[stale]
    runs_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{INDEX}.", dir=runs_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, runs_dir / INDEX)


def _read(runs_dir: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((runs_dir / INDEX).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}
