"""The per-example part of the HTML report: every example side by side across the run's
variants x models (and the baseline run's), with flags the page filters on.

- changed: with a baseline, the output or a score differs from the baseline's for the same
  variant x model (or the example is new or gone); without one, a pass/fail differs across
  the run's own variants and models
- failed:  in this run, a call failed or a score did not pass
- flaky:   in this run, repeats of the example disagree on a pass/fail (or summary.json says so)

Big runs are capped: changed, failed and flaky examples are kept first, and the page says how
many were left out (results.jsonl has them all).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalkit.report.html_parts import badge, clip, esc, num, tag

if TYPE_CHECKING:
    from evalkit.results.schema import ResultRecord, ScoreDoc
    from evalkit.results.store import StoredRun

MAX_EXAMPLES = 1000
EPSILON = 1e-9
_VAR = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)")
EXPECTED_NAMES = ("expected", "answer", "reference", "target", "ideal", "label")


@dataclass(frozen=True)
class Column:
    """One column of outputs: a variant x model of the run, or of the baseline run."""

    side: str  # "run" | "baseline"
    variant: str
    model: str

    @property
    def label(self) -> str:
        return f"{self.variant} x {self.model}"


@dataclass
class Example:
    example_id: str
    inputs: dict[str, Any]
    cells: dict[Column, list[ResultRecord]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # why, e.g. "output", "contains"
    failed: bool = False
    flaky: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.changed) or self.failed or self.flaky


def columns(run: StoredRun, baseline: StoredRun | None) -> list[Column]:
    """Cells in the run's order, each preceded by the baseline's same cell when it has one."""
    mine = _cells(run)
    theirs = _cells(baseline) if baseline is not None else []
    out: list[Column] = []
    for cell in mine:
        if cell in theirs:
            out.append(Column("baseline", *cell))
        out.append(Column("run", *cell))
    out += [Column("baseline", *c) for c in theirs if c not in mine]
    return out


def _cells(run: StoredRun) -> list[tuple[str, str]]:
    cells = [(c.variant, c.model) for c in run.summary.cells]
    return list(dict.fromkeys(cells + [r.cell for r in run.records()]))


def build_examples(run: StoredRun, baseline: StoredRun | None) -> list[Example]:
    """Every example of both runs, in natural id order (q2 before q10), with its flags."""
    examples: dict[str, Example] = {}
    for side, stored in (("run", run), ("baseline", baseline)):
        for record in stored.records() if stored is not None else []:
            ex = examples.setdefault(record.example_id, Example(record.example_id, {}))
            if side == "run" or not ex.inputs:
                ex.inputs = record.inputs or ex.inputs
            ex.cells.setdefault(Column(side, *record.cell), []).append(record)
    flaky_ids = _reported_flaky(run)
    for ex in examples.values():
        for recs in ex.cells.values():
            recs.sort(key=lambda r: r.repeat)
        _flag(ex, baseline is not None, flaky_ids)
    return sorted(examples.values(), key=lambda e: _natural(e.example_id))


def _reported_flaky(run: StoredRun) -> set[tuple[str, str, str]]:
    return {(f.variant, f.model, str(i)) for f in run.summary.flaky for i in f.flaky}


def _flag(ex: Example, with_baseline: bool, flaky_ids: set[tuple[str, str, str]]) -> None:
    mine = {c: r for c, r in ex.cells.items() if c.side == "run"}
    for col, recs in mine.items():
        ex.failed |= any(r.error is not None or _failed_scores(r) for r in recs)
        ex.flaky |= (col.variant, col.model, ex.example_id) in flaky_ids or _disagree(recs)
    if with_baseline:
        ex.changed = _vs_baseline(ex)
    elif len({_passes(r) for recs in mine.values() for r in recs}) > 1:
        ex.changed = ["differs across variants/models"]


def _failed_scores(record: ResultRecord) -> list[str]:
    return [name for name, s in record.scores.items() if s.passed is False]


def _passes(record: ResultRecord) -> tuple[tuple[str, bool | None], ...]:
    if record.error is not None:
        return (("error", False),)
    return tuple(sorted((name, s.passed) for name, s in record.scores.items()))


def _disagree(records: list[ResultRecord]) -> bool:
    """Repeats of one example in one cell that disagree on a pass/fail."""
    if len(records) < 2:
        return False
    return len({_passes(r) for r in records}) > 1


def _vs_baseline(ex: Example) -> list[str]:
    mine = {(c.variant, c.model): r for c, r in ex.cells.items() if c.side == "run"}
    theirs = {(c.variant, c.model): r for c, r in ex.cells.items() if c.side == "baseline"}
    if not theirs:
        return ["new"]
    if not mine:
        return ["gone"]
    reasons: list[str] = []
    for cell in mine.keys() & theirs.keys():
        for a, b in zip(theirs[cell], mine[cell], strict=False):
            if a.output != b.output or (a.error is None) != (b.error is None):
                reasons.append("output")
            reasons += [name for name in _score_names([a, b]) if _score_changed(a, b, name)]
    return list(dict.fromkeys(reasons))


def _score_changed(a: ResultRecord, b: ResultRecord, name: str) -> bool:
    sa, sb = a.scores.get(name), b.scores.get(name)
    if sa is None or sb is None:
        return (sa is None) != (sb is None)
    if sa.passed != sb.passed or (sa.value is None) != (sb.value is None):
        return True
    return sa.value is not None and sb.value is not None and abs(sa.value - sb.value) > EPSILON


def _score_names(records: list[ResultRecord]) -> list[str]:
    return list(dict.fromkeys(name for r in records for name in r.scores))


def _natural(text: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def select(examples: list[Example], limit: int) -> tuple[list[Example], str]:
    """At most `limit` examples, flagged ones first, shown in id order; a note when capped."""
    if len(examples) <= limit:
        return examples, ""
    flagged = [e for e in examples if e.flagged]
    keep = {id(e) for e in (flagged + [e for e in examples if not e.flagged])[:limit]}
    shown = [e for e in examples if id(e) in keep]
    first = "changed, failed and flaky examples first" if flagged else "in id order"
    note = (
        f"Showing {len(shown)} of {len(examples)} examples ({first}; {len(flagged)} are"
        " flagged). The filters and groups below apply to these; every example is in the"
        " run's results.jsonl. Raise the cap with --max-examples."
    )
    return shown, note


# --- which dataset columns are inputs, expected values, slices -------------------------------


def expected_columns(run: StoredRun, names: list[str]) -> list[str]:
    """Columns the metrics and graders compare with (not used by a prompt), else the usual names."""
    scoring = " ".join(str(m.args) for m in run.manifest.metrics)
    scoring += " ".join(str(g.config) for g in run.manifest.graders)
    prompts = " ".join(v.template for v in run.manifest.variants.values())
    used = set(_VAR.findall(scoring)) - set(_VAR.findall(prompts))
    found = [n for n in names if n in used]
    return found or [n for n in names if n.lower() in EXPECTED_NAMES][:1]


def column_names(examples: list[Example]) -> list[str]:
    return list(dict.fromkeys(k for e in examples for k in e.inputs))


# --- rendering --------------------------------------------------------------------------------


def examples_table(
    examples: list[Example], cols: list[Column], expected: list[str], slice_cols: list[str]
) -> str:
    sides = {c.side for c in cols}
    head = _head(cols, with_sides=len(sides) > 1)
    rows = "".join(_row(e, cols, expected, slice_cols) for e in examples)
    width = 3 + len(cols)
    return (
        f'<table id="examples" class="examples" data-cols="{width}">{head}'
        f"<tbody>{rows}</tbody></table>"
    )


def _head(cols: list[Column], with_sides: bool) -> str:
    fixed = "<th>example</th><th>input</th><th>expected</th>"
    if not with_sides:
        cells = "".join(f"<th>{esc(c.label)}</th>" for c in cols)
        return f"<thead><tr>{fixed}{cells}</tr></thead>"
    groups: dict[str, int] = defaultdict(int)
    for col in cols:
        groups[col.label] += 1
    top = "".join(f'<th colspan="{n}">{esc(label)}</th>' for label, n in groups.items())
    fixed = fixed.replace("<th>", '<th rowspan="2">')
    side = "".join(f'<th class="{c.side}">{_side_name(c.side)}</th>' for c in cols)
    return f"<thead><tr>{fixed}{top}</tr><tr>{side}</tr></thead>"


def _side_name(side: str) -> str:
    return "baseline" if side == "baseline" else "this run"


def _row(ex: Example, cols: list[Column], expected: list[str], slice_cols: list[str]) -> str:
    attrs = {
        "data_id": ex.example_id,
        "data_changed": int(bool(ex.changed)),
        "data_failed": int(ex.failed),
        "data_flaky": int(ex.flaky),
    }
    for i, name in enumerate(slice_cols):
        attrs[f"data_s{i}"] = slice_value(ex.inputs.get(name))
    flags = [badge("changed")] if ex.changed else []
    flags += [badge("fail")] if ex.failed else []
    flags += [badge("flaky")] if ex.flaky else []
    why = f'<div class="why">{esc(", ".join(ex.changed))}</div>' if ex.changed else ""
    inputs = {k: v for k, v in ex.inputs.items() if k not in expected and k != "id"}
    cells = [
        tag("td", f'<span class="exid">{esc(ex.example_id)}</span> {" ".join(flags)}{why}'),
        tag("td", _fields(inputs), "input"),
        tag("td", _fields({k: ex.inputs.get(k) for k in expected}), "expected"),
    ]
    diff = "output" in ex.changed
    for col in cols:
        recs = ex.cells.get(col)
        body = "".join(_repeat(r, len(recs) > 1) for r in recs) if recs else _absent()
        cls = f"out {col.side}" + (" diff" if diff and col.side == "run" else "")
        cells.append(tag("td", body, cls))
    return tag("tr", "".join(cells), "ex", **attrs)


def slice_value(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


def _fields(values: dict[str, Any]) -> str:
    if not values:
        return '<span class="none">–</span>'
    if len(values) == 1:
        return f'<div class="text">{clip(next(iter(values.values())))}</div>'
    items = "".join(f"<dt>{esc(k)}</dt><dd>{clip(v)}</dd>" for k, v in values.items())
    return f"<dl>{items}</dl>"


def _absent() -> str:
    return '<span class="none">not run</span>'


def _repeat(record: ResultRecord, label: bool) -> str:
    head = f'<div class="rep-label">repeat {record.repeat}</div>' if label else ""
    if record.error is not None:
        text = f'<div class="text error">error: {clip(record.error)}</div>'
    else:
        text = f'<div class="text">{clip(record.output)}</div>'
    scores = "".join(_score(name, s) for name, s in record.scores.items())
    return f'<div class="rep">{head}{text}<ul class="scores">{scores}</ul></div>'


def _score(name: str, score: ScoreDoc) -> str:
    if score.skipped:
        status, shown = "skip", "skipped"
    elif score.value is None:
        status, shown = "unscored", "unscored"
    else:
        status = {True: "pass", False: "fail", None: "value"}[score.passed]
        shown = num(score.value)
    mark = {"pass": "✓", "fail": "✗"}.get(status, "")
    reason = f' <span class="reason">{clip(score.reason, 500)}</span>' if score.reason else ""
    return (
        f'<li class="{status}"><span class="sname">{esc(name)}</span>'
        f" <b>{esc(shown)}</b> {mark}{reason}</li>"
    )
