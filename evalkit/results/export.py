"""Runs as flat tables for BI tools (Power BI, Tableau, pandas): tidy long, or wide per item.

Long (the default): one row per example x variant x model x repeat x metric (metrics and item
graders alike), with the run's id, suite, suite hash, prompt version (the variant's hash),
timestamps and tags on every row, and the score's value, passed and reason. Nothing is dropped:
an item whose call failed still has one row per metric, with status "error" and the error, so a
pass rate computed in the BI tool counts it. Row count = items x metrics, exactly.

    status   scored | unscored (no value, reason says why) | skipped | missing | error

Wide: one row per item, with its dataset columns (`input_<column>`), the prompt as sent, the
output, and `score_<metric>_value` / `_passed` / `_reason`. Several runs stack into one table.
Column names hold no dots (BI tools and MLflow read dots as nesting).

    frame = export_frame([load_run(Path("runs/a")), load_run(Path("runs/b"))])
    write_export(frame, Path("evalkit.parquet"), "parquet")
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evalkit.results.redaction import Redactor
from evalkit.results.schema import ResultRecord, ScoreDoc
from evalkit.results.store import StoredRun
from evalkit.results.tables import column_name

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["csv", "parquet"]
TIMESTAMPS = ("run_started_at", "run_finished_at")


def score_names(run: StoredRun) -> list[str]:
    """The run's metric and item-grader names: the manifest's metrics, then what records hold."""
    names = [m.name for m in run.manifest.metrics]
    names += [n for r in run.records() for n in r.scores]
    return list(dict.fromkeys(names))


def run_columns(run: StoredRun, tag_columns: dict[str, str]) -> dict[str, Any]:
    """What every row of a run repeats: ids, suite, hashes, timestamps, status, tags."""
    m, s = run.manifest, run.summary
    row: dict[str, Any] = {
        "run_id": m.run_id,
        "suite": m.suite.name,
        "suite_hash": m.suite.hash,
        "dataset": m.dataset.name,
        "dataset_digest": m.dataset.digest,
        "run_started_at": m.created_at or None,
        "run_finished_at": s.finished_at or None,
        "run_status": s.status,
        "evalkit_version": m.evalkit_version,
        "git_commit": m.git_commit,
    }
    for key, column in tag_columns.items():
        row[column] = m.suite.tags.get(key)
    return row


def item_columns(run: StoredRun, record: ResultRecord) -> dict[str, Any]:
    variant = run.manifest.variants.get(record.variant)
    model = run.manifest.model_info(record.model)
    return {
        "example_id": record.example_id,
        "variant": record.variant,
        "prompt_version": variant.hash if variant else None,
        "model": record.model,
        "model_provider": model.provider if model else None,
        "model_name": model.model if model else None,
        "repeat": record.repeat,
    }


def usage_columns(record: ResultRecord) -> dict[str, Any]:
    return {
        "latency_ms": record.latency_ms,
        "cost": record.cost,
        "input_tokens": record.usage.input_tokens,
        "output_tokens": record.usage.output_tokens,
        "cached": record.cached,
    }


def score_status(record: ResultRecord, score: ScoreDoc | None) -> str:
    if record.error is not None:
        return "error"
    if score is None:
        return "missing"
    if score.skipped:
        return "skipped"
    return "unscored" if score.value is None else "scored"


def long_rows(
    run: StoredRun, tag_columns: dict[str, str], redactor: Redactor
) -> Iterator[dict[str, Any]]:
    """One row per item x metric (see the module docstring)."""
    base = run_columns(run, tag_columns)
    names: list[str | None] = [*score_names(run)] or [None]
    types = {m.name: m.type for m in run.manifest.metrics}
    types |= {g.name: f"grader:{g.type}" for g in run.manifest.graders}
    for record in run.records():
        item = {**base, **item_columns(run, record)}
        error = redactor.text(record.error) if record.error is not None else None
        for name in names:
            score = record.scores.get(name) if name is not None else None
            yield {
                **item,
                "metric": name,
                "metric_type": types.get(name) if name is not None else None,
                "status": score_status(record, score) if name is not None else _ok(record),
                "value": score.value if score else None,
                "passed": score.passed if score else None,
                "reason": redactor.text(score.reason) if score and score.reason else None,
                "error": error,
                **usage_columns(record),
            }


def _ok(record: ResultRecord) -> str:
    return "ok" if record.error is None else "error"


def wide_rows(
    run: StoredRun,
    tag_columns: dict[str, str],
    input_columns: dict[str, str],
    score_columns: dict[str, str],
    redactor: Redactor,
) -> Iterator[dict[str, Any]]:
    """One row per item: dataset row, prompt, output, usage, each score's value/passed/reason."""
    base = run_columns(run, tag_columns)
    for record in run.records():
        row = {**base, **item_columns(run, record), "status": _ok(record)}
        row["error"] = redactor.text(record.error) if record.error is not None else None
        inputs = record.inputs or {}
        for key, column in input_columns.items():
            row[column] = redactor.value(inputs.get(key))
        row["prompt"] = redactor.text(prompt_text(record.messages))
        row["output"] = redactor.text(record.output) if record.output is not None else None
        row.update(usage_columns(record))
        for name, column in score_columns.items():
            score = record.scores.get(name)
            row[f"{column}_value"] = score.value if score else None
            row[f"{column}_passed"] = score.passed if score else None
            reason = score.reason if score else None
            row[f"{column}_reason"] = redactor.text(reason) if reason else None
        yield row


