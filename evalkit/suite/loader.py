"""Load a suite YAML file strictly, with file:line in every error.

The YAML is composed into a node tree first so that the line of every mapping key and sequence
item is known; pydantic validation errors are then mapped back to those lines. `${VAR}` and
`${VAR:-default}` are interpolated in model options (and `tracking`) before validation, and
literal secrets are refused there, because options end up in cache keys and run records.

    loaded = load_suite("suites/support.yaml")
    loaded.suite.name, loaded.line_of(("models", 0, "provider"))
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from evalkit.errors import SuiteError
from evalkit.records import stable_hash
from evalkit.suite.schema import Suite
from evalkit.suite.suggest import did_you_mean

Loc = tuple[Any, ...]
LineMap = dict[tuple[str, ...], int]

YAML_HINT = (
    "check the indentation (spaces, not tabs) and quote values that contain ': ' or ' #', "
    'or start with {, [, * or & (a template: user: "{{ question }}")'
)
SECRET_HINT = "put the key in an environment variable and name it with api_key_env"
_SECRET_KEYS = {"api_key", "apikey", "api-key", "authorization"}
_ENV = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MAX_EXTRA_ERRORS = 5
_TEXT = "\0text"  # a pseudo key under which a scalar's start line is recorded
M = TypeVar("M", bound=BaseModel)


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
        return _line_of(self.lines, loc)

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


# --- YAML with line numbers ------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML safely; return the data and the line of every key path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, text, file) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"invalid YAML: {exc}", file=file, hint=YAML_HINT) from None
    finally:
        loader.dispose()
    lines: LineMap = {}
    if node is not None:
        _record_lines(node, (), lines, file)
    return data, lines


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SuiteError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or "invalid YAML"
    if exc.context and "unhashable" not in problem:
        problem = f"{problem} ({exc.context})"
    hint = YAML_HINT
    source_line = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "{{" in source_line or "unhashable" in problem:
        hint = 'a value that starts with {{ must be quoted: user: "{{ question }}"'
    elif "\t" in source_line:
        hint = "YAML indentation must use spaces, not tabs"
    return SuiteError(f"invalid YAML: {problem}", file=file, line=line, hint=hint)


def _record_lines(node: yaml.Node, loc: tuple[str, ...], lines: LineMap, file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` merges keys; they are recorded where defined
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise SuiteError(
                    f"duplicate key '{key}' (first on line {seen[key]})",
                    file=file,
                    line=line,
                    hint="YAML keeps only the last value; remove or rename one of them",
                )
            seen[key] = line
            lines.setdefault((*loc, key), line)
            _record_lines(value_node, (*loc, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*loc, str(index)), item.start_mark.line + 1)
            _record_lines(item, (*loc, str(index)), lines, file)
    elif isinstance(node, yaml.ScalarNode) and loc:
        # where a template's text starts: a block scalar (| or >) starts on the next line
        block = 1 if node.style in ("|", ">") else 0
        lines.setdefault((*loc, _TEXT), node.start_mark.line + 1 + block)


def text_line(lines: Mapping[tuple[str, ...], int], loc: Loc) -> int | None:
    """The line where the scalar at exactly `loc` starts (its key's line for a mapping/list)."""
    parts = tuple(str(p) for p in loc)
    return lines.get((*parts, _TEXT), lines.get(parts))


def _line_of(lines: Mapping[tuple[str, ...], int], loc: Loc) -> int | None:
    parts = tuple(str(p) for p in loc)
    # A prompt written as a list is normalised to {messages: [...]}: its errors say
    # prompts.x.messages.1 where the YAML has prompts.x.1, so try the path without it too.
    candidates = [parts] + [
        parts[:i] + parts[i + 1 :] for i, p in enumerate(parts) if p == "messages"
    ]
    best: tuple[int, int | None] = (0, None)
    for candidate in candidates:
        for end in range(len(candidate), best[0], -1):
            if candidate[:end] in lines:
                best = (end, lines[candidate[:end]])
                break
    return best[1]


# --- secrets and ${ENV} interpolation --------------------------------------------------------


def _secret_scopes(data: dict[str, Any]) -> list[tuple[Loc, Any]]:
    """The parts of a suite where endpoints and credentials are configured."""
    scopes: list[tuple[Loc, Any]] = []
    for section in ("models", "judges"):  # judges are model entries too (graders' judges)
        models = data.get(section)
        if isinstance(models, list):
            for index, model in enumerate(models):
                if isinstance(model, dict) and "options" in model:
                    scopes.append(((section, index, "options"), model["options"]))
    if "tracking" in data:
        scopes.append((("tracking",), data["tracking"]))
    return scopes


def check_secrets(data: dict[str, Any], lines: LineMap, file: str) -> None:
    """Refuse API keys written into the suite: they would reach cache keys and records."""
    for loc, value in _secret_scopes(data):
        for where, key, item in _walk(value, loc):
            if str(key).lower() in _SECRET_KEYS:
                message = f"'{key}' in {format_loc(where[:-1])}: a secret written into the suite"
            elif isinstance(item, str) and item.strip().startswith("sk-"):
                message = f"{format_loc(where)} looks like an API key written into the suite"
            else:
                continue
            raise SuiteError(message, file=file, line=_line_of(lines, where), hint=SECRET_HINT)


def interpolate_env(data: dict[str, Any], lines: LineMap, file: str) -> dict[str, Any]:
    """Replace ${VAR} / ${VAR:-default} in model options and tracking; `$${` escapes."""
    result = dict(data)
    for loc, value in _secret_scopes(data):
        new = _interpolate(value, loc, lines, file)
        if loc[0] in ("models", "judges"):
            models = result[loc[0]] = list(result[loc[0]])
            models[loc[1]] = {**models[loc[1]], "options": new}
        else:
            result[loc[0]] = new
    return result


def _interpolate(value: Any, loc: Loc, lines: LineMap, file: str) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, k), lines, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), lines, file) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise SuiteError(
            f"environment variable {name} is not set",
            file=file,
            line=_line_of(lines, loc),
            hint=f"export {name}=... or give a default: ${{{name}:-value}}",
        )

    return _ENV.sub(substitute, value)


