"""Judge drift: a grader's scores from two different judges are not comparable.

Every grader score carries the hash of the judge that gave it (model, prompt, params, mode and
labels; evalkit.graders.judge.make_judge). When a regression gate's baseline and candidate were
scored by different judges, a change of judge would look like a change of the system: a warmer
judge alone fails a gate most of the time. So such a gate is reported "not comparable" (it
fails, unless the suite says `on_judge_change: compare`), with both hashes and, from the two
runs' run.json, what differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evalkit.gates.values import Record
from evalkit.results.schema import RunManifest

SHOWN = 80  # characters of a differing value


@dataclass(frozen=True)
class JudgeDrift:
    current: tuple[str, ...]
    baseline: tuple[str, ...]
    differences: list[str] = field(default_factory=list)

    def describe(self) -> str:
        what = "; ".join(self.differences) if self.differences else "run.json does not say what"
        return (
            f"the judge changed: hash {', '.join(self.baseline)} in the baseline, "
            f"{', '.join(self.current)} now ({what})"
        )

    def to_stats(self) -> dict[str, Any]:
        return {
            "baseline_hash": list(self.baseline),
            "current_hash": list(self.current),
            "differences": self.differences,
        }


def judge_hashes(records: Iterable[Record], metric: str) -> set[str]:
    """The judge hashes behind a metric's scores (a panel's hashes as one sorted string)."""
    found: set[str] = set()
    for record in records:
        score = record.scores.get(metric)
        digest = (score.meta or {}).get("judge_hash") if score is not None else None
        if isinstance(digest, dict):
            digest = json.dumps(digest, sort_keys=True)
        if isinstance(digest, str):
            found.add(digest)
    return found


def judge_drift(
    metric: str,
    records: list[Record],
    base_records: list[Record],
    manifest: RunManifest | None = None,
    base_manifest: RunManifest | None = None,
) -> JudgeDrift | None:
    """How the judge of `metric` differs between the runs; None when it is the same one (or the
    metric is not a grader's)."""
    now, before = judge_hashes(records, metric), judge_hashes(base_records, metric)
    if not now or not before or now == before:
        return None
    differences = []
    if manifest is not None and base_manifest is not None:
        differences = grader_differences(metric, manifest, base_manifest)
    return JudgeDrift(tuple(sorted(now)), tuple(sorted(before)), differences)


def grader_differences(metric: str, now: RunManifest, before: RunManifest) -> list[str]:
    """ "temperature: 0 -> 0.7"-style lines: the grader's config, prompt and judge models."""
    grader = next((g for g in now.graders if g.name == metric), None)
    old = next((g for g in before.graders if g.name == metric), None)
    if grader is None or old is None:
        return []
    lines = _diff(
        "",
        {**old.config, "prompt": old.prompt_hash, "judges": old.judges},
        {
            **grader.config,
            "prompt": grader.prompt_hash,
            "judges": grader.judges,
        },
    )
    for judge in dict.fromkeys([*grader.judges, *old.judges]):
        a, b = before.model_info(judge), now.model_info(judge)
        a_doc = a.model_dump(exclude={"id", "options"}) if a else {}
        b_doc = b.model_dump(exclude={"id", "options"}) if b else {}
        lines += _diff(f"judge {judge} ", a_doc, b_doc)
    return lines


def _diff(prefix: str, before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    lines = []
    for key in dict.fromkeys([*before, *now]):
        a, b = before.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += _diff(f"{prefix}{key}.", a, b)
        elif a != b:
            lines.append(f"{prefix}{key}: {_short(a)} -> {_short(b)}")
    return lines


def _short(value: Any) -> str:
    text = "unset" if value is None else json.dumps(value, default=str)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
