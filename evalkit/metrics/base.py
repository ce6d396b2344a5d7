"""Metric registry: deterministic metrics are small functions registered by name.

A metric function receives the scoring context and its arguments, already rendered for the row
(so `contains: "{{ expected }}"` arrives as the row's expected value), and returns a Score, a
bool (pass/fail) or a float. The Metric wrapper records its own arguments, so a result says
exactly what was scored and how.

    @register_metric("contains", primary="value")
    def contains(ctx: ScoreContext, value: str) -> bool:
        return ctx.text is not None and value in ctx.text
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import SuiteError, did_you_mean
from evalkit.plugins.registry import MetricSpec, declare_metric, registry, resolve
from evalkit.records import Generation, Message, Score


@dataclass(slots=True)
class ScoreContext:
    """Everything a metric may look at for one item."""

    output: str | None
    row: dict[str, Any]
    generation: Generation
    messages: list[Message] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.output or ""


MetricFn = Callable[..., Score | bool | float | int | None]


MetricDef = MetricSpec  # name, fn, primary, description (evalkit.plugins.registry)


def register_metric(name: str, primary: str | None = None) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register `fn(ctx, **args)` as metric `name` (in the plugin registry)."""

    def decorator(fn: MetricFn) -> MetricFn:
        doc = (inspect.getdoc(fn) or "").split("\n")[0]
        declare_metric(MetricSpec(name, fn, primary, doc))
        return fn

    return decorator


def metric_names() -> list[str]:
    return registry().names("metric")


def get_metric(name: str, base_dir: Path | None = None) -> MetricDef:
    """Look a metric up by registered name, or find a custom one given as `module:function`.

    A custom metric is found statically (its module is not imported: evalkit.plugins.user_code);
    it is imported when a run with consent (--allow-code) first needs it."""
    reg = registry()
    if reg.has("metric", name):
        found: MetricDef = reg.get("metric", name)
        if isinstance(found.fn, str):  # a plugin may name its function by import path
            found.fn = resolve(found.fn)
        return found
    if ":" in name:
        return _custom(name, base_dir or Path.cwd())
    raise SuiteError(
        f"unknown metric '{name}'",
        hint=did_you_mean(name, reg.names("metric"))
        or "known metrics: " + ", ".join(metric_names()) + "; or a custom 'module:function'",
    )


def _custom(target: str, base_dir: Path) -> MetricDef:
    from evalkit.plugins.user_code import UserCode, UserFunction, find

    code = UserCode(target, "custom metric", base_dir)
    fn = UserFunction(code, find(code))
    named = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return MetricDef(name=target, fn=fn, primary=named[1] if len(named) > 1 else None)


def to_score(result: Score | bool | float | int | None, threshold: float | None = None) -> Score:
    """Normalise what a metric function returned into a Score."""
    if isinstance(result, Score):
        if result.passed is None and result.value is not None and threshold is not None:
            result.passed = result.value >= threshold
        return result
    if result is None:
        return Score(value=None, reason="metric returned no value")
    if isinstance(result, bool):
        return Score(value=1.0 if result else 0.0, passed=result)
    value = float(result)
    passed = value >= threshold if threshold is not None else None
    return Score(value=value, passed=passed)
