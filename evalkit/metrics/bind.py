"""Bind the metrics a suite names to their functions, once, before any model call.

Binding checks the arguments against the function's signature (so a typo fails at load time,
with file:line and "did you mean"), resolves schema files against the suite folder, and
precompiles templated arguments so scoring an item only looks values up or renders:

- an argument that is exactly one `{{ column }}` (or `{{ a.b }}`) receives the row's value
  with its type: a list stays a list ("any of" for equals, contains, starts_with), a number a
  number, a mapping a mapping (equals then compares JSON);
- any other template renders to text;
- a list item that is one column holding a list contributes its items;
- an argument that reads a null or missing value makes the metric unscored on that row, with
  the reason, never a comparison against the text "None".

Every metric also takes `transform:` (reshape the output first, see transform.py) and
`negate: true` (promptfoo's `not-` prefix: the verdict inverted, the value 1 - value).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, SuiteError, did_you_mean
from evalkit.metrics.base import MetricDef, ScoreContext, get_metric, to_score
from evalkit.metrics.patterns import PatternTimeout
from evalkit.metrics.transform import Transform, TransformFailed, compile_transform
from evalkit.records import Score
from evalkit.suite.schema import MetricConfig

Locate = Callable[[tuple[Any, ...]], int | None]

_COLUMN = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}")
# Arguments every metric takes; binding keeps them out of the function's keyword arguments.
_COMMON = ("threshold", "transform", "negate")


class Unbound(Exception):
    """A templated argument has no value on this row; the message says which and why."""


@dataclass(frozen=True, slots=True)
class _Column:
    """Exactly `{{ column }}`: the row's value itself, with its type."""

    path: tuple[str, ...]

    def resolve(self, row: Mapping[str, Any]) -> Any:
        value: Any = row
        for depth, key in enumerate(self.path):
            if not isinstance(value, Mapping) or key not in value:
                name = ".".join(self.path[: depth + 1])
                raise Unbound(f"no expected value: '{name}' is missing on this row")
            value = value[key]
        if value is None:
            raise Unbound(f"no expected value: '{'.'.join(self.path)}' is null on this row")
        return value


@dataclass(frozen=True, slots=True)
class _Text:
    """Any other template: rendered to text, unless a column it reads is null."""

    template: Any
    variables: tuple[str, ...]

    def resolve(self, row: Mapping[str, Any]) -> Any:
        from jinja2 import UndefinedError

        for name in self.variables:
            if name in row and row[name] is None:
                raise Unbound(f"no expected value: '{name}' is null on this row")
        try:
            return self.template.render(row)
        except UndefinedError as exc:
            raise Unbound(f"no expected value: {exc.message}") from None


def _resolve(node: Any, row: Mapping[str, Any]) -> Any:
    if isinstance(node, _Column | _Text):
        return node.resolve(row)
    if isinstance(node, dict):
        return {key: _resolve(value, row) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, row) for item in node]
    return node


def _resolve_arg(node: Any, row: Mapping[str, Any]) -> Any:
    """An argument's value for the row; a top-level list flattens columns that hold lists."""
    if not isinstance(node, list):
        return _resolve(node, row)
    values: list[Any] = []
    for item in node:
        value = _resolve(item, row)
        if isinstance(item, _Column) and isinstance(value, list):
            values.extend(value)
        else:
            values.append(value)
    return values


@dataclass(slots=True)
class BoundMetric:
    name: str
    type: str
    args: dict[str, Any]  # as bound (recorded with every run so a result says how it was scored)
    definition: MetricDef
    threshold: float | None = None
    templates: dict[str, Any] = field(default_factory=dict)  # arg -> compiled value tree
    transform: Transform | None = None
    negate: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)  # what the function is called with

    def score(self, ctx: ScoreContext) -> Score:
        """Score one item; a metric that raises yields an unscored result with the reason."""
        kwargs = dict(self.kwargs)
        try:
            for arg, template in self.templates.items():
                kwargs[arg] = _resolve_arg(template, ctx.row)
        except Unbound as exc:
            return Score(value=None, reason=str(exc))
        except Exception as exc:
            return Score(
                value=None, reason=f"metric {self.name} failed: {type(exc).__name__}: {exc}"
            )
        if self.transform is not None and ctx.output is not None:
            try:
                ctx = dataclasses.replace(ctx, output=self.transform(ctx.output))
            except TransformFailed as exc:
                return Score(value=0.0, passed=False, reason=f"transform: {exc}")
            except PatternTimeout as exc:  # the output was not transformed: nothing to score
                return Score(value=None, reason=f"transform: {exc}")
        try:
            result = self.definition.fn(ctx, **kwargs)
        except Exception as exc:
            reason = f"metric {self.name} failed: {type(exc).__name__}: {exc}"
            return Score(value=None, reason=reason)
        score = to_score(result, self.threshold)
        if self.transform is not None and ctx.output is not None:
            score.meta = {**(score.meta or {}), "transformed": ctx.output[:200]}
        return _negated(score) if self.negate else score


