"""The pairwise grader: after the run, which of two variants (or models) answered better.

    - type: pairwise
      name: grounded_vs_terse
      judge: gpt
      variants: [grounded, terse]          # or models: [gpt, local]
      rubric: Which answer resolves the customer's question better?

Outputs of A and B for the same example (and the same model, or variant, and repeat) form a
pair. Each pair is judged in both orders, A as response 1 and then B as response 1, to cancel
position bias: when the two verdicts agree that is the outcome; when they disagree the pair is a
tie and is counted as inconsistent (a judge that always prefers response 1 yields only ties).
Pairs go to runs/<id>/pairwise.jsonl as they are judged; summary.json gets, under "pairwise",
the win rate of A over B (ties count half) with its 95% CI, wins, ties and inconsistent pairs.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.graders.judge import Panel, Vote, majority
from evalkit.graders.levels import PAIRWISE as PAIRWISE_LEVELS
from evalkit.graders.types import GraderType, packaged_prompt
from evalkit.records import Example, WorkItem
from evalkit.results.schema import (
    PairRecord,
    PairSide,
    PairwiseCell,
    PairwiseSummary,
    ResultRecord,
    WinStats,
)
from evalkit.results.store import read_lines
from evalkit.suite.graders import PairwiseGrader

if TYPE_CHECKING:
    from evalkit.graders.bind import BoundGrader
    from evalkit.graders.types import RunShape
    from evalkit.results.store import RunStore

PAIRWISE_FILE = "pairwise.jsonl"
# "1" means the response shown first won; per order, map that back to side a or b.
_WINNER = {("ab", "1"): "a", ("ab", "2"): "b", ("ba", "1"): "b", ("ba", "2"): "a"}


@dataclass(frozen=True)
class Pair:
    key: str
    example_id: str
    repeat: int
    other: str  # the model (comparing variants) or the variant (comparing models)
    a: ResultRecord
    b: ResultRecord


def build_pairs(config: PairwiseGrader, name: str, records: list[ResultRecord]) -> list[Pair]:
    """Pairs of answered records: same example, repeat and other dimension, sides a and b."""
    side_key, other_key = ("variant", "model") if config.by == "variant" else ("model", "variant")
    a_name, b_name = config.sides
    found: dict[tuple[str, str, int], dict[str, ResultRecord]] = defaultdict(dict)
    for record in records:
        if record.ok and record.output is not None:
            where = (record.example_id, getattr(record, other_key), record.repeat)
            found[where][getattr(record, side_key)] = record
    pairs = []
    for (example_id, other, repeat), sides in found.items():
        if a_name in sides and b_name in sides:
            key = f"{name}|{example_id}|{other}|{repeat}"
            pairs.append(Pair(key, example_id, repeat, other, sides[a_name], sides[b_name]))
    return pairs


class PairwiseRunner:
    """Judges one pairwise grader's pairs, appending each to pairwise.jsonl (resumable)."""

    def __init__(self, panel: Panel, plan: RunShape) -> None:
        assert isinstance(panel.grader.config, PairwiseGrader)
        self.panel = panel
        self.grader: BoundGrader = panel.grader
        self.config: PairwiseGrader = panel.grader.config

    async def run(self, store: RunStore, records: list[ResultRecord], concurrency: int) -> None:
        """Judge the pairs among `records` (with outputs) that pairwise.jsonl does not hold."""
        path = store.dir / PAIRWISE_FILE
        done = {r.key for r in read_pairs(path) if r.grader == self.grader.name}
        pairs = [
            p for p in build_pairs(self.config, self.grader.name, records) if p.key not in done
        ]
        gate = asyncio.Semaphore(max(1, concurrency))

        async def judge(pair: Pair) -> None:
            async with gate:
                record = await self.judge_pair(pair)
            store.append_doc(PAIRWISE_FILE, record)  # flushed: an interrupted phase keeps it

        await asyncio.gather(*(judge(p) for p in pairs))

    async def judge_pair(self, pair: Pair) -> PairRecord:
        from evalkit.graders.hook import prompt_variables

        a, b = pair.a, pair.b
        row = a.inputs or {}
        record = self._record(pair)
        try:
            base = prompt_variables(self.grader, row, a.messages or [])
        except SuiteError as exc:
            record.reason = f"unscored: cannot build the judge prompt: {exc.message}"
            return record
        item = WorkItem(Example(pair.example_id, row), a.variant, a.model, pair.repeat)
        ab = {**base, "output_1": a.output, "output_2": b.output}
        ba = {**base, "output_1": b.output, "output_2": a.output}
        votes_ab, votes_ba = await asyncio.gather(
            self.panel.ask(item, ab), self.panel.ask(item, ba)
        )
        return self._decide(record, [("ab", votes_ab), ("ba", votes_ba)])

    def _record(self, pair: Pair) -> PairRecord:
        judges = self.panel.judges
        several = len(judges) > 1
        return PairRecord(
            grader=self.grader.name,
            key=pair.key,
            example_id=pair.example_id,
            repeat=pair.repeat,
            by=self.config.by,
            a=_side(pair.a),
            b=_side(pair.b),
            judge=[j.id for j in judges] if several else judges[0].id,
            judge_hash={j.id: j.hash for j in judges} if several else judges[0].hash,
        )

    def _decide(self, record: PairRecord, orders: list[tuple[str, list[Vote]]]) -> PairRecord:
        votes_all = [v for _, votes in orders for v in votes]
        record.calls = sum(v.calls for v in votes_all)
        record.cost = sum(v.cost for v in votes_all)
        winners = []
        for order, votes in orders:
            labels = [v.label for v in votes if v.label is not None]
            # a split vote within one order is a tie: no side convinced the judges
            label = majority(labels, self.grader.levels, split="tie") if labels else None
            winner = None if label is None else _WINNER.get((order, label), "tie")
            winners.append(winner)
            record.orders.append(_order_json(order, label, winner, votes))
        if None in winners:
            errors = [v.error for v in votes_all if v.error]
            record.reason = "unscored: " + "; ".join(dict.fromkeys(errors or ["no verdict"]))
            return record
        record.inconsistent = winners[0] != winners[1]
        record.outcome = "tie" if record.inconsistent else winners[0]  # type: ignore[assignment]
        return record


