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
from evalkit.results.schema import ResultRecord
from evalkit.trackers.mlflow.rundata import RunDocs
from evalkit.trackers.mlflow.tables import last_user_message, results_frame

if TYPE_CHECKING:
    from mlflow import MlflowClient

TABLE_FILE = "evalkit_results.json"
RECORD_FILES = ("results.jsonl", "pairwise.jsonl")  # JSONL a run keeps, uploaded line for line


def log_table(client: MlflowClient, run_id: str, rows: list[dict[str, Any]], fresh: bool) -> None:
    frame = results_frame(rows)
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


def variant_text(docs: RunDocs, variant: str) -> str:
    info = docs.manifest.variants.get(variant)
    return docs.redactor.text(info.template if info else "")


def log_parent_artifacts(
    client: MlflowClient, run_id: str, docs: RunDocs, run_dir: Path, examples: dict[str, Any]
) -> None:
    """suite.yaml, the redacted manifest and summary, the records (results.jsonl,
    pairwise.jsonl), each variant's template and one rendering (`examples`: variant -> record)."""
    redact = docs.redactor
    manifest = docs.manifest.model_copy(
        update={
            "models": [
                m.model_copy(update={"options": redact.mapping(m.options)})
                for m in docs.manifest.models
            ]
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "suite.yaml").write_text(redact.text(docs.suite_text), encoding="utf-8")
        (root / "run.json").write_text(redact.text(manifest.model_dump_json(indent=2)), "utf-8")
        summary = docs.summary.model_dump_json(indent=2)
        (root / "summary.json").write_text(redact.text(summary), "utf-8")
        write_record_files(run_dir, redact, root)
        prompts = root / "prompts"
        prompts.mkdir()
        for name in docs.manifest.variants:
            (prompts / f"{name}.txt").write_text(variant_text(docs, name), encoding="utf-8")
            example = examples.get(name)
            if example is not None:
                _write_json(prompts / f"{name}.rendered.json", rendering(example, redact))
        client.log_artifacts(run_id, str(root))


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


def rendering(record: ResultRecord, redactor: Redactor) -> dict[str, Any]:
    value: dict[str, Any] = {
        "example_id": record.example_id,
        "messages": redactor.value(record.messages or []),
    }
    value["prompt"] = redactor.text(last_user_message(record.messages) or "")
    return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def log_dataset(
    client: MlflowClient, run_ids: list[str], docs: RunDocs, rows: dict[str, dict[str, Any]]
) -> None:
    """The evaluated rows (`rows`: example id -> dataset row) as an MLflow dataset, in each
    run's dataset view."""
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    frame = pd.DataFrame([{"example_id": k, **docs.redactor.mapping(v)} for k, v in rows.items()])
    info = docs.manifest.dataset
    dataset = from_pandas(
        frame.astype(str),  # mixed-type columns would fail MLflow's schema inference
        source=info.path or info.name or "inline",
        name=info.name or "dataset",
        digest=info.digest,
    )
    entity = DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "eval")])
    for run_id in run_ids:
        client.log_inputs(run_id, datasets=[entity])
