"""The examples a regression gate lists: those scored lower than in the baseline, with both
outputs, the biggest drops first (reports show them side by side)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from evalkit.gates.values import Record

MAX_LISTED = 25  # examples listed per result; reports stay readable on big datasets


def dropped_examples(
    current: dict[str, float | None],
    previous: dict[str, float | None],
    records: list[Record],
    base_records: list[Record],
) -> list[dict[str, Any]]:
    """Examples scored lower than in the baseline, the biggest drops first."""
    drops: list[tuple[float, str, str]] = []
    for example_id, now in current.items():
        before = previous.get(example_id)
        if now is not None and before is not None and now < before:
            drops.append((before - now, str(example_id), example_id))
    drops.sort(key=lambda d: (-d[0], d[1]))
    out_now, out_before = _outputs(records), _outputs(base_records)
    return [
        {
            "example_id": i,
            "baseline": previous[i],
            "current": current[i],
            "output": out_now.get(i),
            "baseline_output": out_before.get(i),
        }
        for _, _, i in drops[:MAX_LISTED]
    ]


def _outputs(records: list[Record]) -> dict[Hashable, str | None]:
    """The first repeat's output per example, cut short for reports."""
    outputs: dict[Hashable, str | None] = {}
    for record in sorted(records, key=lambda r: r.repeat):
        if record.example_id not in outputs:
            text = record.output
            outputs[record.example_id] = text[:300] if isinstance(text, str) else None
    return outputs
