"""Calling judges: one grader's judge models, each asked `samples` times, through the engine.

Every judge call goes through `Engine.generate`, so it has its own cache entry (the judge
prompt, with the output under judgement, is the cache key's messages), retries, rate limits and
cost. How a judge is asked depends on its provider (the grader's `mode`, "auto" by default):

- labels: a provider with `score_labels(messages, labels)` (the local transformers provider)
  returns the log-probability of each allowed label as the whole reply. The argmax is the
  judge's label, and the probabilities give a G-Eval style weighted score. Always parseable.
- json_schema: openai judges get `response_format` with a JSON schema {reasoning, score}
  whose score is an enum of the allowed labels; logprobs, when asked for, weight the score.
- text: any other provider is asked for the same JSON in the prompt and parsed leniently.

json_schema and text answers that cannot be read get one retry with a stricter reminder;
after that the vote is unscored, with the reason.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from evalkit.engine.runner import ModelRuntime
from evalkit.errors import ProviderError, SuiteError
from evalkit.graders.bind import JUDGE_SYSTEM, BoundGrader
from evalkit.graders.levels import Levels
from evalkit.graders.parse import (
    first_token_logprobs,
    label_probs,
    parse_judgement,
    reminder,
    score_token_logprobs,
)
from evalkit.providers.base import LABEL_SCORING, STRUCTURED_OUTPUT, capabilities
from evalkit.records import Generation, GenerationRequest, Message, Usage, WorkItem, stable_hash

# Judges are deterministic by default; a grader's `params:` overrides any of these.
JUDGE_DEFAULTS: dict[str, Any] = {"temperature": 0, "seed": 0, "max_tokens": 512}
Mode = Literal["json_schema", "labels", "text"]
Generate = Callable[[ModelRuntime, WorkItem, list[Message]], Awaitable[Generation]]


@dataclass(frozen=True)
class Judge:
    """One judge model, set up for one grader."""

    id: str
    mode: Mode
    runtime: ModelRuntime
    hash: str


@dataclass
class Vote:
    """One judge call's answer (after its retry, if any)."""

    judge: str
    sample: int
    label: str | None
    reasoning: str | None = None
    probs: dict[str, float] | None = None
    error: str | None = None
    cost: float = 0.0
    calls: int = 0
    retried: bool = False

    def weighted(self, levels: Levels) -> float | None:
        """The probability-weighted score (G-Eval), when label probabilities are known."""
        if not self.probs:
            return None
        return sum(p * levels.value_of(label) for label, p in self.probs.items())


def pick_mode(requested: str, runtime: ModelRuntime, grader: str) -> Mode:
    """The grader's mode, or for "auto" the best one the judge's provider declares."""
    can = capabilities(runtime.provider)
    if requested == "labels" and LABEL_SCORING not in can:
        raise SuiteError(
            f"grader '{grader}': judge '{runtime.config.id}' cannot score labels",
            hint="mode: labels needs a local transformers judge; use mode: text or auto",
        )
    if requested in ("json_schema", "labels", "text"):
        return requested  # type: ignore[return-value]
    if LABEL_SCORING in can:
        return "labels"
    return "json_schema" if STRUCTURED_OUTPUT in can else "text"


def judge_params(base: dict[str, Any], grader: BoundGrader, mode: Mode) -> dict[str, Any]:
    """The judge model's params, then the judge defaults, then the grader's own `params:`."""
    params = {**base, **JUDGE_DEFAULTS, **grader.config.params}
    if mode == "json_schema":
        params.setdefault("response_format", response_format(grader.levels))
    if getattr(grader.config, "weighted", False) and mode == "json_schema":
        params.setdefault("logprobs", True)
        params.setdefault("top_logprobs", 10)
    return params


def response_format(levels: Levels) -> dict[str, Any]:
    """OpenAI structured output: reasoning first (it conditions the score), then the score."""
    if levels.numeric:
        score: dict[str, Any] = {"type": "integer", "enum": [int(v.value) for v in levels.levels]}
    else:
        score = {"type": "string", "enum": levels.labels}
    schema = {
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, "score": score},
        "required": ["reasoning", "score"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "judgement", "strict": True, "schema": schema},
    }


class LabelScorer:
    """A provider adapter: `score_labels` behind `generate`, so the engine caches and retries it."""

    def __init__(self, provider: Any, labels: Sequence[str]) -> None:
        self.provider = provider
        self.labels = list(labels)

    async def generate(self, request: GenerationRequest) -> Generation:
        logprobs = await self.provider.score_labels(request.messages, self.labels)
        if not isinstance(logprobs, dict) or not logprobs:
            raise ProviderError("score_labels returned no label log-probabilities")
        best = max(logprobs, key=lambda label: logprobs[label])
        raw = {"label_logprobs": {k: float(v) for k, v in logprobs.items()}}
        return Generation(output=best, usage=Usage(), raw=raw)

    async def aclose(self) -> None:
        return None  # the wrapped provider is closed with the run's runtimes


