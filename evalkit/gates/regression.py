"""Regression gates: this run against a baseline run, example by example.

Decision rule (per regression gate and cell): pair the two runs by example id (one value per
example, the mean over repeats), run `evalkit.stats.paired.regression_test` (exact McNemar for
pass/fail, paired bootstrap for scores; H0: the drop is at most `max_drop`), then adjust the
one-sided p-values of *all* regression gates and cells of the run together with Holm's method.
A gate fails when its adjusted p < alpha and the observed drop exceeds `max_drop`: the drop is
both larger than tolerated and not explained by noise, and checking many gates does not raise
the chance of a false alarm above alpha.

Examples present in only one run, unscored on either side, or whose dataset row changed between
the runs are never compared; they are counted and listed in the result (`on_mismatch: fail`
turns any of them into a failure).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import GateError
from evalkit.gates.values import (
    Cell,
    Record,
    cells_of,
    example_means,
    input_digests,
    is_pass_fail,
)
from evalkit.gates.verdict import GateResult, cell_label
from evalkit.results.schema import RunSummary
from evalkit.suite.gates import RegressionGate

MAX_LISTED = 25  # examples listed per result; reports stay readable on big datasets


@dataclass(frozen=True)
class BaselineRun:
    run_id: str
    records: list[Record]
    summary: RunSummary | None = None


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
    changed: list[str]
    examples: list[dict[str, Any]] = field(default_factory=list)


def decide_regressions(
    gates: Sequence[RegressionGate], records: list[Record], baselines: BaselineSource | None
) -> list[list[GateResult]]:
    """Results per gate (one per cell), with p-values Holm-adjusted across every test."""
    from evalkit.stats.paired import holm_adjust

    slots: list[list[GateResult | _Tested]] = [
        _test_gate(gate, records, baselines) for gate in gates
    ]
    tested = [t for slot in slots for t in slot if isinstance(t, _Tested)]
    adjusted = holm_adjust([t.result.p_value for t in tested]) if tested else []
    final = dict(zip(map(id, tested), adjusted, strict=True))
    return [
        [_finish(t, final[id(t)], len(tested)) if isinstance(t, _Tested) else t for t in slot]
        for slot in slots
    ]


def _test_gate(
    gate: RegressionGate, records: list[Record], baselines: BaselineSource | None
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
    return [_test_cell(gate, cell, recs, baseline) for cell, recs in cells.items()]


def _test_cell(
    gate: RegressionGate, cell: Cell, records: list[Record], baseline: BaselineRun
) -> GateResult | _Tested:
    from evalkit.stats.paired import regression_test

    base_cell = (gate.baseline_variant or cell[0], gate.baseline_model or cell[1])
    base_records = cells_of(baseline.records, *base_cell).get(base_cell, [])
    if not base_records:
        where = cell_label(*base_cell)
        return _failed(gate, cell, f"baseline run {baseline.run_id} has no results for {where}")
    kind = _kind(gate, records, base_records)
    value_stat = "pass_rate" if kind == "pass_rate" else "mean"
    current = example_means(records, gate.metric, value_stat)
    previous = example_means(base_records, gate.metric, value_stat)
    changed = _changed_inputs(records, base_records)
    for example_id in changed:  # same id, different row: not the same example any more
        current.pop(example_id, None)
        previous.pop(example_id, None)
    try:
        result = regression_test(
            current,
            previous,
            kind=kind,
            max_drop=gate.max_drop,
            alpha=gate.alpha,
            n_resamples=gate.n_resamples,
            seed=gate.seed,
        )
    except ValueError as exc:
        why = f"cannot compare with baseline {baseline.run_id}: {exc}"
        if changed:
            why += (
                f"; {len(changed)} examples have a different dataset row than in the baseline "
                "(was the dataset edited? then set a new baseline)"
            )
        return _failed(gate, cell, why)
    examples = _dropped_examples(current, previous, records, base_records)
    return _Tested(gate, cell, baseline, result, changed, examples)


def _kind(gate: RegressionGate, records: list[Record], base_records: list[Record]) -> Any:
    if gate.stat is not None:
        return gate.stat
    both = is_pass_fail(records, gate.metric) and is_pass_fail(base_records, gate.metric)
    return "pass_rate" if both else "mean"


def _changed_inputs(records: list[Record], base_records: list[Record]) -> list[str]:
    now, before = input_digests(records), input_digests(base_records)
    return sorted(i for i in now.keys() & before.keys() if now[i] != before[i])


def _dropped_examples(
    current: dict[Hashable, float | None],
    previous: dict[Hashable, float | None],
    records: list[Record],
    base_records: list[Record],
) -> list[dict[str, Any]]:
    """Examples scored lower than in the baseline, the biggest drops first."""
    drops: list[tuple[float, str, Hashable]] = []
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


def _finish(t: _Tested, p_adjusted: float, family: int) -> GateResult:
    r, gate = t.result, t.gate
    mismatch = _mismatch(r, t.changed)
    regressed = p_adjusted < gate.alpha and r.diff < -gate.max_drop
    failed = regressed or (gate.on_mismatch == "fail" and bool(mismatch))
    return _base_result(
        gate,
        t.cell,
        status="fail" if failed else "pass",
        observed=r.diff,
        statistics=_statistics(t, p_adjusted, family, mismatch),
        examples=t.examples,
        message=_message(t, p_adjusted, regressed, mismatch),
    )


def _mismatch(r: Any, changed: list[str]) -> dict[str, list[Any]]:
    groups = {
        "only_current": list(r.only_current),
        "only_baseline": list(r.only_baseline),
        "unscored": list(r.unscored),
        "changed_inputs": changed,
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
    }


def _message(t: _Tested, p_adjusted: float, regressed: bool, mismatch: dict[str, list[Any]]) -> str:
    r, gate = t.result, t.gate
    pct = round(100 * r.confidence)
    head = "REGRESSED" if regressed else "no significant regression"
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
    return text
