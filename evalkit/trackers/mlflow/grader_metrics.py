"""The grader sections of summary.json as parent-run metrics: pairwise, calibration, judging.

Pure (no mlflow), on the typed summary. Names, for a pairwise grader `duel` comparing variants
good and bad:

    pairwise/duel/good_vs_bad/win_rate            good beats bad (ties count half), over examples
    pairwise/duel/good_vs_bad/win_rate.ci_low     its 95% interval (.ci_high)
    pairwise/duel/good_vs_bad/wins                good's wins (losses, ties, inconsistent, n,
                                                  n_unscored)
    pairwise/duel/good_vs_bad/<model>/win_rate    the same per model, when there are several
    calibration/<grader>/accuracy                 and kappa, kappa_quadratic, n, n_missing,
                                                  n_invalid; per judge: calibration/<g>/<judge>/...
    judging/calls, judging/cost                   every judge call of the run, and per grader:
                                                  judging/<grader>/calls, judging/<grader>/cost

    grader_metrics(summary)  # {"pairwise/duel/good_vs_bad/win_rate": 0.75, ...}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from evalkit.results.schema import Calibration, Judging, PairwiseSummary, RunSummary

# document field -> metric suffix, in the order the UI's columns should show them
WIN_STATS = {
    "win_rate_a": "win_rate",
    "ci_low": "win_rate.ci_low",
    "ci_high": "win_rate.ci_high",
    "wins_a": "wins",
    "wins_b": "losses",
    "ties": "ties",
    "inconsistent": "inconsistent",
    "n": "n",
    "n_unscored": "n_unscored",
}
AGREEMENT = ("accuracy", "kappa", "kappa_quadratic", "n", "n_missing", "n_invalid")


def grader_metrics(summary: RunSummary) -> dict[str, float]:
    """Every number of the pairwise, calibration and judging sections, by a readable name
    (names as the suite spells them: rundata.key makes them MLflow-safe)."""
    metrics: dict[str, float] = {}
    for name, pairwise in (summary.pairwise or {}).items():
        metrics.update(_pairwise(str(name), pairwise))
    for name, calibration in (summary.calibration or {}).items():
        metrics.update(_calibration(str(name), calibration))
    if summary.judging is not None:
        metrics.update(_judging(summary.judging))
    return metrics


def _pairwise(name: str, entry: PairwiseSummary) -> dict[str, float]:
    prefix = f"pairwise/{name}/{entry.a}_vs_{entry.b}"
    metrics = _numbers(prefix, entry.overall, WIN_STATS)
    other = "model" if entry.by == "variant" else "variant"
    if len(entry.cells) > 1:  # one cell is the overall figure again
        for cell in entry.cells:
            metrics.update(_numbers(f"{prefix}/{getattr(cell, other)}", cell, WIN_STATS))
    return metrics


def _calibration(name: str, entry: Calibration) -> dict[str, float]:
    fields = {stat: stat for stat in AGREEMENT}
    metrics = _numbers(f"calibration/{name}", entry, fields)
    for judge, stats in (entry.by_judge or {}).items():  # a free-form table per judge
        metrics.update(_numbers(f"calibration/{name}/{judge}", stats, fields))
    return metrics


def _judging(entry: Judging) -> dict[str, float]:
    fields = {"calls": "calls", "cost": "cost"}
    metrics = _numbers("judging", entry, fields)
    for name, totals in entry.graders.items():
        metrics.update(_numbers(f"judging/{name}", totals, fields))
    return metrics


def _numbers(
    prefix: str, stats: BaseModel | dict[str, Any], fields: dict[str, str]
) -> dict[str, float]:
    """The fields that hold a number (None: not computable, e.g. kappa of one label). Extra
    fields a grader adds (kappa_quadratic) are read like declared ones."""
    out = {}
    for field, suffix in fields.items():
        value = stats.get(field) if isinstance(stats, dict) else getattr(stats, field, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}/{suffix}"] = float(value)
    return out
