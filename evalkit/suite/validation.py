"""pydantic validation errors mapped back to file:line, with "did you mean" for unknown keys.

suite = validate_model(Suite, data, lines, "suites/faq.yaml")   # SuiteError on a problem
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from evalkit.errors import SuiteError, did_you_mean
from evalkit.suite.limits import short
from evalkit.suite.yaml_lines import LineMap, Loc, format_loc, line_of

_MAX_EXTRA_ERRORS = 5
M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: Any, lines: LineMap, file: str, prefix: Loc = ()) -> M:
    """Validate `data` as `model`; a ValidationError becomes one SuiteError with file:line.

    `prefix` is where `data` sits in the file (("graders", 2) for one grader entry)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(model, exc, lines, file, prefix) from None


def _validation_error(
    model: type[BaseModel], exc: ValidationError, lines: LineMap, file: str, prefix: Loc = ()
) -> SuiteError:
    errors = _relevant_errors(exc.errors())

    def line(err: Any) -> int | None:
        return line_of(lines, (*prefix, *err["loc"]))

    # Report in file order, so the first message is the first problem a reader meets.
    errors.sort(key=lambda err: line(err) or 1_000_000_000)
    described = [_describe(model, err, prefix) for err in errors]
    first_msg, hint = described[0]
    first_line = line(errors[0])
    message = first_msg
    for err, (msg, _) in list(zip(errors, described, strict=True))[1 : 1 + _MAX_EXTRA_ERRORS]:
        line_no = line(err)
        message += f"\n  also {file}:{line_no}: {msg}" if line_no else f"\n  also: {msg}"
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


def _describe(model: type[BaseModel], err: Any, prefix: Loc = ()) -> tuple[str, str | None]:
    loc = tuple(err["loc"])
    where = format_loc((*prefix, *loc[:-1]))
    inside = f" in {where}" if where else ""
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        hint = did_you_mean(key[:200], allowed) or (
            f"allowed keys: {', '.join(allowed)}" if allowed else None
        )
        return f"unknown key '{short(key)}'{inside}", hint
    if err["type"] == "missing":
        return f"missing required key '{loc[-1]}'{inside}", f"add '{loc[-1]}:'{inside or ''}"
    text = str(err["msg"]).removeprefix("Value error, ")
    path = format_loc((*prefix, *loc))
    head = (*prefix, *loc)
    return (f"{path}: {text}" if path else text), _TYPE_HINTS.get(str(head[0]) if head else "")


_TYPE_HINTS = {
    "dataset": "a file path (dataset: data/faq.jsonl) or {path, format, limit, sample, id_field}",
    "prompts": "a mapping of variant name -> a string, a message list, {system, user} or a file",
    "models": "a list of {id, provider, model, params}",
    "metrics": 'a list like [contains: "{{ expected }}", {type: regex, pattern: "..."}]',
}


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
