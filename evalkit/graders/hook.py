"""Graders in a run: the scoring hook for item graders and the post-run pairwise phase.

    grading = build_grading(plan, runtimes, caller, concurrency)   # before the engine exists
    engine = Engine(..., hooks=grading.hooks)
    await engine.run(...)
    await grading.after_run(store, records)                        # pairwise graders

An item grader's Score: value (the label's value, the mean over votes, or the weighted score),
passed (value >= threshold), reason (the judge's reasoning, or why it is unscored/skipped) and
meta {judge, judge_hash, mode, range, label, reasoning, weighted, votes, calls, cost}, so a result
says exactly which judge, prompt and params produced it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.graders.bind import BoundGrader
from evalkit.graders.judge import Panel, Vote, majority, make_judge, mean
from evalkit.graders.reference import missing_reference
from evalkit.records import Generation, Message, Score, WorkItem

if TYPE_CHECKING:
    from evalkit.engine.calls import ModelCaller, ModelRuntime
    from evalkit.graders.pairwise import PairwiseRunner
    from evalkit.graders.types import RunShape
    from evalkit.results.schema import ResultRecord
    from evalkit.results.store import RunStore

REASON_CHARS = 300


def make_panel(
    grader: BoundGrader, runtimes: dict[str, ModelRuntime], caller: ModelCaller
) -> Panel:
    judges = [make_judge(grader, jid, runtimes[jid]) for jid in grader.judge_ids]
    return Panel(grader, judges, caller.generate, samples=grader.config.samples)


class ItemGrader:
    """Scores one item with one grader: only_if, the judge prompt's variables, the votes."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.bound = panel.grader
        self.name = self.bound.name

    async def grade(
        self, item: WorkItem, messages: list[Message], gen: Generation, scores: dict[str, Score]
    ) -> Score:
        skip = self.skip_reason(scores)
        if skip is not None:
            return Score(None, reason=skip, skipped=True, meta={"only_if": "passed"})
        try:
            variables = prompt_variables(self.bound, item.example.row, messages)
        except SuiteError as exc:
            return Score(None, reason=f"unscored: cannot build the judge prompt: {exc.message}")
        variables["output"] = gen.output or ""
        if self.bound.kind.needs_reference:
            missing = missing_reference(variables)
            if missing is not None:
                return Score(None, reason=f"unscored: {missing}")
        votes = await self.panel.ask(item, variables)
        return combine(votes, self.panel)

    def skip_reason(self, scores: dict[str, Score]) -> str | None:
        """Cheap checks first: a metric that already failed makes the judge call pointless."""
        only_if = getattr(self.bound.config, "only_if", "always")
        if only_if == "always":
            return None
        names = list(scores) if only_if == "passed" else only_if
        failed = [n for n in names if n in scores and scores[n].passed is False]
        return f"skipped: metric {', '.join(failed)} failed" if failed else None


def prompt_variables(
    grader: BoundGrader, row: dict[str, Any], messages: list[Message]
) -> dict[str, Any]:
    """The row's columns plus input and reference (rendered from the grader's templates)."""
    from evalkit.prompts.render import render

    def fill(template: Any) -> str:
        return render(template, row, example_id="", origin=f"grader {grader.name}")

    users = [m["content"] for m in messages if m.get("role") == "user"]
    return {
        **row,
        "row": row,
        "input": fill(grader.input_template) if grader.input_template else (users or [""])[-1],
        "reference": fill(grader.reference_template) if grader.reference_template else None,
    }


