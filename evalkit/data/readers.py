"""Reading dataset files: jsonl, csv/tsv and parquet, as (line, row) pairs.

Whatever a file holds, a problem is one SuiteError at its line: invalid JSON, NaN or Infinity
(not JSON), a row nested deeper than the limit (a 100,000-deep row is refused, not a
RecursionError), a CSV field over the csv module's size limit, or a column named twice in the
header (which would silently drop one of the columns).

    rows = read_file(Path("data/faq.jsonl"), "jsonl")   # [(1, {"question": ...}), ...]
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.errors import MissingDependencyError, SuiteError
from evalkit.suite.limits import LIMITS, short
from evalkit.suite.loader import display_path

Row = tuple[int, dict[str, Any]]  # (line or row number, row)


def read_file(path: Path, fmt: str) -> list[Row]:
    if fmt == "parquet":
        return _read_parquet(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheet exports add a BOM
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"{short(path.name)} is not UTF-8 text ({exc.reason})",
            file=display_path(path),
            hint="re-save the file as UTF-8",
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SuiteError(f"cannot read {short(path)}: {reason}", file=display_path(path)) from None
    if fmt == "jsonl":
        return list(_read_jsonl(text, display_path(path)))
    return list(_read_csv(text, display_path(path), "\t" if fmt == "tsv" else ","))


class _NotFinite(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotFinite(f"{name} is not valid JSON (a row's numbers must be finite)")


def _read_jsonl(text: str, file: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = _json_row(line, number, file)
        if not isinstance(row, dict):
            raise SuiteError(
                f"line {number} is a JSON {type(row).__name__}, not an object",
                file=file,
                line=number,
                hint='each line must be an object such as {"question": "...", "expected": "..."}',
            )
        _check_depth(row, number, file)
        yield number, row


def _json_row(line: str, number: int, file: str) -> Any:
    hint = "each line of a .jsonl file must be one complete JSON object"
    try:
        return json.loads(line, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} (column {exc.colno})"
    except RecursionError:
        problem, hint = "it nests too deep", f"rows may nest at most {LIMITS.depth} levels"
    except _NotFinite as exc:
        problem, hint = str(exc), "write null for a missing number"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        problem = short(exc, 120)
    raise SuiteError(f"invalid JSON on line {number}: {problem}", file=file, line=number, hint=hint)


def _check_depth(row: dict[str, Any], number: int, file: str) -> None:
    """Rows are rendered, hashed and written as JSON: a bounded depth keeps that safe."""
    level, frontier = 1, list(row.values())
    while frontier:
        containers = [v for v in frontier if isinstance(v, dict | list)]
        if not containers:
            return
        level += 1
        if level > LIMITS.depth:
            raise SuiteError(
                f"line {number} nests deeper than {LIMITS.depth} levels",
                file=file,
                line=number,
                hint="flatten the row, or store the deep value as a JSON string",
            )
        frontier = [x for c in containers for x in (c.values() if isinstance(c, dict) else c)]


def _read_csv(text: str, file: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        yield from _csv_rows(reader, file)
    except csv.Error as exc:  # a field over the csv module's size limit, a NUL, ...
        line = reader.line_num or None
        raise SuiteError(
            f"cannot read the CSV file: {short(exc, 120)}",
            file=file,
            line=line,
            hint="check the quoting near that line; very long fields belong in a jsonl file",
        ) from None


def _csv_rows(reader: Any, file: str) -> Iterator[Row]:
    header = next(reader, None)
    if not header:
        return
    header = [name.strip() for name in header]
    _check_header(header, file)
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


def _check_header(header: list[str], file: str) -> None:
    """A repeated column name would silently keep only one of the columns."""
    seen: set[str] = set()
    for index, name in enumerate(header, 1):
        if name in seen:
            raise SuiteError(
                f"the header names the column '{short(name)}' twice (column {index})",
                file=file,
                line=1,
                hint="give every column its own name",
            )
        seen.add(name)


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