def make_judge(grader: BoundGrader, judge_id: str, base: ModelRuntime) -> Judge:
    """Set up `base` (a run's model runtime) as a judge for `grader`."""
    mode = pick_mode(grader.config.mode, base, grader.name)
    params = judge_params(base.config.params, grader, mode)
    runtime = replace(base, config=base.config.model_copy(update={"params": params}))
    if mode == "labels":
        labels = grader.levels.labels
        identity = {**base.identity, "score_labels": labels}
        runtime = replace(runtime, provider=LabelScorer(base.provider, labels), identity=identity)
    digest = stable_hash(
        {
            "system": JUDGE_SYSTEM,
            "prompt": grader.prompt_source,
            "judge": runtime.identity,
            "params": params,
            "mode": mode,
            "labels": grader.levels.labels,
        }
    )
    return Judge(judge_id, mode, runtime, digest)


def format_instructions(mode: Mode, levels: Levels) -> str:
    allowed = ", ".join(levels.labels)
    if mode == "labels":
        return f"Reply with only the label, one of: {allowed}."
    return (
        "First reason briefly about the criteria, then give your score. Reply with only a JSON "
        'object, no other text: {"reasoning": "<one or two sentences>", '
        f'"score": <one of: {allowed}>}}'
    )


@dataclass
class Panel:
    """One grader's judges; `ask` collects every judge's votes about one prompt."""

    grader: BoundGrader
    judges: list[Judge]
    generate: Generate
    samples: int = 1

    async def ask(self, item: WorkItem, variables: dict[str, Any]) -> list[Vote]:
        calls = [
            self._ask_one(judge, item, variables, sample)
            for judge in self.judges
            for sample in range(self.samples)
        ]
        return list(await asyncio.gather(*calls))

    def messages(self, judge: Judge, variables: dict[str, Any]) -> list[Message]:
        from evalkit.prompts.render import render

        levels = self.grader.levels
        context = {
            **variables,
            "criteria": self.grader.criteria,
            "levels": [{"label": v.label, "description": v.description} for v in levels.levels],
            "labels": levels.labels,
            "format_instructions": format_instructions(judge.mode, levels),
        }
        text = render(self.grader.prompt, context, example_id="", origin=self.grader.name)
        return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": text}]

    async def _ask_one(
        self, judge: Judge, item: WorkItem, variables: dict[str, Any], sample: int
    ) -> Vote:
        try:
            messages = self.messages(judge, variables)
        except SuiteError as exc:
            return Vote(judge.id, sample, None, error=f"cannot render the judge prompt: {exc}")
        # the sample index is the judge call's repeat: its own cache entry and its own seed
        judge_item = WorkItem(item.example, item.variant, judge.id, sample)
        gen = await self.generate(judge.runtime, judge_item, messages)
        vote = self._vote(judge, sample, gen)
        if vote.label is not None or gen.error is not None or judge.mode == "labels":
            return vote
        retry = [
            *messages,
            {"role": "assistant", "content": gen.output or ""},
            {"role": "user", "content": reminder(vote.error or "", self.grader.levels)},
        ]
        again = self._vote(judge, sample, await self.generate(judge.runtime, judge_item, retry))
        again.cost += vote.cost
        again.calls += vote.calls
        again.retried = True
        if again.label is None:
            again.error = f"{vote.error}; after a retry: {again.error}"
        return again

    def _vote(self, judge: Judge, sample: int, gen: Generation) -> Vote:
        vote = Vote(judge.id, sample, None, cost=gen.cost or 0.0)
        vote.calls = 0 if gen.cached else gen.attempts
        levels = self.grader.levels
        if gen.error is not None:
            vote.error = f"judge call failed: {gen.error}"
        elif judge.mode == "labels":
            probs = label_probs((gen.raw or {}).get("label_logprobs") or {}, levels)
            vote.probs = probs or None
            if probs:
                vote.label = max(probs, key=probs.__getitem__)
            else:
                vote.error = "the judge returned no label probabilities"
        else:
            parsed = parse_judgement(gen.output, levels)
            vote.label, vote.reasoning, vote.error = parsed.label, parsed.reasoning, parsed.error
            token_logprobs = score_token_logprobs(gen.raw) or first_token_logprobs(
                gen.raw, gen.output
            )
            vote.probs = label_probs(token_logprobs, levels) if token_logprobs else None
        return vote


def majority(labels: list[str], levels: Levels, split: str | None = None) -> str:
    """The most frequent label; a split vote gives `split`, else the lowest-valued top label

    (the conservative choice for a release decision).
    """
    counts = Counter(labels).most_common()
    top = [label for label, n in counts if n == counts[0][1]]
    if len(top) == 1:
        return top[0]
    return split if split is not None else min(top, key=levels.value_of)


def mean(values: list[float]) -> float:
    return statistics.fmean(values)
