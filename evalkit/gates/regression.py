"""Regression gates: this run against a baseline run, example by example.

Decision rule (per regression gate and cell): pair the two runs by example id (one value per
example, the mean over repeats), run `evalkit.stats.paired.regression_test` (exact McNemar for
pass/fail, paired bootstrap for scores; H0: the drop is at most `max_drop`), then adjust the
one-sided p-values of *all* regression gates and cells of the run together with Holm's method.
A gate fails when its adjusted p < alpha and the observed drop exceeds `max_drop`: the drop is
both larger than tolerated and not explained by noise, and checking many gates does not raise
the chance of a false alarm above alpha.

A baseline example the candidate has no result for (its call errored, it went unscored, it is
absent from the run, or its dataset row changed) counts against the candidate by default, as
a fail (`missing:`, see evalkit.gates.missing); examples only in the candidate, or unscored in
the baseline, cannot be compared and are listed (`on_mismatch: fail` fails on them).

A passing test counts only if it could have seen the drop it guards (evalkit.stats.evidence):
otherwise the gate is **inconclusive** (failing the run unless `inconclusive: pass`), with the
drop it could detect and the n it would need. Scores of a grader whose judge changed since the
baseline are **not comparable** (evalkit.gates.judges; fails unless `on_judge_change: compare`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import GateError
from evalkit.gates.dropped import MAX_LISTED, dropped_examples
from evalkit.gates.judges import JudgeDrift, judge_drift
from evalkit.gates.missing import MissingCounts, counts_of, example_values, worst_value
from evalkit.gates.slices import slice_pairs
from evalkit.gates.values import (
    Cell,
    Record,
    cells_of,
    input_digests,
    is_pass_fail,
    score_range,
)
from evalkit.gates.verdict import GateResult, cell_label
from evalkit.results.schema import RunManifest, RunSummary
from evalkit.suite.gates import RegressionGate


@dataclass(frozen=True)
class BaselineRun:
    run_id: str
    records: list[Record]
    summary: RunSummary | None = None
    manifest: RunManifest | None = None  # says what differs when the judge changed


# Looks a baseline name (or run id) up; None when it does not exist.
BaselineSource = Callable[[str], BaselineRun | None]


class BaselineUnavailable(GateError):
    """A source could not tell whether the baseline exists (e.g. MLflow unreachable): the gate
    fails with this message, even with `if_missing: skip`, since the baseline may well exist."""


@dataclass
class _Tested:
    """A regression test that ran; the verdict waits for Holm's adjustment across all of them."""

    gate: RegressionGate
    cell: Cell
    baseline: BaselineRun
    result: Any  # evalkit.stats.paired.RegressionResult
    missing: MissingCounts
    examples: list[dict[str, Any]] = field(default_factory=list)
    drift: JudgeDrift | None = None  # the judge changed and the suite compares anyway
    named: Callable[[GateResult], GateResult] | None = None  # says its slice (`per:`)


def decide_regressions(
    gates: Sequence[RegressionGate],
    records: list[Record],
    baselines: BaselineSource | None,
    manifest: RunManifest | None = None,
) -> list[list[GateResult]]:
    """Results per gate (one per cell), with p-values Holm-adjusted across every test."""
    from evalkit.stats.paired import holm_adjust

    slots: list[list[GateResult | _Tested]] = [
        _test_gate(gate, records, baselines, manifest) for gate in gates
    ]
    tested = [t for slot in slots for t in slot if isinstance(t, _Tested)]
    adjusted = holm_adjust([t.result.p_value for t in tested]) if tested else []
    final = dict(zip(map(id, tested), adjusted, strict=True))
    return [
        [
            _named(_finish(t, final[id(t)], len(tested)), t) if isinstance(t, _Tested) else t
            for t in slot
        ]
        for slot in slots
    ]


def _test_gate(
    gate: RegressionGate,
    records: list[Record],
    baselines: BaselineSource | None,
    manifest: RunManifest | None,
) -> list[GateResult | _Tested]:
    try:
        baseline = baselines(gate.baseline) if baselines is not None else None
    except BaselineUnavailable as exc:
        return [_failed(gate, None, exc.message)]
    if baseline is None:
        return [_missing_baseline(gate)]
    if records and baseline.run_id == records[0].run_id:
        why = (
            f"baseline '{gate.baseline}' is this run ({baseline.run_id}): a run compared with"
            " itself shows no change whatever it did; gate against an earlier run"
        )
        return [_failed(gate, None, why)]
    cells = cells_of(records, gate.variant, gate.model)
    if not cells:
        where = cell_label(gate.variant, gate.model)
        return [_failed(gate, None, f"no results for {where} in this run")]
    out: list[GateResult | _Tested] = []
    for cell, recs in cells.items():
        base_cell = (gate.baseline_variant or cell[0], gate.baseline_model or cell[1])
        base_records = cells_of(baseline.records, *base_cell).get(base_cell, [])
        if not base_records:
            why = f"baseline run {baseline.run_id} has no results for {cell_label(*base_cell)}"
            out.append(_failed(gate, cell, why))
            continue
        for part in slice_pairs(gate.per, recs, base_records):  # one part without `per:`
            found = _test_cell(gate, cell, part.current, part.baseline, baseline, manifest)
            out.append(part.name(found))
    return out


