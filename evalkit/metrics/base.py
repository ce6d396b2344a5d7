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

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import SuiteError
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


@dataclass(slots=True)
class MetricDef:
    name: str
    fn: MetricFn
    primary: str | None  # the argument a shorthand value binds to: `contains: "x"` -> value="x"
    description: str = ""


_METRICS: dict[str, MetricDef] = {}

# Modules whose import registers the built-in metrics; cheap (heavy libs imported lazily).
BUILTIN_MODULES = (
    "evalkit.metrics.text",
    "evalkit.metrics.length",
    "evalkit.metrics.structured",
    "evalkit.metrics.similarity",
    "evalkit.metrics.rouge",
    "evalkit.metrics.matching",
    "evalkit.metrics.embedding",
    "evalkit.metrics.performance",
)
_loaded = False


def register_metric(name: str, primary: str | None = None) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register `fn(ctx, **args)` as metric `name`."""

    def decorator(fn: MetricFn) -> MetricFn:
        doc = (inspect.getdoc(fn) or "").split("\n")[0]
        _METRICS[name] = MetricDef(name=name, fn=fn, primary=primary, description=doc)
        return fn

    return decorator


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def metric_names() -> list[str]:
    _load_builtins()
    return sorted(_METRICS)


def get_metric(name: str) -> MetricDef:
    """Look a metric up by registered name, or load a custom one given as `module:function`."""
    _load_builtins()
    if name in _METRICS:
        return _METRICS[name]
    if ":" in name:
        return _load_custom(name)
    from evalkit.suite.suggest import did_you_mean

    raise SuiteError(
        f"unknown metric '{name}'",
        hint=did_you_mean(name, _METRICS)
        or "known metrics: " + ", ".join(metric_names()) + "; or a custom 'module:function'",
    )


def _load_custom(target: str) -> MetricDef:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise SuiteError(
            f"cannot load custom metric '{target}': {exc}",
            hint="the module must be importable (run evalkit from its folder or set PYTHONPATH)",
        ) from None
    params = list(inspect.signature(fn).parameters)
    primary = params[1] if len(params) > 1 else None
    return MetricDef(name=target, fn=fn, primary=primary)


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
