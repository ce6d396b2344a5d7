"""Performance metrics: latency, token usage and cost of each call, with optional upper bounds.

The value is the measurement itself (so a summary reports mean latency or cost); `passed` says
whether every bound holds, and is None when no bound is set. A cached generation keeps the
latency and usage of the call that produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_float
from evalkit.records import Score


def _bounded(value: float, bounds: Mapping[str, tuple[float, Any]], unit: str = "") -> Score:
    """Score `value`; each bound is name -> (measured, limit), checked as measured <= limit."""
    problems = []
    checked = False
    for name, (measured, raw_limit) in bounds.items():
        limit = as_float(raw_limit, name)
        if limit is None:
            continue
        checked = True
        if measured > limit:
            problems.append(f"{measured:g}{unit} > {name} {limit:g}{unit}")
    passed = None if not checked else not problems
    return Score(value=value, passed=passed, reason="; ".join(problems) or None)


@register_metric("latency_ms", primary="max")
def latency_ms(ctx: ScoreContext, max: Any = None) -> Score:
    """Call latency in milliseconds; passes when it is at most `max`.

    - latency_ms: 2000
    """
    latency = round(float(ctx.generation.latency_ms), 3)
    return _bounded(latency, {"max": (latency, max)}, unit="ms")


@register_metric("tokens", primary="max_output")
def tokens(
    ctx: ScoreContext,
    max_output: Any = None,
    *,
    max_total: Any = None,
    max_input: Any = None,
) -> Score:
    """Output tokens of the call; passes when max_output, max_input and max_total all hold.

    - tokens: {max_output: 256, max_total: 2000}
    """
    usage = ctx.generation.usage
    bounds = {
        "max_output": (usage.output_tokens, max_output),
        "max_input": (usage.input_tokens, max_input),
        "max_total": (usage.total_tokens, max_total),
    }
    score = _bounded(float(usage.output_tokens), bounds)
    score.meta = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    return score


@register_metric("cost", primary="max")
def cost(ctx: ScoreContext, max: Any = None) -> Score:
    """Cost of the call in dollars; passes when it is at most `max` (unscored if unpriced).

    - cost: 0.002
    """
    spent = ctx.generation.cost
    if spent is None:
        return Score(value=None, reason="the provider reported no cost for this call")
    return _bounded(spent, {"max": (spent, max)})
