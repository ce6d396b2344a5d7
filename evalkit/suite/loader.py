"""Load a suite YAML file strictly, with file:line in every error.

The YAML is composed into a node tree first so that the line of every mapping key and sequence
item is known; pydantic validation errors are then mapped back to those lines. `${VAR}` and
`${VAR:-default}` are interpolated in model options (and `tracking`) before validation, and
literal secrets are refused there, because options end up in cache keys and run records.

    loaded = load_suite("suites/support.yaml")
    loaded.suite.name, loaded.line_of(("models", 0, "provider"))
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import SuiteError
from evalkit.records import stable_hash
from evalkit.suite.interpolation import check_secrets, interpolate_env
from evalkit.suite.limits import LIMITS, short
from evalkit.suite.schema import Suite
from evalkit.suite.validation import validate_model
from evalkit.suite.yaml_lines import LineMap, Loc, line_of, parse_yaml, text_line


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite with where it came from (for relative paths and error lines)."""

    suite: Suite
    path: Path
    base_dir: Path
    text: str
    hash: str
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, loc: Loc) -> int | None:
        """The line of a key path like ("models", 0, "params"), or of its nearest parent."""
        return line_of(self.lines, loc)

    def text_line(self, loc: Loc) -> int | None:
        """Where the text at exactly `loc` starts (block scalars: the line after `|`)."""
        return text_line(self.lines, loc)

    @property
    def file(self) -> str:
        """The path to show in messages: relative to the working directory when possible."""
        return display_path(self.path)


def load_suite(path: str | Path) -> LoadedSuite:
    """Read, interpolate and validate a suite file; raise SuiteError with file:line on error."""
    given = Path(path)
    file = str(given)
    text = _read_text(given)
    data, lines = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise SuiteError(
            "a suite must be a YAML mapping (name, dataset, prompts, models, ...)",
            file=file,
            line=1,
            hint="start from a working example: evalkit init",
        )
    check_secrets(data, lines, file)
    data = interpolate_env(data, lines, file)
    data = _typed_graders(data, lines, file)
    suite = validate_model(Suite, data, lines, file)
    resolved = given.resolve()
    return LoadedSuite(
        suite=suite,
        path=resolved,
        base_dir=resolved.parent,
        text=text,
        hash=stable_hash(text),
        lines=lines,
    )


def adopt_suite(suite: Suite, base_dir: Path) -> LoadedSuite:
    """A Suite built in Python, as if loaded from `base_dir` (relative paths resolve there).

    Its YAML form is what a run keeps as suite.yaml, so the run can be resumed and re-gated."""
    data = suite.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    base = base_dir.resolve()
    return LoadedSuite(
        suite=suite,
        path=base / f"{suite.name}.yaml",
        base_dir=base,
        text=text,
        hash=stable_hash(text),
    )


def _typed_graders(data: dict[str, Any], lines: LineMap, file: str) -> dict[str, Any]:
    """Validate each grader against its registered type first, so errors keep their lines."""
    from evalkit.plugins.registry import grader_config

    graders = data.get("graders")
    if not isinstance(graders, list):
        return data
    typed: list[Any] = []
    for index, entry in enumerate(graders):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str):
            typed.append(entry)  # the Suite's own validation reports it
            continue
        try:
            config = grader_config(kind)
        except SuiteError as exc:
            exc.file, exc.line = file, line_of(lines, ("graders", index, "type"))
            raise
        typed.append(validate_model(config, entry, lines, file, prefix=("graders", index)))
    return {**data, "graders": typed}


def resolve_path(loaded: LoadedSuite, relpath: str | Path) -> Path:
    """A path written in the suite, relative to the suite's folder (absolute paths kept)."""
    path = relative_to(loaded.base_dir, relpath)
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError):
        return path  # checked_file reports it, with the suite's line


def relative_to(base_dir: Path, relpath: str | Path) -> Path:
    """`relpath` under `base_dir` unless absolute; `~` expands (an unknown ~user stays)."""
    path = Path(relpath)
    with contextlib.suppress(RuntimeError):  # "~nobody/x": the file check reports it
        path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


def checked_file(
    path: Path,
    what: str,
    *,
    written: str | Path | None = None,
    file: str | None = None,
    line: int | None = None,
    hint: str = "",
) -> Path:
    """`path` when it is a regular file; otherwise one SuiteError, whatever is wrong with it.

    A name with a NUL, a name too long for the file system, a folder, a device or a broken
    link all become "<what> not found: <path as written>" or "<what> cannot be read: ..." at
    the suite's line, never an OSError."""
    problem = _file_problem(path, written if written is not None else path)
    if problem is not None:
        raise SuiteError(f"{what} {problem}", file=file, line=line, hint=hint or None)
    return path


def _file_problem(path: Path, written: str | Path) -> str | None:
    shown = short(written, 160)
    try:
        info = path.stat()
    except ValueError:  # "embedded null byte"
        return f"has an invalid name (a NUL character): {short(repr(str(written)), 160)}"
    except FileNotFoundError:
        return f"not found: {shown}"
    except OSError as exc:
        return f"cannot be read: {shown} ({exc.strerror or type(exc).__name__})"
    if stat.S_ISDIR(info.st_mode):
        return f"is a folder, not a file: {shown}"
    if not stat.S_ISREG(info.st_mode):
        return f"is not a regular file: {shown}"
    return None


def read_text(path: Path, limit: int, *, file: str | None = None, what: str = "file") -> str:
    """A UTF-8 text file (a BOM is dropped) of at most `limit` bytes, or one SuiteError."""
    where = file or display_path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SuiteError(f"cannot read {what} {short(path)}: {reason}", file=where) from None
    if len(data) > limit:
        raise SuiteError(
            f"{what} {short(path)} is larger than {limit:,} bytes",
            file=where,
            hint="put large data in a dataset file (jsonl, csv, parquet)",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SuiteError(
            f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            file=where,
            line=line,
            hint="re-save the file as UTF-8",
        ) from None


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


def _read_text(path: Path) -> str:
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if is_dir:
        found = sorted(p.name for p in path.glob("*.y*ml"))
        hint = f"suites here: {', '.join(found)}" if found else "name the suite's .yaml file"
        raise SuiteError(f"{short(path)} is a folder, not a suite file", hint=hint)
    problem = _file_problem(path, path)
    if problem is not None and problem.startswith("not found"):
        raise SuiteError(
            f"suite file not found: {short(path)}",
            hint="check the path, or create a starter suite with: evalkit init",
        )
    if problem is not None:
        raise SuiteError(f"the suite file {problem}", hint="name the suite's .yaml file")
    return read_text(path, LIMITS.yaml_chars, file=str(path), what="the suite file")