@dataclass
class _Pairs:
    """Both runs' per-example values as the test sees them, and the candidate's missing ones."""

    current: dict[str, float | None]
    previous: dict[str, float | None]
    missing: MissingCounts
    bounds: tuple[float, float] | None


def _test_cell(
    gate: RegressionGate,
    cell: Cell,
    records: list[Record],
    base_records: list[Record],
    baseline: BaselineRun,
    manifest: RunManifest | None,
) -> GateResult | _Tested:
    from evalkit.stats.paired import regression_test

    if not base_records:  # a slice the baseline does not have: nothing to compare it with
        why = f"no example of this slice in baseline run {baseline.run_id}: nothing to compare"
        return _base_result(gate, cell, status="skip", message=why)
    drift = judge_drift(gate.metric, records, base_records, manifest, baseline.manifest)
    if drift is not None and gate.on_judge_change == "fail":
        return _not_comparable(gate, cell, baseline, drift)
    kind = _kind(gate, records, base_records)
    pairs = _pairs(gate, kind, records, base_records)
    if gate.missing == "error" and pairs.missing.total:
        return _failed(gate, cell, f"vs baseline {baseline.run_id}: {pairs.missing.describe()}")
    try:
        result = regression_test(
            pairs.current,
            pairs.previous,
            kind=kind,
            max_drop=gate.max_drop,
            alpha=gate.alpha,
            n_resamples=gate.n_resamples,
            seed=gate.seed,
            bounds=pairs.bounds,
        )
    except ValueError as exc:
        why = f"cannot compare with baseline {baseline.run_id}: {exc}"
        if pairs.missing.total:
            why += f"; {pairs.missing.describe()}"
        if pairs.missing.changed:
            why += " (was the dataset edited? then set a new baseline)"
        return _failed(gate, cell, why)
    examples = dropped_examples(pairs.current, pairs.previous, records, base_records)
    return _Tested(gate, cell, baseline, result, pairs.missing, examples, drift)


def _pairs(gate: RegressionGate, kind: str, records: list[Record], base: list[Record]) -> _Pairs:
    """Per-example values with the `missing:` policy applied to the candidate's side.

    The baseline's own gaps (errors, unscored) are not the candidate's doing: those examples
    are left out. A baseline example the candidate lacks counts as its worst value under
    `missing: fail`; under `exclude` it is left out (and listed)."""
    stat = "pass_rate" if kind == "pass_rate" else "mean"
    found = example_values(records, gate.metric, stat)
    before = example_values(base, gate.metric, stat)
    bounds = None if kind == "pass_rate" else score_range([*records, *base], gate.metric)
    fill = worst_value([*found.observed(), *before.observed()], kind, bounds)
    filling = gate.missing == "fail"
    current = found.means(fill if filling else None)
    previous = before.means(None)
    missing = counts_of(found, gate.missing)
    missing.changed = _changed_inputs(records, base)
    for example_id in missing.changed:  # same id, another row: the baseline's one is not run
        current.pop(example_id, None)
        if not filling:
            previous.pop(example_id, None)
    errored = {r.example_id for r in records if not r.ok}
    lacking = [i for i, v in previous.items() if v is not None and i not in current]
    lacking = [i for i in lacking if i not in missing.changed]
    missing.errors = sorted({*missing.errors, *(i for i in lacking if i in errored)})
    missing.absent = sorted(i for i in lacking if i not in errored)
    if filling:
        for example_id, value in previous.items():
            if value is not None and current.get(example_id) is None:
                current[example_id] = fill
    return _Pairs(current, previous, missing, bounds)


def _kind(gate: RegressionGate, records: list[Record], base_records: list[Record]) -> Any:
    if gate.stat is not None:
        return gate.stat
    both = is_pass_fail(records, gate.metric) and is_pass_fail(base_records, gate.metric)
    return "pass_rate" if both else "mean"


def _changed_inputs(records: list[Record], base_records: list[Record]) -> list[str]:
    now, before = input_digests(records), input_digests(base_records)
    return sorted(i for i in now.keys() & before.keys() if now[i] != before[i])


# --- results ---------------------------------------------------------------------------------


def _name(gate: RegressionGate, cell: Cell | None) -> str:
    from evalkit.gates.evaluate import default_name

    name = default_name(gate)
    return f"{name} [{cell_label(*cell)}]" if cell else name


def _base_result(gate: RegressionGate, cell: Cell | None, **fields: Any) -> GateResult:
    variant, model = cell if cell else (gate.variant, gate.model)
    return GateResult(
        name=_name(gate, cell),
        type="regression",
        metric=gate.metric,
        variant=variant,
        model=model,
        threshold=f"drop <= {gate.max_drop:g} (alpha {gate.alpha:g})",
        **fields,
    )


def _failed(gate: RegressionGate, cell: Cell | None, why: str) -> GateResult:
    return _base_result(gate, cell, status="fail", message=why)


