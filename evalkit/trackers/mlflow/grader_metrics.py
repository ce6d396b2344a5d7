"""The grader sections of summary.json as parent-run metrics: pairwise, calibration, judging.

Pure (no mlflow). Names, for a pairwise grader `duel` comparing variants good and bad:

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

from typing import Any

# summary key -> metric suffix, in the order the UI's columns should show them
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


def grader_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Every number of the pairwise, calibration and judging sections, by a readable name
    (names as the suite spells them: rundata.key makes them MLflow-safe)."""
    metrics: dict[str, float] = {}
    for name, entry in (summary.get("pairwise") or {}).items():
        metrics.update(_pairwise(str(name), entry))
    for name, entry in (summary.get("calibration") or {}).items():
        metrics.update(_calibration(str(name), entry))
    metrics.update(_judging(summary.get("judging") or {}))
    return metrics


def _pairwise(name: str, entry: dict[str, Any]) -> dict[str, float]:
    prefix = f"pairwise/{name}/{entry.get('a')}_vs_{entry.get('b')}"
    metrics = _numbers(prefix, entry.get("overall") or {}, WIN_STATS)
    cells = entry.get("cells") or []
    other = "model" if entry.get("by") == "variant" else "variant"
    if len(cells) > 1:  # one cell is the overall figure again
        for cell in cells:
            metrics.update(_numbers(f"{prefix}/{cell.get(other)}", cell, WIN_STATS))
    return metrics


def _calibration(name: str, entry: dict[str, Any]) -> dict[str, float]:
    fields = {stat: stat for stat in AGREEMENT}
    metrics = _numbers(f"calibration/{name}", entry, fields)
    for judge, stats in (entry.get("by_judge") or {}).items():
        metrics.update(_numbers(f"calibration/{name}/{judge}", stats, fields))
    return metrics


def _judging(entry: dict[str, Any]) -> dict[str, float]:
    fields = {"calls": "calls", "cost": "cost"}
    metrics = _numbers("judging", entry, fields)
    for name, totals in (entry.get("graders") or {}).items():
        metrics.update(_numbers(f"judging/{name}", totals, fields))
    return metrics


def _numbers(prefix: str, stats: dict[str, Any], fields: dict[str, str]) -> dict[str, float]:
    """The fields that hold a number (None: not computable, e.g. kappa of one label)."""
    return {
        f"{prefix}/{suffix}": float(stats[field])
        for field, suffix in fields.items()
        if isinstance(stats.get(field), int | float) and not isinstance(stats.get(field), bool)
    }