def _side(record: ResultRecord) -> PairSide:
    return PairSide(variant=record.variant, model=record.model, output=record.output)


def _order_json(
    order: str, label: str | None, winner: str | None, votes: list[Vote]
) -> dict[str, Any]:
    data: dict[str, Any] = {"order": order, "label": label, "winner": winner}
    reasoning = next((v.reasoning for v in votes if v.reasoning), None)
    if reasoning:
        data["reasoning"] = reasoning
    if len(votes) > 1:
        data["votes"] = [{"judge": v.judge, "sample": v.sample, "label": v.label} for v in votes]
    errors = [v.error for v in votes if v.error]
    if errors:
        data["errors"] = errors
    return data


def read_pairs(path: Path) -> list[PairRecord]:
    """The latest record of every pair key (a torn last line is skipped)."""
    latest: dict[str, PairRecord] = {}
    for record in read_lines(path, PairRecord):
        latest[record.key] = record
    return list(latest.values())


# --- summary -------------------------------------------------------------------------------


def pairwise_summary(run_dir: Path, graders: list[BoundGrader]) -> dict[str, PairwiseSummary]:
    """The summary's `pairwise`: per grader, per cell of the other dimension, and overall."""
    by_grader: dict[str, list[PairRecord]] = defaultdict(list)
    for record in read_pairs(run_dir / PAIRWISE_FILE):
        by_grader[record.grader].append(record)
    result = {}
    for grader in graders:
        if not grader.pairwise:
            continue
        config = grader.config
        assert isinstance(config, PairwiseGrader)
        records = by_grader.get(grader.name, [])
        other = "model" if config.by == "variant" else "variant"
        cells: dict[str, list[PairRecord]] = defaultdict(list)
        for record in records:
            cells[getattr(record.a, other)].append(record)
        a, b = config.sides
        result[grader.name] = PairwiseSummary(
            a=a,
            b=b,
            by=config.by,
            judge=config.judge_ids,
            cells=[
                PairwiseCell.model_validate({other: name, **win_stats(rs).model_dump()})
                for name, rs in cells.items()
            ],
            overall=win_stats(records),
            note=None
            if records
            else "no pairs judged: both sides need answers for the same example",
        )
    return result


def win_stats(records: list[PairRecord]) -> WinStats:
    """Win rate of a over b (ties count half) with a 95% CI over examples, and the counts."""
    from evalkit.stats.intervals import summarize

    scored = [r for r in records if r.outcome is not None]
    value = {"a": 1.0, "tie": 0.5, "b": 0.0}
    per_example: dict[str, list[float]] = defaultdict(list)
    for record in scored:  # repeats of an example are correlated: average them first
        per_example[record.example_id].append(value[str(record.outcome)])
    # a win rate lies in [0, 1]: a bounded interval never has zero width (a judge that always
    # prefers position 1 makes every example a tie, which is not certainty about a tie)
    values = [sum(v) / len(v) for v in per_example.values()]
    stats = summarize(values, kind="mean", bounds=(0.0, 1.0))
    return WinStats(
        n=len(scored),
        wins_a=sum(r.outcome == "a" for r in scored),
        wins_b=sum(r.outcome == "b" for r in scored),
        ties=sum(r.outcome == "tie" for r in scored),
        inconsistent=sum(r.inconsistent for r in scored),
        n_unscored=len(records) - len(scored),
        win_rate_a=_finite(stats["mean"]),
        ci_low=_finite(stats["ci_low"]),
        ci_high=_finite(stats["ci_high"]),
    )


def _finite(value: Any) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _pairwise_criteria(config: PairwiseGrader) -> list[str]:
    return [config.rubric] if isinstance(config.rubric, str) else list(config.rubric)


PAIRWISE = GraderType(
    name="pairwise",
    config=PairwiseGrader,
    levels=lambda config: PAIRWISE_LEVELS,
    prompt=packaged_prompt("evalkit.graders", "prompts/pairwise.jinja"),
    criteria=_pairwise_criteria,
    pairwise=True,
)
