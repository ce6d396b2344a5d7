"""Dataset loaders: jsonl, csv (and tsv), parquet and inline rows, with stable example ids.

Every example keeps the line it came from (1-based file line for jsonl/csv, row number for
parquet and inline rows) so that later errors can point at it. Ids come from `id_field` (strict:
a missing or repeated id is an error), else from an `id` column when every row has a distinct
one, else from a content hash of the row as written (before `rename`), so they survive
reordering and renames; identical rows get "-2", "-3", ... in file order.

Order of operations: read -> rename -> ids -> sample (seeded) -> limit. Sampling keeps file order.

    examples = load_examples(DatasetConfig(path="faq.jsonl", limit=20), Path("suites"))
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import MissingDependencyError, SuiteError
from evalkit.records import Example, stable_hash
from evalkit.suite.loader import LoadedSuite, display_path
from evalkit.suite.schema import DatasetConfig

Row = tuple[int, dict[str, Any]]  # (line or row number, row)
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def load_dataset(loaded: LoadedSuite) -> list[Example]:
    """The examples of a loaded suite (errors point at the suite's `dataset:` line)."""
    if loaded.suite.dataset is None:  # a suite of `tests:` only
        return []
    return load_examples(
        loaded.suite.dataset,
        loaded.base_dir,
        suite_file=loaded.file,
        suite_line=loaded.line_of(("dataset",)),
    )


def load_examples(
    config: DatasetConfig,
    base_dir: Path,
    *,
    suite_file: str | None = None,
    suite_line: int | None = None,
) -> list[Example]:
    """Read, rename, id, sample and limit the rows a dataset config describes."""
    if config.rows is not None:
        rows = [(i, dict(r)) for i, r in enumerate(config.rows, 1)]
        source = Source("inline rows", suite_file, suite_line, inline=True)
    else:
        path = _dataset_path(config, base_dir, suite_file, suite_line)
        source = Source(display_path(path), display_path(path))
        rows = _read_file(path, _format(config, path, suite_file, suite_line))
    if not rows:
        raise SuiteError(
            f"the dataset {source.name} has no rows",
            file=source.file,
            line=source.line,
            hint="add at least one row (one JSON object per line for jsonl)",
        )
    renamed = _rename(rows, config.rename, source)
    examples = _with_ids(rows, renamed, config, source)
    return _sample(examples, config)


@dataclass(frozen=True, slots=True)
class Source:
    """Where rows came from, for messages: a data file, or inline rows in the suite file."""

    name: str
    file: str | None
    line: int | None = None  # the suite's `dataset:` line, for inline rows
    inline: bool = False

    def label(self, number: int) -> str:
        return f"row {number}" if self.inline else f"line {number}"

    def line_of(self, number: int) -> int | None:
        return self.line if self.inline else number


def dataset_digest(examples: list[Example]) -> str:
    """A digest of the examples' ids and contents: equal digests mean the same data."""
    return stable_hash([[e.id, e.row] for e in examples])


def dataset_source(config: DatasetConfig, base_dir: Path) -> str:
    """How messages name the dataset: its path as shown to the user, or "inline rows"."""
    if config.path is None:
        return "inline rows"
    path = Path(config.path).expanduser()
    return display_path(path if path.is_absolute() else base_dir / path)


def dataset_name(config: DatasetConfig) -> str:
    """The dataset's display name: `name`, else the file's stem, else "inline"."""
    if config.name:
        return config.name
    return Path(config.path).stem if config.path else "inline"


# --- files -----------------------------------------------------------------------------------


def _dataset_path(
    config: DatasetConfig, base_dir: Path, suite_file: str | None, suite_line: int | None
) -> Path:
    assert config.path is not None  # the schema guarantees path xor rows
    path = Path(config.path).expanduser()
    path = path if path.is_absolute() else (base_dir / path)
    if not path.is_file():
        raise SuiteError(
            f"dataset file not found: {config.path}",
            file=suite_file,
            line=suite_line,
            hint=f"dataset paths are relative to the suite's folder ({display_path(base_dir)})",
        )
    return path


def _format(
    config: DatasetConfig, path: Path, suite_file: str | None, suite_line: int | None
) -> str:
    if config.format:
        return config.format if not (config.format == "csv" and path.suffix == ".tsv") else "tsv"
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SuiteError(
            f"cannot tell the format of {path.name} from its extension",
            file=suite_file,
            line=suite_line,
            hint="set it: dataset: {path: ..., format: jsonl|csv|parquet}",
        )
    return fmt


def _read_file(path: Path, fmt: str) -> list[Row]:
    if fmt == "parquet":
        return _read_parquet(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheet exports add a BOM
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"{path.name} is not UTF-8 text ({exc.reason})",
            file=display_path(path),
            hint="re-save the file as UTF-8",
        ) from None
    if fmt == "jsonl":
        return list(_read_jsonl(text, display_path(path)))
    return list(_read_csv(text, display_path(path), "\t" if fmt == "tsv" else ","))


def _read_jsonl(text: str, file: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"invalid JSON on line {number}: {exc.msg} (column {exc.colno})",
                file=file,
                line=number,
                hint="each line of a .jsonl file must be one complete JSON object",
            ) from None
        if not isinstance(row, dict):
            raise SuiteError(
                f"line {number} is a JSON {type(row).__name__}, not an object",
                file=file,
                line=number,
                hint='each line must be an object such as {"question": "...", "expected": "..."}',
            )
        yield number, row


def _read_csv(text: str, file: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        return
    header = [name.strip() for name in header]
    end = reader.line_num
    for values in reader:
        start, end = end + 1, reader.line_num
        if not values:
            continue  # blank line
        if len(values) != len(header):
            raise SuiteError(
                f"line {start} has {len(values)} fields, the header has {len(header)}",
                file=file,
                line=start,
                hint="quote values that contain the delimiter or line breaks",
            )
        yield start, dict(zip(header, values, strict=True))


def _read_parquet(path: Path) -> list[Row]:
    try:
        import pandas as pd  # imported here: pandas costs ~0.3 s and most suites use jsonl

        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading parquet needs pandas and pyarrow ({exc})", hint="pip install pandas pyarrow"
        ) from None
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise SuiteError(f"cannot read parquet file: {exc}", file=display_path(path)) from None
    records = frame.to_dict(orient="records")
    return [(i, {str(k): _native(v) for k, v in r.items()}) for i, r in enumerate(records, 1)]


def _native(value: Any) -> Any:
    """numpy/pandas values -> plain Python, so rows hash, render and serialise like JSON."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        value = value.tolist()
    elif hasattr(value, "isoformat"):  # pandas Timestamp, datetime, date
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _native(v) for k, v in value.items()}
    return value


# --- rename, ids, sampling --------------------------------------------------------------------


def _rename(rows: list[Row], rename: dict[str, str], source: Source) -> list[dict[str, Any]]:
    if not rename:
        return [row for _, row in rows]
    columns = {key for _, row in rows for key in row}
    for old in rename:
        if old not in columns:
            raise SuiteError(
                f"rename: the dataset {source.name} has no column '{old}'",
                file=source.file,
                line=source.line,
                hint=f"its columns: {', '.join(sorted(columns))}",
            )
    renamed = []
    for number, row in rows:
        new = {rename.get(key, key): value for key, value in row.items()}
        if len(new) != len(row):
            raise SuiteError(
                f"rename gives two columns of {source.label(number)} the same name",
                file=source.file,
                line=source.line_of(number),
                hint="rename onto a column name that the row does not already have",
            )
        renamed.append(new)
    return renamed


def _with_ids(
    rows: list[Row], renamed: list[dict[str, Any]], config: DatasetConfig, source: Source
) -> list[Example]:
    if config.id_field:
        # id_field may name the column before or after renaming
        field = config.rename.get(config.id_field, config.id_field)
        return _ids_from_field(rows, renamed, field, source)
    if _usable_id_column(renamed):
        return _ids_from_field(rows, renamed, "id", source)
    seen: dict[str, int] = {}
    examples = []
    for (number, raw), row in zip(rows, renamed, strict=True):
        digest = stable_hash(raw)
        seen[digest] = seen.get(digest, 0) + 1
        example_id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        examples.append(Example(id=example_id, row=row, line=number))
    return examples


def _usable_id_column(rows: list[dict[str, Any]]) -> bool:
    """Without id_field, an `id` column is used when every row has a distinct, non-empty one."""
    ids = [row.get("id") for row in rows]
    if any(value is None or str(value).strip() == "" for value in ids):
        return False
    return len({str(value) for value in ids}) == len(ids)


def _ids_from_field(
    rows: list[Row], renamed: list[dict[str, Any]], field: str, source: Source
) -> list[Example]:
    first: dict[str, int] = {}
    examples = []
    for (number, _), row in zip(rows, renamed, strict=True):
        value = row.get(field)
        where = source.label(number)
        if value is None or str(value).strip() == "":
            raise SuiteError(
                f"{where} has no id in '{field}'",
                file=source.file,
                line=source.line_of(number),
                hint=f"every row needs a '{field}' value, or remove id_field to use content hashes",
            )
        example_id = str(value)
        if example_id in first:
            raise SuiteError(
                f"duplicate id '{example_id}' on {where} "
                f"(first on {source.label(first[example_id])})",
                file=source.file,
                line=source.line_of(number),
                hint="ids pair results across runs and variants, so each must be unique",
            )
        first[example_id] = number
        examples.append(Example(id=example_id, row=row, line=number))
    return examples


def _sample(examples: list[Example], config: DatasetConfig) -> list[Example]:
    if config.sample is not None and config.sample < len(examples):
        picked = random.Random(config.seed).sample(range(len(examples)), config.sample)
        examples = [examples[i] for i in sorted(picked)]
    if config.limit is not None:
        examples = examples[: config.limit]
    return examples
