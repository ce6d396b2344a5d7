"""Issue 10's acceptance, through the gate decision on seeded synthetic runs.

A candidate must not pass by hiding its regressions: erroring on exactly the examples it got
worse on, leaving them unscored (judge refusals), running on a subset that leaves them out, or
editing their dataset rows. Each is simulated over several seeds at n = 300 and must fail the
regression gate every time; the threshold gate must count them too. The A/A control (the
noise of a real judge: per-example pass chances of 0.95 / 0.6 / 0.3, drawn afresh in each run)
must still pass, conclusively, at about 1 - alpha.
"""

from __future__ import annotations

import numpy as np
import pytest
from gates_support import rec

from evalkit.gates.evaluate import decide
from evalkit.gates.regression import BaselineRun
from evalkit.suite.gates import parse_gates

N = 300
WORSE = 30  # the candidate got these many examples wrong that the baseline had right
SEEDS = range(8)


def _runs(seed: int) -> tuple[dict[str, bool], dict[str, bool], list[str]]:
    """Baseline and candidate pass/fail per example, and the ids the candidate got worse on.

    As in the issue: a temperature-0 system whose candidate differs from the baseline only on
    the examples it got worse on (answering them wrongly fails with p ~ 1e-9)."""
    rng = np.random.default_rng([10, seed])
    probs = rng.choice([0.95, 0.6, 0.3], size=N, p=[0.6, 0.25, 0.15])
    base = {f"e{i:03d}": bool(rng.random() < p) for i, p in enumerate(probs)}
    now = dict(base)
    passed = [i for i, ok in base.items() if ok]
    worse = sorted(rng.choice(passed, size=WORSE, replace=False).tolist())
    for example_id in worse:
        now[example_id] = False
    return base, now, worse


def _baseline(base: dict[str, bool]) -> BaselineRun:
    return BaselineRun("base", [rec(i, {"ok": v}, run_id="base") for i, v in base.items()])


def _decide(gates: list[dict], records: list, base: dict[str, bool]):
    return decide(parse_gates(gates), records, baselines=lambda _: _baseline(base))


REGRESSION = {"regression": {"baseline": "main", "metric": "ok"}}


def _hidden(now: dict[str, bool], worse: list[str], how: str) -> list:
    """The candidate's records with its worse examples hidden `how`."""
    out = []
    for example_id, ok in now.items():
        if example_id in worse:
            if how == "error":
                out.append(rec(example_id, error="HTTP 500: boom"))
            elif how == "unscored":
                out.append(rec(example_id, {"ok": None}))
            elif how == "edited":
                out.append(rec(example_id, {"ok": True}, inputs={"id": example_id, "q": "new"}))
            continue  # "subset": not run at all
        out.append(rec(example_id, {"ok": ok}))
    return out


@pytest.mark.parametrize("how", ["error", "unscored", "subset", "edited"])
def test_hiding_the_worse_examples_fails_the_regression_gate(how: str) -> None:
    for seed in SEEDS:
        base, now, worse = _runs(seed)
        answered = _decide([REGRESSION], [rec(i, {"ok": v}) for i, v in now.items()], base)
        hidden = _decide([REGRESSION], _hidden(now, worse, how), base)
        assert not answered.passed, seed  # answering them wrongly fails: the control
        gate = hidden.gates[0]
        assert gate.status == "fail" and "REGRESSED" in gate.message, (seed, gate.message)
        assert gate.statistics["missing"]["count"] == WORSE
        assert "counted as fails (missing: fail)" in gate.message


@pytest.mark.parametrize("how", ["error", "unscored"])
def test_the_pass_rate_gate_counts_missing_results_as_fails(how: str) -> None:
    base, now, worse = _runs(0)
    records = _hidden(now, worse, how)
    gate = _decide([{"metric": "ok", "min": 0.8}], records, base).gates[0]
    answered = _decide(
        [{"metric": "ok", "min": 0.8}], [rec(i, {"ok": v}) for i, v in now.items()], base
    )
    assert gate.observed == pytest.approx(answered.gates[0].observed)  # the same pass rate
    assert gate.statistics["n"] == N and gate.statistics["missing"]["count"] == WORSE
    key = "n_errors" if how == "error" else "n_unscored"
    assert gate.statistics[key] == WORSE


def test_the_policies_exclude_and_error() -> None:
    base, now, worse = _runs(1)
    records = _hidden(now, worse, "error")
    exclude = {"regression": {"baseline": "main", "metric": "ok", "missing": "exclude"}}
    excluded = _decide([exclude], records, base).gates[0]
    assert excluded.statistics["n"] == N - WORSE
    assert "30 missing results (30 errors) left out (missing: exclude)" in excluded.message
    error = {"regression": {"baseline": "main", "metric": "ok", "missing": "error"}}
    failed = _decide([error], records, base).gates[0]
    assert failed.status == "fail" and "fail the gate (missing: error)" in failed.message
    threshold = _decide([{"metric": "ok", "min": 0.0, "missing": "error"}], records, base)
    assert not threshold.passed and "missing: error" in threshold.gates[0].message
    clean = [rec(i, {"ok": v}) for i, v in now.items()]
    assert _decide([{"metric": "ok", "min": 0.0, "missing": "error"}], clean, base).passed


