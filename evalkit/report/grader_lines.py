"""Terminal lines for what the comparison table does not show: pairwise results, calibration."""

from __future__ import annotations

from evalkit.results.schema import Calibration, PairwiseSummary, RunSummary, WinStats


def grader_lines(summary: RunSummary) -> list[str]:
    """One line per pairwise grader (and per cell when there are several), one per calibration."""
    lines: list[str] = []
    for name, entry in (summary.pairwise or {}).items():
        lines.append(f"pairwise {name}: {_pairwise(entry, entry.overall)}")
        other = "model" if entry.by == "variant" else "variant"
        if len(entry.cells) > 1:
            for cell in entry.cells:
                lines.append(f"  {other} {getattr(cell, other)}: {_pairwise(entry, cell)}")
    for name, calibration in (summary.calibration or {}).items():
        lines.append(f"calibration {name}: {_calibration(calibration)}")
    return lines


def _pairwise(entry: PairwiseSummary, stats: WinStats) -> str:
    a, b = entry.a, entry.b
    if not stats.n:
        note = entry.note or "no pair could be judged"
        unscored = f" ({stats.n_unscored} unscored)" if stats.n_unscored else ""
        return f"{a} vs {b}: {note}{unscored}"
    text = f"{a} beats {b} {_pct(stats.win_rate_a)}"
    if stats.ci_low is not None:
        text += f" [{_pct(stats.ci_low)}-{_pct(stats.ci_high)}]"
    text += (
        f" (ties count half): {stats.wins_a} wins, {stats.wins_b} losses,"
        f" {stats.ties} ties ({stats.inconsistent} inconsistent across orders),"
        f" n={stats.n}"
    )
    if stats.n_unscored:
        text += f", {stats.n_unscored} unscored"
    return text


def _calibration(entry: Calibration) -> str:
    if not entry.n:
        return f"no item has both a judge score and a human label in '{entry.human_label}'"
    kappa = entry.kappa
    text = (
        f"agreement with human labels '{entry.human_label}': accuracy "
        f"{_pct(entry.accuracy)}, Cohen's kappa {'n/a' if kappa is None else f'{kappa:.2f}'}"
    )
    quadratic = (entry.model_extra or {}).get("kappa_quadratic")
    if quadratic is not None:
        text += f" (quadratic {quadratic:.2f})"
    return text + f", n={entry.n}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