def combine(votes: list[Vote], panel: Panel) -> Score:
    """Several samples and judges -> one Score (majority or mean); unscored votes are left out."""
    grader, levels = panel.grader, panel.grader.levels
    meta = vote_meta(votes, panel)
    scored = [v for v in votes if v.label is not None]
    if not scored:
        reasons = list(dict.fromkeys(v.error or "no answer" for v in votes))
        return Score(None, reason="unscored: " + "; ".join(reasons), meta=meta)
    labels = [v.label for v in scored if v.label is not None]
    label = majority(labels, levels)
    value = mean([levels.value_of(x) for x in labels]) if grader.aggregate == "mean" else None
    value = levels.value_of(label) if value is None else value
    weights = [v.weighted(levels) for v in scored]
    if all(w is not None for w in weights):
        meta["weighted"] = round(mean([w for w in weights if w is not None]), 4)
        if getattr(grader.config, "weighted", False):
            value = meta["weighted"]
    meta["label"] = label
    reasoning = next((v.reasoning for v in scored if v.reasoning), None)
    if reasoning:
        meta["reasoning"] = reasoning
    reason = reasoning[:REASON_CHARS] if reasoning else None
    return Score(value, levels.passed(value), reason=reason, meta=meta)


def vote_meta(votes: list[Vote], panel: Panel) -> dict[str, Any]:
    judges = panel.judges
    one = len(judges) == 1
    meta: dict[str, Any] = {
        "judge": judges[0].id if one else [j.id for j in judges],
        "judge_hash": judges[0].hash if one else {j.id: j.hash for j in judges},
        "mode": judges[0].mode if one else {j.id: j.mode for j in judges},
        "calls": sum(v.calls for v in votes),
    }
    values = [level.value for level in panel.grader.levels.levels]
    if values:  # the scale's ends: intervals and missing results stay inside them
        meta["range"] = [min(values), max(values)]
    cost = sum(v.cost for v in votes)
    if cost:
        meta["cost"] = cost
    if len(votes) > 1:
        meta["votes"] = [_vote_json(v, panel) for v in votes]
    elif votes and votes[0].probs:
        meta["probs"] = {k: round(p, 4) for k, p in votes[0].probs.items()}
    retried = sum(v.retried for v in votes)
    if retried:
        meta["retried"] = retried
    return meta


def _vote_json(vote: Vote, panel: Panel) -> dict[str, Any]:
    data: dict[str, Any] = {"judge": vote.judge, "sample": vote.sample, "label": vote.label}
    weighted = vote.weighted(panel.grader.levels)
    if weighted is not None:
        data["weighted"] = round(weighted, 4)
    if vote.error:
        data["error"] = vote.error
    return data


class GraderHook:
    """The engine's ScoreHook: every item grader on one finished item, concurrently."""

    def __init__(self, graders: list[ItemGrader]) -> None:
        self.graders = graders

    async def __call__(
        self, item: WorkItem, messages: list[Message], gen: Generation, scores: dict[str, Score]
    ) -> dict[str, Score]:
        # a row's own graders judge only the examples that carry them
        graders = [g for g in self.graders if g.bound.applies_to(item.example.id)]
        results = await asyncio.gather(*(g.grade(item, messages, gen, scores) for g in graders))
        return {g.name: score for g, score in zip(graders, results, strict=True)}


@dataclass
class Grading:
    """A run's graders: the engine's scoring hooks, and the pairwise phase after the items."""

    hooks: list[GraderHook]
    pairwise: list[PairwiseRunner]
    concurrency: int

    async def after_run(self, store: RunStore, records: list[ResultRecord]) -> None:
        for runner in self.pairwise:
            await runner.run(store, records, self.concurrency)


def build_grading(
    plan: RunShape, runtimes: dict[str, ModelRuntime], caller: ModelCaller, concurrency: int
) -> Grading:
    """The graders of `plan`, their judges set up on `runtimes` and calling through `caller`.

    Raises SuiteError (e.g. mode: labels with a judge that cannot score labels) before any call.
    """
    from evalkit.graders.pairwise import PairwiseRunner

    panels = [make_panel(g, runtimes, caller) for g in plan.graders]
    items = [ItemGrader(p) for p in panels if not p.grader.pairwise]
    pairwise = [PairwiseRunner(p, plan) for p in panels if p.grader.pairwise]
    return Grading([GraderHook(items)] if items else [], pairwise, concurrency)