def test_a_metric_a_row_does_not_assert_is_not_missing() -> None:
    """Rows without an assertion (per-example tests) and only_if skips are not results the
    candidate lacks; an error on such a row does not count against that metric."""
    records = [rec(f"e{i}", {"ok": True}) for i in range(10)]
    records += [rec(f"x{i}", {"other": True}) for i in range(5)]
    records += [rec("x9", error="boom"), rec("s1", {"ok": {"value": None, "skipped": True}})]
    gate = decide(parse_gates([{"metric": "ok", "min": 1.0}]), records).gates[0]
    assert gate.passed and gate.statistics["n"] == 10 and gate.statistics["missing"]["count"] == 0


def test_an_aa_comparison_passes_conclusively_at_about_one_minus_alpha() -> None:
    passes = conclusive = 0
    sims = 60
    for seed in range(sims):
        rng = np.random.default_rng([11, seed])
        probs = rng.choice([0.95, 0.6, 0.3], size=N, p=[0.6, 0.25, 0.15])
        base = {f"e{i:03d}": bool(rng.random() < p) for i, p in enumerate(probs)}
        now = [rec(f"e{i:03d}", {"ok": bool(rng.random() < p)}) for i, p in enumerate(probs)]
        gate = _decide([REGRESSION], now, base).gates[0]
        passes += gate.passed
        conclusive += gate.status == "pass"
    assert passes >= 0.9 * sims and conclusive == passes, (passes, conclusive)
    same = {f"e{i:03d}": i % 4 != 0 for i in range(N)}  # the same outputs: nothing changed
    gate = _decide([REGRESSION], [rec(i, {"ok": v}) for i, v in same.items()], same).gates[0]
    assert gate.status == "pass"


def test_a_small_suite_is_inconclusive_and_fails_by_default() -> None:
    base = {f"e{i}": True for i in range(20)}
    now = [rec(f"e{i}", {"ok": i >= 4}) for i in range(20)]  # a 20-point drop, p = 0.0625
    gate = _decide([REGRESSION], now, base).gates[0]
    assert gate.status == "inconclusive" and not gate.passed
    assert "could not have seen" in gate.message and "needs ~" in gate.message
    assert gate.statistics["evidence"]["mde"] > 0.05
    allowed = {"regression": {**REGRESSION["regression"], "inconclusive": "pass"}}
    assert _decide([allowed], now, base).passed


def test_reports_show_missing_counts_and_inconclusive_gates_as_failures() -> None:
    from evalkit.report.gate_text import verdict_line
    from evalkit.report.junit import junit_xml
    from evalkit.report.markdown import markdown_report
    from evalkit.results.schema import RunSummary
    from evalkit.trackers.mlflow.rundata import verdict_tags

    _, now, worse = _runs(2)
    small = {f"e{i}": True for i in range(20)}
    verdict = decide(
        parse_gates(
            [
                {"metric": "ok", "min": 0.5},
                {
                    "regression": {
                        "baseline": "s",
                        "metric": "ok",
                        "variant": "w",
                        "baseline_variant": "v",
                    }
                },
            ]
        ),
        _hidden(now, worse, "error")
        + [rec(f"e{i}", {"ok": i >= 4}, variant="w") for i in range(20)],
        baselines=lambda _: _baseline(small),
    )
    summary = RunSummary(run_id="r", suite="s", status="complete", verdict=verdict.to_doc())
    markdown = markdown_report(summary)
    assert "missing 30 (30 errors; fail)" in markdown  # beside the rate, also when the gate passes
    assert "INCONCLUSIVE (fails)" in markdown
    assert "(1 inconclusive)" in verdict_line(summary)
    xml = junit_xml(summary)
    assert xml.count("<failure") == 1 and "could not have seen" in xml
    assert "30 missing results (30 errors) counted as fails" in xml
    tags = verdict_tags(summary.verdict)
    assert tags["evalkit.verdict"] == "failed" and "evalkit.gates_inconclusive" in tags
    assert "30 missing (missing: fail)" in tags["evalkit.gates_missing"]


def test_a_regression_gate_per_slice_finds_the_slice_that_dropped() -> None:
    """300 examples in three categories; billing (100) loses 25 passes: the whole cell drops
    8.3 points, inside max_drop 0.1, billing 25. Per slice, billing fails and says so."""
    category = {f"e{i:03d}": ("billing", "shipping", "returns")[i % 3] for i in range(N)}
    base = dict.fromkeys(category, True)
    billing = [i for i, c in category.items() if c == "billing"][:25]
    now = {i: i not in billing for i in category}

    def rows(values: dict[str, bool], run_id: str = "current") -> list:
        return [
            rec(i, {"ok": v}, inputs={"id": i, "category": category[i]}, run_id=run_id)
            for i, v in values.items()
        ]

    gate = {"regression": {"baseline": "main", "metric": "ok", "max_drop": 0.1}, "per": "category"}
    baseline = BaselineRun("base", rows(base, "base"))
    verdict = decide(parse_gates([gate]), rows(now), baselines=lambda _: baseline)
    by_slice = {g.slice_value: g for g in verdict.gates}
    assert set(by_slice) == {"billing", "shipping", "returns"}
    assert by_slice["billing"].status == "fail" and "category=billing" in by_slice["billing"].name
    assert by_slice["shipping"].passed and by_slice["returns"].passed
    assert "holm over 3" in by_slice["billing"].statistics["correction"]
    whole = {"regression": {"baseline": "main", "metric": "ok", "max_drop": 0.1}}
    assert decide(parse_gates([whole]), rows(now), baselines=lambda _: baseline).passed