def _missing_baseline(gate: RegressionGate) -> GateResult:
    status = "skip" if gate.if_missing == "skip" else "fail"
    why = (
        f"baseline '{gate.baseline}' not found"
        + (" (skipped: if_missing: skip)" if status == "skip" else "")
        + f"; mark a run with: evalkit baseline set RUN_ID --name {gate.baseline}"
    )
    return _base_result(gate, None, status=status, message=why)


def _named(result: GateResult, tested: _Tested) -> GateResult:
    return tested.named(result) if tested.named is not None else result


def _not_comparable(
    gate: RegressionGate, cell: Cell, baseline: BaselineRun, drift: JudgeDrift
) -> GateResult:
    why = (
        f"NOT COMPARABLE with baseline {baseline.run_id}: {drift.describe()}; scores from "
        "different judges measure different things. Set a new baseline scored by this judge, "
        "or compare anyway with on_judge_change: compare"
    )
    stats = {"baseline_run_id": baseline.run_id, "judge_change": drift.to_stats()}
    return _base_result(gate, cell, status="not_comparable", message=why, statistics=stats)


def _finish(t: _Tested, p_adjusted: float, family: int) -> GateResult:
    r, gate = t.result, t.gate
    mismatch = _mismatch(r, t.missing)
    regressed = p_adjusted < gate.alpha and r.diff < -gate.max_drop
    failed = regressed or (gate.on_mismatch == "fail" and bool(mismatch))
    inconclusive = not failed and r.evidence is not None and not r.evidence.conclusive
    status = "fail" if failed else "inconclusive" if inconclusive else "pass"
    return _base_result(
        gate,
        t.cell,
        status=status,
        blocking=gate.inconclusive == "fail",
        observed=r.diff,
        statistics=_statistics(t, p_adjusted, family, mismatch),
        examples=t.examples,
        message=_message(t, p_adjusted, regressed, mismatch, inconclusive),
    )


def _mismatch(r: Any, missing: MissingCounts) -> dict[str, list[Any]]:
    """What could not be compared: new examples, the baseline's unscored ones, and (under
    `missing: exclude`) the baseline's examples this run lacks."""
    groups = {
        "only_current": list(r.only_current),
        "only_baseline": list(r.only_baseline),
        "unscored": list(r.unscored),
        "changed_inputs": missing.changed if missing.policy != "fail" else [],
    }
    return {k: v for k, v in groups.items() if v}


def _statistics(
    t: _Tested, p_adjusted: float, family: int, mismatch: dict[str, list[Any]]
) -> dict[str, Any]:
    r = t.result
    return {
        "baseline_run_id": t.baseline.run_id,
        "baseline_variant": t.gate.baseline_variant or t.cell[0],
        "baseline_model": t.gate.baseline_model or t.cell[1],
        "n": r.n_pairs,
        "baseline_mean": r.baseline_mean,
        "current_mean": r.current_mean,
        "diff": r.diff,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "confidence": r.confidence,
        "p_value": r.p_value,
        "p_adjusted": p_adjusted,
        "p_value_any_drop": r.p_value_any_drop,
        "correction": f"holm over {family} regression test{'s' if family != 1 else ''}",
        "alpha": r.alpha,
        "max_drop": r.max_drop,
        "method": r.method,
        "b": r.b,
        "c": r.c,
        "mismatch": {k: {"count": len(v), "ids": v[:MAX_LISTED]} for k, v in mismatch.items()},
        "missing": t.missing.to_stats(MAX_LISTED),
        "evidence": r.evidence.to_dict() if r.evidence is not None else None,
        "test": r.test,
        "judge_change": t.drift.to_stats() if t.drift is not None else None,
    }


def _message(
    t: _Tested,
    p_adjusted: float,
    regressed: bool,
    mismatch: dict[str, list[Any]],
    inconclusive: bool,
) -> str:
    r, gate = t.result, t.gate
    pct = round(100 * r.confidence)
    head = "REGRESSED" if regressed else "INCONCLUSIVE" if inconclusive else "no regression"
    text = (
        f"{head}: {gate.metric} {r.baseline_mean:.4g} -> {r.current_mean:.4g} "
        f"(diff {r.diff:+.4f}, {pct}% CI {r.ci_low:+.4f} to {r.ci_high:+.4f}) vs baseline "
        f"{t.baseline.run_id}; max_drop {gate.max_drop:g}, p={r.p_value:.4g}, "
        f"Holm-adjusted p={p_adjusted:.4g}, alpha {gate.alpha:g}, {r.method}, n={r.n_pairs} pairs"
    )
    if mismatch:
        parts = ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in mismatch.items())
        verb = (
            "fails the gate (on_mismatch: fail)" if gate.on_mismatch == "fail" else "not compared"
        )
        text += f"; example sets differ: {parts} ({verb})"
    if t.missing.total:
        text += f"; {t.missing.describe()}"
    if inconclusive and r.evidence is not None:
        policy = "fails the run" if gate.inconclusive == "fail" else "inconclusive: pass"
        text += f"; {r.evidence.reason} ({policy})"
    if t.drift is not None:
        text += f"; WARNING {t.drift.describe()} (on_judge_change: compare)"
    return text
