"""Examples as a person reads them: the input, the expected value, and each output with its scores.

Shared by `evalkit show`, `evalkit compare`, the Markdown and JUnit reports. Which dataset
columns are "expected" is decided once here: the columns the metrics and graders compare with
and no prompt uses (`contains: "{{ gold }}"` makes `gold` expected), else the usual names.

    views = example_views(run.manifest, run.records())
    views[0].input, views[0].expected, views[0].outputs[("plain", "mock")][0].output
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evalkit.results.schema import ResultRecord, RunManifest, ScoreDoc

Cell = tuple[str, str]  # (variant, model)
EXPECTED_NAMES = ("expected", "answer", "reference", "target", "ideal", "label")
_VAR = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)")


def expected_keys(manifest: RunManifest, names: Iterable[str]) -> list[str]:
    """The dataset columns (of `names`) holding expected values, in dataset order."""
    names = list(names)
    scoring = " ".join(str(m.args) for m in manifest.metrics)
    scoring += " ".join(str(g.config) for g in manifest.graders)
    prompts = " ".join(v.template for v in manifest.variants.values())
    used = set(_VAR.findall(scoring)) - set(_VAR.findall(prompts))
    found = [n for n in names if n in used]
    return found or usual_expected(names)


def usual_expected(names: Iterable[str]) -> list[str]:
    """The one column named the usual way ("expected" first, then "answer", ...), if any."""
    usual = [n for n in names if n.lower() in EXPECTED_NAMES]
    return sorted(usual, key=lambda n: EXPECTED_NAMES.index(n.lower()))[:1]


def row_keys(records: Iterable[ResultRecord]) -> list[str]:
    """Every dataset column seen in the records, in first-seen order."""
    return list(dict.fromkeys(k for r in records for k in (r.inputs or {})))


def split_row(row: dict[str, Any] | None, expected: list[str]) -> tuple[dict[str, Any], dict]:
    """(input columns, expected columns) of a dataset row; the id column is neither."""
    row = row or {}
    inputs = {k: v for k, v in row.items() if k not in expected and k != "id"}
    return inputs, {k: row[k] for k in expected if row.get(k) not in (None, "")}


def value_text(value: Any) -> str:
    """A dataset value as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def fields_text(values: dict[str, Any], sep: str = "\n") -> str:
    """One value as is; several as "name: value" lines."""
    if len(values) == 1:
        return value_text(next(iter(values.values())))
    return sep.join(f"{k}: {value_text(v)}" for k, v in values.items())


def score_text(score: ScoreDoc) -> str:
    """ "pass", "fail", "0.73", "unscored" or "skipped" (a pass/fail with a value shows both)."""
    if score.skipped:
        return "skipped"
    if score.value is None:
        return "unscored"
    value = f"{score.value:.3g}"
    if score.passed is None:
        return value
    word = "pass" if score.passed else "fail"
    return word if score.value in (0.0, 1.0) else f"{word} ({value})"


def score_json(score: ScoreDoc) -> dict[str, Any]:
    return {
        "value": score.value,
        "passed": score.passed,
        "reason": score.reason,
        "skipped": score.skipped,
    }


@dataclass(frozen=True)
class Attempt:
    """One repeat of an example in one variant x model: its output (or error) and scores."""

    repeat: int
    output: str | None
    error: str | None
    scores: dict[str, ScoreDoc]

    @classmethod
    def of(cls, record: ResultRecord) -> Attempt:
        return cls(record.repeat, record.output, record.error, dict(record.scores))

    def to_json(self) -> dict[str, Any]:
        return {
            "repeat": self.repeat,
            "output": self.output,
            "error": self.error,
            "scores": {name: score_json(s) for name, s in self.scores.items()},
        }


