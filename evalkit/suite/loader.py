"""Load a suite YAML file strictly, with file:line in every error.

The YAML is composed into a node tree first so that the line of every mapping key and sequence
item is known; pydantic validation errors are then mapped back to those lines. `${VAR}` and
`${VAR:-default}` are interpolated in model options (and `tracking`) before validation, and
literal secrets are refused there, because options end up in cache keys and run records.

    loaded = load_suite("suites/support.yaml")
    loaded.suite.name, loaded.line_of(("models", 0, "provider"))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import SuiteError
from evalkit.records import stable_hash
from evalkit.suite.interpolation import check_secrets, interpolate_env
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
    path = Path(relpath).expanduser()
    return path if path.is_absolute() else (loaded.base_dir / path).resolve()


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_text(path: Path) -> str:
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.y*ml"))
        hint = f"suites here: {', '.join(found)}" if found else "name the suite's .yaml file"
        raise SuiteError(f"{path} is a folder, not a suite file", hint=hint)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SuiteError(
            f"suite file not found: {path}",
            hint="check the path, or create a starter suite with: evalkit init",
        ) from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path} is not UTF-8 text ({exc.reason})", file=str(path)) from None
    except OSError as exc:
        raise SuiteError(f"cannot read {path}: {exc.strerror}", file=str(path)) from None
