"""What a run's graders add to its documents: judging totals, pairwise and calibration
sections of the summary, the graders' entry in run.json, and the judge calls of a dry run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.graders.bind import BoundGrader
from evalkit.records import stable_hash
from evalkit.results.schema import GraderInfo, GraderTotals, Judging, ResultRecord, RunSummary
from evalkit.suite.graders import PairwiseGrader

if TYPE_CHECKING:
    from evalkit.graders.types import RunShape


def estimate_judge_calls(plan: RunShape) -> dict[str, int]:
    """Judge calls per judge id for the whole plan, before retries and only_if skips.

    Item graders: items x samples; pairwise: pairs x 2 orders x samples (for --dry-run).
    """
    calls: dict[str, int] = {}
    for grader in plan.graders:
        per_judge = plan.total * grader.config.samples
        if grader.examples is not None:  # a row's own grader judges only its rows
            per_judge = per_judge * len(grader.examples) // max(len(plan.examples), 1)
        if isinstance(grader.config, PairwiseGrader):
            per_judge = _pairs(grader.config, plan) * 2 * grader.config.samples
        for jid in grader.judge_ids:
            calls[jid] = calls.get(jid, 0) + per_judge
    return calls


def _pairs(config: PairwiseGrader, plan: RunShape) -> int:
    selected = plan.variant_names if config.by == "variant" else plan.model_ids
    if not all(side in selected for side in config.sides):
        return 0
    others = len(plan.model_ids) if config.by == "variant" else len(plan.variant_names)
    return len(plan.examples) * plan.repeats * others


def with_grader_sections(
    summary: RunSummary, run_dir: Path, records: list[ResultRecord], graders: list[BoundGrader]
) -> RunSummary:
    """The summary with its judging, pairwise and calibration sections (those the suite uses)."""
    from evalkit.graders.calibration import calibration_summary
    from evalkit.graders.pairwise import pairwise_summary

    if not graders:
        return summary
    update: dict[str, Any] = {"judging": judging_totals(run_dir, records, graders)}
    if any(g.pairwise for g in graders):
        update["pairwise"] = pairwise_summary(run_dir, graders)
    calibration = calibration_summary(records, graders)
    if calibration:
        update["calibration"] = calibration
    return summary.model_copy(update=update)


def judging_totals(
    run_dir: Path, records: list[ResultRecord], graders: list[BoundGrader]
) -> Judging:
    """Judge calls made and their cost, per grader (the cells' cost is the models' only)."""
    from evalkit.graders.pairwise import PAIRWISE_FILE, read_pairs

    totals = {g.name: GraderTotals() for g in graders}
    for record in records:
        for name, score in record.scores.items():
            if name in totals:
                meta = score.meta or {}
                totals[name].calls += int(meta.get("calls") or 0)
                totals[name].cost += float(meta.get("cost") or 0.0)
    for pair in read_pairs(run_dir / PAIRWISE_FILE):
        if pair.grader in totals:
            totals[pair.grader].calls += pair.calls
            totals[pair.grader].cost += pair.cost
    return Judging(
        calls=sum(t.calls for t in totals.values()),
        cost=sum(t.cost for t in totals.values()),
        graders=totals,
    )


def grader_manifest(graders: list[BoundGrader]) -> list[GraderInfo]:
    """run.json's record of the graders: enough to tell two runs' judging apart."""
    return [
        GraderInfo(
            name=g.name,
            type=g.config.type,
            judges=g.judge_ids,
            prompt_hash=stable_hash(g.prompt_source),
            config=g.config.model_dump(mode="json", exclude_defaults=True),
        )
        for g in graders
    ]