@dataclass
class ExampleView:
    """One example of a run: its input, expected value and outputs per variant x model."""

    example_id: str
    input: dict[str, Any]
    expected: dict[str, Any]
    outputs: dict[Cell, list[Attempt]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A call failed, or a score did not pass."""
        attempts = (a for tries in self.outputs.values() for a in tries)
        return any(a.error or any(s.passed is False for s in a.scores.values()) for a in attempts)

    def to_json(self) -> dict[str, Any]:
        return {
            "example_id": self.example_id,
            "input": self.input,
            "expected": self.expected,
            "outputs": [
                {"variant": v, "model": m, "repeats": [a.to_json() for a in tries]}
                for (v, m), tries in self.outputs.items()
            ],
        }


def example_views(manifest: RunManifest, records: list[ResultRecord]) -> list[ExampleView]:
    """Every example of a run, in natural id order (q2 before q10)."""
    expected = expected_keys(manifest, row_keys(records))
    views: dict[str, ExampleView] = {}
    for record in sorted(records, key=lambda r: r.repeat):
        view = views.get(record.example_id)
        if view is None:
            inputs, wanted = split_row(record.inputs, expected)
            view = views[record.example_id] = ExampleView(record.example_id, inputs, wanted)
        view.outputs.setdefault(record.cell, []).append(Attempt.of(record))
    return sorted(views.values(), key=lambda v: natural_key(v.example_id))


def natural_key(text: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


class ExampleRows:
    """Input and expected text per example id, for reports that list examples by id."""

    def __init__(self, manifest: RunManifest, records: list[ResultRecord]) -> None:
        self.expected = expected_keys(manifest, row_keys(records))
        self.rows = {r.example_id: r.inputs for r in records if r.inputs}

    def input(self, example_id: Any) -> str | None:
        inputs, _ = split_row(self.rows.get(str(example_id)), self.expected)
        return fields_text(inputs, sep="; ") if inputs else None

    def expected_value(self, example_id: Any) -> str | None:
        _, wanted = split_row(self.rows.get(str(example_id)), self.expected)
        return fields_text(wanted, sep="; ") if wanted else None


@dataclass
class PairedExample:
    """One example in one variant x model of two runs, side by side, with the scores that moved."""

    example_id: str
    variant: str
    model: str
    input: dict[str, Any]
    expected: dict[str, Any]
    a: list[Attempt]
    b: list[Attempt]
    changes: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (A, B)
    input_a: dict[str, Any] | None = None  # run A's input, only when it differs from B's

    @property
    def biggest_change(self) -> float:
        return max((abs(b - a) for a, b in self.changes.values()), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "example_id": self.example_id,
            "variant": self.variant,
            "model": self.model,
            "input": self.input,
            "input_a": self.input_a,
            "expected": self.expected,
            "changes": {m: {"a": a, "b": b} for m, (a, b) in self.changes.items()},
            "a": [x.to_json() for x in self.a],
            "b": [x.to_json() for x in self.b],
        }


def paired_examples(
    manifest: RunManifest,
    records_a: list[ResultRecord],
    records_b: list[ResultRecord],
    changes: dict[tuple[str, str, str], dict[str, tuple[float, float]]],
) -> list[PairedExample]:
    """`changes`: (example id, variant, model) -> {metric: (A, B)}; grouped by variant x model
    in the order of `changes`, the biggest change first within each."""
    expected = expected_keys(manifest, row_keys([*records_b, *records_a]))
    by_key: dict[tuple[str, str, str], tuple[list[ResultRecord], list[ResultRecord]]] = {
        key: ([], []) for key in changes
    }
    for side, records in ((0, records_a), (1, records_b)):
        for r in records:
            key = (r.example_id, r.variant, r.model)
            if key in by_key:
                by_key[key][side].append(r)
    out = [_pair(key, recs, changes[key], expected) for key, recs in by_key.items()]
    cells = list(dict.fromkeys((v, m) for _, v, m in changes))  # the comparison's order
    out.sort(
        key=lambda p: (
            cells.index((p.variant, p.model)),
            -p.biggest_change,
            natural_key(p.example_id),
        )
    )
    return out


def _pair(
    key: tuple[str, str, str],
    records: tuple[list[ResultRecord], list[ResultRecord]],
    changes: dict[str, tuple[float, float]],
    expected: list[str],
) -> PairedExample:
    rec_a = sorted(records[0], key=lambda r: r.repeat)
    rec_b = sorted(records[1], key=lambda r: r.repeat)
    row_a = rec_a[0].inputs if rec_a else None
    row_b = rec_b[0].inputs if rec_b else row_a
    inputs, wanted = split_row(row_b, expected)
    inputs_a, _ = split_row(row_a, expected)
    return PairedExample(
        *key,
        input=inputs,
        expected=wanted,
        a=[Attempt.of(r) for r in rec_a],
        b=[Attempt.of(r) for r in rec_b],
        changes=changes,
        input_a=inputs_a if row_a is not None and inputs_a != inputs else None,
    )