def _walk(value: Any, loc: Loc) -> list[tuple[Loc, Any, Any]]:
    """Every (location, key, value) below `value`, depth first."""
    if not isinstance(value, dict | list):
        return []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found = []
    for key, item in items:
        found.append(((*loc, key), key, item))
        found.extend(_walk(item, (*loc, key)))
    return found


# --- pydantic errors -> file:line ------------------------------------------------------------


def validate_model(model: type[M], data: Any, lines: LineMap, file: str) -> M:
    """Validate `data` as `model`; a ValidationError becomes one SuiteError with file:line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(model, exc, lines, file) from None


def _validation_error(
    model: type[BaseModel], exc: ValidationError, lines: LineMap, file: str
) -> SuiteError:
    errors = _relevant_errors(exc.errors())
    # Report in file order, so the first message is the first problem a reader meets.
    errors.sort(key=lambda err: _line_of(lines, err["loc"]) or 1_000_000_000)
    described = [_describe(model, err) for err in errors]
    first_msg, hint = described[0]
    first_line = _line_of(lines, errors[0]["loc"])
    message = first_msg
    for err, (msg, _) in list(zip(errors, described, strict=True))[1 : 1 + _MAX_EXTRA_ERRORS]:
        line = _line_of(lines, err["loc"])
        message += f"\n  also {file}:{line}: {msg}" if line else f"\n  also: {msg}"
    return SuiteError(message, file=file, line=first_line, hint=hint)


def _relevant_errors(errors: list[Any]) -> list[Any]:
    """Drop "missing X" when an unknown key beside it is a typo of X (one message, not two)."""
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    typos = {(tuple(e["loc"][:-1]), str(e["loc"][-1])) for e in unknown}

    def explained(err: Any) -> bool:
        parent, name = tuple(err["loc"][:-1]), str(err["loc"][-1])
        return any(p == parent and did_you_mean(t, [name]) for p, t in typos)

    missing = [e for e in errors if e["type"] == "missing" and not explained(e)]
    rest = [e for e in errors if e["type"] not in ("extra_forbidden", "missing")]
    return unknown + missing + rest or errors


def _describe(model: type[BaseModel], err: Any) -> tuple[str, str | None]:
    loc = tuple(err["loc"])
    where = format_loc(loc[:-1])
    inside = f" in {where}" if where else ""
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        hint = did_you_mean(key, allowed) or (
            f"allowed keys: {', '.join(allowed)}" if allowed else None
        )
        return f"unknown key '{key}'{inside}", hint
    if err["type"] == "missing":
        return f"missing required key '{loc[-1]}'{inside}", f"add '{loc[-1]}:'{inside or ''}"
    text = str(err["msg"]).removeprefix("Value error, ")
    path = format_loc(loc)
    return (f"{path}: {text}" if path else text), _TYPE_HINTS.get(str(loc[0]) if loc else "")


_TYPE_HINTS = {
    "dataset": "a file path (dataset: data/faq.jsonl) or {path, format, limit, sample, id_field}",
    "prompts": "a mapping of variant name -> a string, a message list, {system, user} or a file",
    "models": "a list of {id, provider, model, params}",
    "metrics": 'a list like [contains: "{{ expected }}", {type: regex, pattern: "..."}]',
}


def format_loc(loc: Loc) -> str:
    """("models", 0, "params") -> "models[0].params"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# Keys a PO may write that the models normalise away (see the before-validators in schema.py).
_SHORTHAND_KEYS: dict[str, tuple[str, ...]] = {"PromptVariant": ("system", "user")}


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys accepted at `loc` below `model` (for "did you mean")."""
    target = _model_at(model, loc)
    if target is None:
        return []
    keys = [f.alias or name for name, f in target.model_fields.items()]
    return keys + list(_SHORTHAND_KEYS.get(target.__name__, ()))


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        else:
            current = _inner(current)
    current = _inner(current) if not isinstance(current, type) else current
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner(annotation: Any) -> Any:
    """The item type of list[X] / dict[str, X] / X | None."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    return args[-1] if args else None
