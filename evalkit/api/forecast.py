"""`evalkit run --dry-run`: the calls, tokens and cost a run would take, without calling anything.

    forecast = forecast_plan(plan, cache_path=Path("runs/cache.sqlite"))
    for row in forecast.rows: print(row.model_id, row.calls, row.cost)

Generation: every item's prompt is rendered and its tokens estimated (about 4 characters per
token); its output is the model's `max_tokens` (an upper bound), or DEFAULT_OUTPUT_TOKENS when
the model sets none. Items already in the response cache cost nothing and are counted apart.
Judging: calls per judge from the graders (items x samples, x2 orders for pairwise); a judge's
prompt is its template plus the judged input and output(s). Retries, a judge's format retry and
`only_if` skips are not counted: the estimate is for budgeting, and errs on the high side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.engine.cache import cache_key, cached_keys
from evalkit.engine.pricing import Price, cost, estimate_tokens
from evalkit.engine.runtimes import model_price
from evalkit.errors import SuiteError
from evalkit.providers.base import LABEL_SCORING, model_identity, provider_capabilities
from evalkit.records import Message, Usage, WorkItem
from evalkit.suite.schema import ModelConfig

if TYPE_CHECKING:
    from evalkit.plan import Plan

DEFAULT_OUTPUT_TOKENS = 256  # a model without max_tokens: a typical short answer
SAMPLE_ROWS = 200  # rows rendered to size a judge's prompt


@dataclass
class ModelForecast:
    """One model's (or judge's) share of the run."""

    model_id: str
    role: str  # "model", "judge" or "model+judge"
    provider: str
    model: str
    price: Price | None
    calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def cost(self) -> float | None:
        """USD for the calls still to make; None without a price."""
        if self.price is None:
            return None
        return cost(self.price, Usage(self.input_tokens, self.output_tokens))

    @property
    def cost_label(self) -> str:
        if self.price is None:
            return "no price"
        if self.price.input == 0 and self.price.output == 0:
            return "free"
        return f"${self.cost:,.4f}"

    def add(self, calls: int, input_tokens: int, output_tokens: int) -> None:
        self.calls += calls
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens


@dataclass
class Forecast:
    suite: str
    items: int
    rows: list[ModelForecast]
    max_cost: float | None = None

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.rows)

    @property
    def cost(self) -> float:
        """USD over the priced models (see `unpriced`)."""
        return sum(r.cost or 0.0 for r in self.rows)

    @property
    def free(self) -> bool:
        """Every model with calls is local (or priced at zero)."""
        return all(r.cost_label == "free" for r in self.rows if r.calls)

    @property
    def unpriced(self) -> list[str]:
        return [r.model_id for r in self.rows if r.price is None and r.calls]

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "items": self.items,
            "calls": self.calls,
            "cost": self.cost,
            "unpriced": self.unpriced,
            "max_cost": self.max_cost,
            "models": [
                {
                    "id": r.model_id,
                    "role": r.role,
                    "provider": r.provider,
                    "model": r.model,
                    "calls": r.calls,
                    "cached": r.cached,
                    "input_tokens": r.input_tokens,
                    "output_tokens": r.output_tokens,
                    "cost": r.cost,
                    "price": None if r.price is None else [r.price.input, r.price.output],
                }
                for r in self.rows
            ],
        }


def forecast_plan(
    plan: Plan,
    *,
    cache_path: Path | None = None,
    skip: set[str] | None = None,
    max_cost: float | None = None,
) -> Forecast:
    """Forecast a plan's calls, tokens and cost; reads the cache (if any), writes nothing."""
    rows = _rows(plan)
    items = list(plan.work_items(skip=skip))
    _estimate_generation(plan, items, rows, cache_path)
    _estimate_judging(plan, items, rows)
    return Forecast(plan.suite.name, len(items), list(rows.values()), max_cost)


def _rows(plan: Plan) -> dict[str, ModelForecast]:
    overrides = {name: price.model_dump() for name, price in plan.suite.prices.items()}
    judges = plan.judge_ids
    rows: dict[str, ModelForecast] = {}
    for model_id in dict.fromkeys([*plan.model_ids, *judges]):
        config: ModelConfig = plan.suite.model(model_id)
        role = "model" if model_id in plan.model_ids else "judge"
        if role == "model" and model_id in judges:
            role = "model+judge"
        price = model_price(config, overrides or None)
        name = config.model or ""
        rows[model_id] = ModelForecast(model_id, role, config.provider, name, price)
    return rows


def output_budget(params: dict[str, Any]) -> int | None:
    limit = params.get("max_completion_tokens") or params.get("max_tokens")
    return int(limit) if limit else None


