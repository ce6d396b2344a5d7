"""Bind the metrics a suite names to their functions, once, before any model call.

Binding checks the arguments against the function's signature (so a typo fails at load time,
with file:line and "did you mean"), resolves schema files against the suite folder, and
precompiles templated arguments (`contains: "{{ expected }}"`) so scoring an item only renders.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError, did_you_mean
from evalkit.metrics.base import MetricDef, ScoreContext, get_metric, to_score
from evalkit.records import Score
from evalkit.suite.schema import MetricConfig

Locate = Callable[[tuple[Any, ...]], int | None]


@dataclass(slots=True)
class BoundMetric:
    name: str
    type: str
    args: dict[str, Any]  # as bound (recorded with every run so a result says how it was scored)
    definition: MetricDef
    threshold: float | None = None
    templates: dict[str, Any] = field(default_factory=dict)  # arg -> compiled Jinja2 template

    def score(self, ctx: ScoreContext) -> Score:
        """Score one item; a metric that raises yields an unscored result with the reason."""
        kwargs = dict(self.args)
        try:
            for arg, template in self.templates.items():
                kwargs[arg] = _render(template, ctx.row)
            result = self.definition.fn(ctx, **kwargs)
        except Exception as exc:
            reason = f"metric {self.name} failed: {type(exc).__name__}: {exc}"
            return Score(value=None, reason=reason)
        return to_score(result, self.threshold)


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
        except SuiteError as exc:
            exc.file, exc.line = exc.file or file, exc.line or line
            raise
    return bound


def _bind_one(config: MetricConfig, base_dir: Path) -> BoundMetric:
    definition = get_metric(config.type)
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
    threshold = args.pop("threshold", None) if "threshold" not in params else None
    _check_args(config.type, args, params)
    _resolve_files(args, base_dir)
    _precheck(args)
    templates = {name: _compile(value, config) for name, value in args.items() if _templated(value)}
    return BoundMetric(
        name=config.display_name,
        type=config.type,
        args=args,
        definition=definition,
        threshold=float(threshold) if threshold is not None else None,
        templates={k: v for k, v in templates.items() if v is not None},
    )


def _check_args(kind: str, args: dict[str, Any], params: Any) -> None:
    accepted = [n for n, p in list(params.items())[1:] if p.kind is not p.VAR_KEYWORD]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name in args:
        if name not in accepted and not takes_any:
            raise SuiteError(
                f"metric '{kind}' has no argument '{name}'",
                hint=did_you_mean(name, accepted) or f"its arguments: {', '.join(accepted)}",
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


def _precheck(args: dict[str, Any]) -> None:
    """Fail at load time, not on 40,000 items, when a static pattern or schema is invalid."""
    pattern, schema = args.get("pattern"), args.get("schema")
    if isinstance(pattern, str) and not _templated(pattern):
        from evalkit.metrics.text import compile_pattern

        compile_pattern(pattern)
    if schema is not None and not _templated(schema):
        from evalkit.metrics.structured import schema_validator

        schema_validator(schema)


def _resolve_files(args: dict[str, Any], base_dir: Path) -> None:
    """A schema given as a file name is read relative to the suite, and must exist now."""
    schema = args.get("schema")
    if isinstance(schema, str) and schema.endswith(".json"):
        path = (base_dir / schema).resolve()
        if not path.is_file():
            raise SuiteError(
                f"schema file not found: {schema}",
                hint=f"paths are relative to the suite's folder ({base_dir})",
            )
        args["schema"] = str(path)


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list):
        return any(isinstance(v, str) and ("{{" in v or "{%" in v) for v in value)
    return False


def _compile(value: Any, config: MetricConfig) -> Any:
    from evalkit.prompts.render import compile_template

    origin = f"metric {config.display_name}"
    if isinstance(value, list):
        return [compile_template(v, origin) if isinstance(v, str) else v for v in value]
    return compile_template(value, origin)


def _render(template: Any, row: dict[str, Any]) -> Any:
    if isinstance(template, list):
        return [t.render(row) if hasattr(t, "render") else t for t in template]
    return template.render(row)