def _negated(score: Score) -> Score:
    if score.value is None:
        return score  # unscored stays unscored: a failed call does not pass a `not` check
    if score.passed is None:
        return Score(value=None, reason="negate needs a pass/fail verdict: set a threshold")
    passed = not score.passed
    value = 1.0 - score.value if 0.0 <= score.value <= 1.0 else float(passed)
    reason = None if passed else (score.reason or "negated: the check passed")
    return Score(value=value, passed=passed, reason=reason, meta=score.meta)


def bind_metrics(
    configs: list[MetricConfig],
    base_dir: Path,
    *,
    file: str | None = None,
    locate: Locate | None = None,
) -> list[BoundMetric]:
    bound = []
    for index, config in enumerate(configs):
        line = locate(("metrics", index)) if locate else None
        try:
            bound.append(_bind_one(config, base_dir))
        except EvalkitError as exc:  # SuiteError, or MissingKeyError from a metric's check
            exc.file, exc.line = exc.file or file, exc.line or line
            raise
    return bound


def _bind_one(config: MetricConfig, base_dir: Path) -> BoundMetric:
    definition = get_metric(config.type, base_dir)
    args = dict(config.args)
    if "_" in args:
        if definition.primary is None:
            raise SuiteError(
                f"metric '{config.type}' takes no shorthand value",
                hint=f"write it as {{type: {config.type}, ...}} with named arguments",
            )
        args[definition.primary] = args.pop("_")
    params = inspect.signature(definition.fn).parameters
    args = _wrap_inline_schema(definition, args)
    common = {k: args.pop(k) for k in _COMMON if k in args and k not in params}
    _check_args(config.type, args, params)
    _resolve_files(args, base_dir)
    _precheck(definition, args)
    templates = {name: _compile(value, config) for name, value in args.items() if _templated(value)}
    threshold = common.get("threshold")
    return BoundMetric(
        name=config.display_name,
        type=config.type,
        args={**args, **common},
        definition=definition,
        threshold=float(threshold) if threshold is not None else None,
        templates=templates,
        transform=compile_transform(common["transform"]) if "transform" in common else None,
        negate=_flag(common.get("negate", False), "negate"),
        kwargs=args,
    )


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SuiteError(f"'{name}' must be true or false, got {value!r}")
    return value


def _check_args(kind: str, args: dict[str, Any], params: Any) -> None:
    accepted = [n for n, p in list(params.items())[1:] if p.kind is not p.VAR_KEYWORD]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name in args:
        if name not in accepted and not takes_any:
            raise SuiteError(
                f"metric '{kind}' has no argument '{name}'",
                hint=did_you_mean(name, [*accepted, *_COMMON])
                or f"its arguments: {', '.join(accepted)} (and {', '.join(_COMMON)})",
            )
    for name in accepted:
        param = params[name]
        if param.default is param.empty and name not in args:
            raise SuiteError(f"metric '{kind}' needs the argument '{name}'")


def _wrap_inline_schema(definition: MetricDef, args: dict[str, Any]) -> dict[str, Any]:
    """`json_schema: {type: object, ...}` is an inline schema, not a set of arguments."""
    schema_keys = {"type", "properties", "$schema", "required", "enum", "items"}
    if definition.primary == "schema" and "schema" not in args and schema_keys & set(args):
        return {"schema": args}
    return args


def _precheck(definition: MetricDef, args: dict[str, Any]) -> None:
    """Fail at load time, not on 40,000 items, when a static pattern or schema is invalid."""
    from evalkit.metrics.text import compile_pattern

    patterns = [args.get("pattern"), *(_items(args.get("regexes_to_ignore")))]
    for pattern in patterns:
        if isinstance(pattern, str) and not _templated(pattern):
            compile_pattern(pattern)
    schema = args.get("schema")
    if schema is not None and not _templated(schema):
        from evalkit.metrics.structured import schema_validator

        schema_validator(schema)
    check = getattr(definition.fn, "check_args", None)
    if check is not None:
        check(args)  # a metric's own load-time check (e.g. its API key is set)


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _resolve_files(args: dict[str, Any], base_dir: Path) -> None:
    """A schema given as a file name is read relative to the suite, and must exist now."""
    schema = args.get("schema")
    if isinstance(schema, str) and schema.endswith(".json"):
        from evalkit.suite.loader import checked_file, relative_to

        path = relative_to(base_dir, schema)
        hint = f"paths are relative to the suite's folder ({base_dir})"
        args["schema"] = str(checked_file(path, "schema file", written=schema, hint=hint))


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    return False


def _compile(value: Any, config: MetricConfig) -> Any:
    """The value tree of an argument: columns, templates, and plain values as they are."""
    if isinstance(value, list):
        return [_compile(v, config) for v in value]
    if isinstance(value, dict):
        return {k: _compile(v, config) for k, v in value.items()}
    if not isinstance(value, str) or not _templated(value):
        return value
    column = _COLUMN.fullmatch(value)
    if column:
        return _Column(tuple(column.group(1).split(".")))
    from evalkit.prompts.render import compile_template, template_variables

    template = compile_template(value, f"metric {config.display_name}")
    return _Text(template, tuple(sorted(template_variables(value))))