def _estimate_generation(
    plan: Plan, items: list[WorkItem], rows: dict[str, ModelForecast], cache_path: Path | None
) -> None:
    keys: dict[str, WorkItem] = {}
    rendered = _Rendered(plan)
    for item in items:
        config = plan.suite.model(item.model)
        messages = rendered.messages(item)
        out = output_budget(config.params)
        rows[item.model].add(1, estimate_tokens(messages), out or DEFAULT_OUTPUT_TOKENS)
        if cache_path is not None:
            key = cache_key(model_identity(config), config.params, messages, item.repeat)
            keys[key] = item
    for key in cached_keys(cache_path, keys) if cache_path is not None else ():
        _uncount_cached(rows, plan, keys[key], rendered.messages(keys[key]))
    for model_id in plan.model_ids:
        if output_budget(plan.suite.model(model_id).params) is None:
            rows[model_id].notes.append(
                f"no max_tokens: {DEFAULT_OUTPUT_TOKENS} output tokens assumed per call"
            )


def _uncount_cached(
    rows: dict[str, ModelForecast], plan: Plan, item: WorkItem, messages: list[Message]
) -> None:
    row = rows[item.model]
    out = output_budget(plan.suite.model(item.model).params) or DEFAULT_OUTPUT_TOKENS
    row.add(-1, -estimate_tokens(messages), -out)
    row.cached += 1


class _Rendered:
    """Each (example, variant) prompt rendered once, whatever the number of models and repeats."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._last: tuple[str, str] | None = None
        self._messages: list[Message] = []

    def messages(self, item: WorkItem) -> list[Message]:
        at = (item.example.id, item.variant)
        if at != self._last:
            self._messages = self.plan.variants[item.variant].render(item.example)
            self._last = at
        return self._messages


def _estimate_judging(plan: Plan, items: list[WorkItem], rows: dict[str, ModelForecast]) -> None:
    """Judge calls per grader and judge, from the graders' own count, scaled to what is left."""
    from evalkit.graders.summary import estimate_judge_calls

    if not plan.graders or not items:
        return
    share = len(items) / max(plan.total, 1)  # a resumed run judges only the items left
    for grader in plan.graders:
        for judge_id, calls in estimate_judge_calls(replace(plan, graders=[grader])).items():
            n = round(calls * share)
            tokens_in, tokens_out = _judge_tokens(plan, grader, judge_id)
            rows[judge_id].add(n, n * tokens_in, n * tokens_out)


def _judge_tokens(plan: Plan, grader: Any, judge_id: str) -> tuple[int, int]:
    """(input, output) tokens of one judge call: its prompt with the judged text, its budget."""
    from evalkit.graders.bind import JUDGE_SYSTEM
    from evalkit.graders.judge import JUDGE_DEFAULTS

    judge = plan.suite.model(judge_id)
    params = {**judge.params, **JUDGE_DEFAULTS, **grader.config.params}
    judged_outputs = 2 if grader.pairwise else 1
    outputs = [
        output_budget(plan.suite.model(m).params) or DEFAULT_OUTPUT_TOKENS for m in plan.model_ids
    ]
    frame = estimate_tokens(
        [{"content": JUDGE_SYSTEM}, {"content": grader.prompt_source + " ".join(grader.criteria)}]
    )
    prompt = frame + _mean_input_tokens(plan, grader) + judged_outputs * _mean(outputs)
    labels = grader.config.mode == "labels" or (
        grader.config.mode == "auto" and LABEL_SCORING in provider_capabilities(judge.provider)
    )
    if labels:  # scored by label probabilities: one forward pass, nothing generated
        return prompt, 0
    return prompt, output_budget(params) or DEFAULT_OUTPUT_TOKENS


def _mean_input_tokens(plan: Plan, grader: Any) -> int:
    """The judged input (the last user message) and reference, over a sample of rows."""
    from evalkit.prompts.render import render

    sizes = []
    for example in _sample(plan.examples):
        variant = plan.variants[plan.variant_names[0]]
        users = [m for m in variant.render(example) if m["role"] == "user"]
        text = users[-1]["content"] if users else ""
        if grader.reference_template is not None:
            with contextlib.suppress(SuiteError):  # no reference: the grader leaves it unscored
                text += render(grader.reference_template, example.row, example_id="", origin="")
        sizes.append(estimate_tokens([{"content": text}]))
    return _mean(sizes)


def _sample(examples: list[Any]) -> Iterator[Any]:
    step = max(1, len(examples) // SAMPLE_ROWS)
    yield from examples[::step][:SAMPLE_ROWS]


def _mean(values: Iterable[int]) -> int:
    values = list(values)
    return round(sum(values) / len(values)) if values else 0
