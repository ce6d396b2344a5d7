"""What a run leaves in MLflow besides params and metrics: files, the results table, the dataset.

Everything passes through the run's Redactor first: masked options, scrubbed secret values.
results.jsonl and pairwise.jsonl go up as written (secret values scrubbed, nothing else changed):
they are what a regression gate on another machine downloads
(evalkit.trackers.mlflow.baseline_tags).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.results.redaction import Redactor
from evalkit.trackers.mlflow import rundata as rd
from evalkit.trackers.mlflow.tables import last_user_message, results_frame

if TYPE_CHECKING:
    from mlflow import MlflowClient

TABLE_FILE = "evalkit_results.json"
RECORD_FILES = ("results.jsonl", "pairwise.jsonl")  # JSONL a run keeps, uploaded line for line


def log_table(client: MlflowClient, run_id: str, frame: Any, fresh: bool) -> None:
    if fresh:
        client.log_table(run_id, data=frame, artifact_file=TABLE_FILE)
        return
    # log_table appends to an existing table; an updated run replaces it instead
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / TABLE_FILE
        frame.to_json(path, orient="split", index=False, date_format="iso")
        client.log_artifact(run_id, str(path))


def log_text(client: MlflowClient, run_id: str, text: str, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        client.log_artifact(run_id, str(path))


def variant_text(run: rd.RunData, variant: str) -> str:
    return run.redactor.text(
        str(run.manifest.get("variants", {}).get(variant, {}).get("template", ""))
    )


def log_parent_artifacts(client: MlflowClient, run_id: str, run: rd.RunData, fresh: bool) -> None:
    """suite.yaml, the redacted manifest and summary, the records (results.jsonl,
    pairwise.jsonl), each variant's template and one rendering."""
    redact = run.redactor
    manifest = dict(run.manifest)
    manifest["models"] = [
        {**m, "options": redact.mapping(m.get("options") or {})} for m in manifest.get("models", [])
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "suite.yaml").write_text(redact.text(run.suite_text), encoding="utf-8")
        _write_json(root / "run.json", redact.value(manifest))
        _write_json(root / "summary.json", redact.value(run.summary))
        write_record_files(run.run_dir, redact, root)
        prompts = root / "prompts"
        prompts.mkdir()
        for name in run.manifest.get("variants", {}):
            (prompts / f"{name}.txt").write_text(variant_text(run, name), encoding="utf-8")
            example = next((r for r in run.records if r["variant"] == name), None)
            if example is not None:
                _write_json(prompts / f"{name}.rendered.json", _rendering(run, example))
        client.log_artifacts(run_id, str(root))
    log_table(client, run_id, results_frame(run.records, redact), fresh)


def write_record_files(
    run_dir: Path, redactor: Redactor, folder: Path, names: tuple[str, ...] = RECORD_FILES
) -> int:
    """Copy a run's JSONL files into `folder` with secret values scrubbed; how many existed.

    Scrubbing works on the text of each line, so every field (the item `key` included) stays
    as written and the copy reads back exactly like the original."""
    copied = 0
    for name in names:
        source = run_dir / name
        if not source.is_file():
            continue
        with (
            open(source, encoding="utf-8") as src,
            open(folder / name, "w", encoding="utf-8") as out,
        ):
            for line in src:  # streamed: a big run's results need not fit in memory twice
                out.write(redactor.text(line))
        copied += 1
    return copied


def _rendering(run: rd.RunData, record: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = run.redactor.value(
        {"example_id": record["example_id"], "messages": record.get("messages") or []}
    )
    value["prompt"] = run.redactor.text(last_user_message(record.get("messages")) or "")
    return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def log_dataset(client: MlflowClient, run_ids: list[str], run: rd.RunData) -> None:
    """The evaluated rows (one per example) as an MLflow dataset, in each run's dataset view."""
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    rows: dict[str, dict[str, Any]] = {}
    for record in run.records:
        rows.setdefault(str(record["example_id"]), run.redactor.value(record.get("inputs") or {}))
    frame = pd.DataFrame([{"example_id": k, **v} for k, v in rows.items()])
    info = run.manifest.get("dataset", {})
    dataset = from_pandas(
        frame.astype(str),  # mixed-type columns would fail MLflow's schema inference
        source=str(info.get("path") or info.get("name") or "inline"),
        name=str(info.get("name") or "dataset"),
        digest=info.get("digest"),
    )
    entity = DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "eval")])
    for run_id in run_ids:
        client.log_inputs(run_id, datasets=[entity])