def prompt_text(messages: list[dict[str, Any]] | None) -> str:
    """The messages as sent, every role included ("[system]\\n...\\n\\n[user]\\n...")."""
    return "\n\n".join(f"[{m.get('role', '')}]\n{m.get('content', '')}" for m in messages or [])


def unique_columns(prefix: str, names: Iterable[str], taken: set[str]) -> dict[str, str]:
    """name -> column (`prefix` + the name without dots or spaces), never one already taken."""
    out: dict[str, str] = {}
    for name in dict.fromkeys(names):
        column = base = f"{prefix}{column_name(str(name))}"
        n = 2
        while column in taken:
            column, n = f"{base}_{n}", n + 1
        taken.add(column)
        out[name] = column
    return out


def export_frame(
    runs: list[StoredRun], *, wide: bool = False, redactor: Redactor | None = None
) -> pd.DataFrame:
    """The runs as one table (long by default, `wide=True` for one row per item)."""
    import pandas as pd

    redactor = redactor or Redactor()
    taken = {"status", "error", "prompt", "output", "metric", "value", "passed", "reason"}
    tags = unique_columns("tag_", (k for r in runs for k in r.manifest.suite.tags), taken)
    rows: list[dict[str, Any]] = []
    if wide:
        inputs = unique_columns("input_", (k for r in runs for k in _input_keys(r)), taken)
        scores = unique_columns("score_", (n for r in runs for n in score_names(r)), taken)
        for run in runs:
            rows.extend(wide_rows(run, tags, inputs, scores, redactor))
    else:
        for run in runs:
            rows.extend(long_rows(run, tags, redactor))
    return typed(pd.DataFrame(rows))


def _input_keys(run: StoredRun) -> list[str]:
    return list(dict.fromkeys(k for r in run.records() for k in (r.inputs or {})))


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as datetimes; a column mixing kinds (3 and "3", or a list) as text, so that
    Parquet can hold it and a BI tool reads one type per column."""
    import pandas as pd

    from evalkit.results.examples import value_text

    for column in TIMESTAMPS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    for column in frame.select_dtypes(include="object").columns:
        kinds = {type(v) for v in frame[column] if v is not None and v == v}
        if len(kinds) > 1 or kinds & {dict, list, tuple}:
            frame[column] = [None if v is None else value_text(v) for v in frame[column]]
    return frame


def write_export(frame: pd.DataFrame, path: Path, fmt: Format) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def infer_format(path: Path, fmt: str | None) -> Format:
    """--format when given, else from the file name (.parquet/.pq), else CSV."""
    if fmt is not None:
        return "parquet" if fmt == "parquet" else "csv"
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
