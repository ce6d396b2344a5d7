"""Terminal lines for what the comparison table does not show: pairwise results, calibration."""

from __future__ import annotations

from typing import Any


def grader_lines(summary: dict[str, Any]) -> list[str]:
    """One line per pairwise grader (and per cell when there are several), one per calibration."""
    lines: list[str] = []
    for name, entry in (summary.get("pairwise") or {}).items():
        lines.append(f"pairwise {name}: {_pairwise(entry, entry['overall'])}")
        other = "model" if entry["by"] == "variant" else "variant"
        if len(entry["cells"]) > 1:
            for cell in entry["cells"]:
                lines.append(f"  {other} {cell[other]}: {_pairwise(entry, cell)}")
    for name, entry in (summary.get("calibration") or {}).items():
        lines.append(f"calibration {name}: {_calibration(entry)}")
    return lines


def _pairwise(entry: dict[str, Any], stats: dict[str, Any]) -> str:
    a, b = entry["a"], entry["b"]
    if not stats["n"]:
        note = entry.get("note") or "no pair could be judged"
        unscored = f" ({stats['n_unscored']} unscored)" if stats["n_unscored"] else ""
        return f"{a} vs {b}: {note}{unscored}"
    text = f"{a} beats {b} {_pct(stats['win_rate_a'])}"
    if stats.get("ci_low") is not None:
        text += f" [{_pct(stats['ci_low'])}-{_pct(stats['ci_high'])}]"
    text += (
        f" (ties count half): {stats['wins_a']} wins, {stats['wins_b']} losses,"
        f" {stats['ties']} ties ({stats['inconsistent']} inconsistent across orders),"
        f" n={stats['n']}"
    )
    if stats["n_unscored"]:
        text += f", {stats['n_unscored']} unscored"
    return text


def _calibration(entry: dict[str, Any]) -> str:
    if not entry.get("n"):
        return f"no item has both a judge score and a human label in '{entry['human_label']}'"
    kappa = entry.get("kappa")
    text = (
        f"agreement with human labels '{entry['human_label']}': accuracy "
        f"{_pct(entry['accuracy'])}, Cohen's kappa {'n/a' if kappa is None else f'{kappa:.2f}'}"
    )
    if entry.get("kappa_quadratic") is not None:
        text += f" (quadratic {entry['kappa_quadratic']:.2f})"
    return text + f", n={entry['n']}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
