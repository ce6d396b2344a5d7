"""Gate decisions on synthetic records: thresholds, bounds, rates, repeats, regressions, Holm."""

from __future__ import annotations

import json
import math
import textwrap

import pytest
from gates_support import flips, pass_fail, rec
from pydantic import ValidationError

from evalkit.errors import EXIT_GATE_FAILED, EXIT_INCOMPLETE, EXIT_OK, SuiteError
from evalkit.gates.apply import check_gates, exit_code
from evalkit.gates.evaluate import decide
from evalkit.gates.regression import BaselineRun
from evalkit.results.schema import RunSummary
from evalkit.suite.gates import (
    CostGate,
    RegressionGate,
    ThresholdGate,
    parse_gates,
)
from evalkit.suite.loader import load_suite


def verdict_of(gates: list[dict], records: list[dict], baseline=None, repeats: int = 1):
    source = (lambda name: baseline) if baseline is not None else (lambda name: None)
    return decide(parse_gates(gates), records, repeats=repeats, baselines=source)


def only(verdict):
    assert len(verdict.gates) == 1, [g.name for g in verdict.gates]
    return verdict.gates[0]


# --- schema ----------------------------------------------------------------------------------


def test_yaml_shorthands_pick_the_gate_kind():
    gates = parse_gates(
        [
            {"metric": "ok", "min": 0.8},
            {"max_cost": 2},
            {"regression": {"baseline": "main", "metric": "ok", "max_drop": 0.02}, "name": "r"},
            {"metric": "latency_ms", "stat": "p95", "max": 2000},
            {"metric": "ok", "stat": "pass^3", "min": 0.5},
        ]
    )
    assert isinstance(gates[0], ThresholdGate) and gates[0].bound == "point"
    assert isinstance(gates[1], CostGate)
    assert isinstance(gates[2], RegressionGate) and gates[2].name == "r"
    assert gates[2].max_drop == 0.02 and gates[2].alpha == 0.05
    assert gates[4].k == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"metric": "ok"},  # no threshold
        {"metric": "ok", "min": 0.9, "max": 0.1},
        {"metric": "ok", "min": 0.5, "treshold": 1},
        {"metric": "ok", "stat": "median", "min": 1},
        {"max_cost": 1, "metric": "ok"},
        {"regression": {"baseline": "main", "metric": "ok", "max_dropp": 0.1}},
        {"metric": "ok", "min": 0.5, "bound": "upper"},
    ],
)
def test_invalid_gates_are_rejected(bad):
    with pytest.raises(ValidationError):
        parse_gates([bad])


def test_bad_gate_in_a_suite_is_a_suite_error_with_a_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: s
            dataset: {rows: [{q: a}]}
            prompts: {p: "{{ q }}"}
            models: [{id: m, provider: mock}]
            gates:
              - metric: ok
                min: 0.5
              - metric: ok
                stat: median
                min: 1
            """
        )
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert err.value.line is not None and err.value.line >= 8


def _suite(tmp_path, gates: str, repeats: int = 1):
    path = tmp_path / "s.yaml"
    body = textwrap.dedent(
        """\
        name: s
        dataset: {rows: [{q: a}]}
        prompts: {plain: "{{ q }}"}
        models: [{id: m, provider: mock}]
        metrics: [{contains: a}]
        """
    )
    path.write_text(body + f"repeats: {repeats}\ngates:\n" + textwrap.indent(gates, "  "))
    return load_suite(path)


@pytest.mark.parametrize(
    ("gates", "repeats", "expected"),
    [
        ("- {metric: contans, min: 0.5}\n", 1, "did you mean 'contains'"),
        ("- {metric: contains, min: 0.5, variant: fancy}\n", 1, "unknown variant 'fancy'"),
        ("- {metric: contains, min: 0.5, stat: 'pass^3'}\n", 2, "needs at least 3 repeats"),
        ("- {metric: contains, max_flaky: 0}\n", 1, "repeats >= 2"),
    ],
)
def test_check_gates_refuses_bad_references_before_a_run(tmp_path, gates, repeats, expected):
    loaded = _suite(tmp_path, gates, repeats)
    with pytest.raises(SuiteError) as err:
        check_gates(loaded.suite, str(loaded.path), loaded.line_of)
    assert expected in err.value.format()
    assert err.value.line == 8  # the gate's line in the file


def test_check_gates_accepts_record_fields_and_valid_gates(tmp_path):
    gates = "- {metric: latency_ms, stat: p95, max: 100}\n- {metric: contains, max_flaky: 1}\n"
    loaded = _suite(tmp_path, gates, repeats=3)
    check_gates(loaded.suite, str(loaded.path), loaded.line_of)


# --- thresholds: point vs confidence bound -----------------------------------------------------


def test_bound_ci_is_stricter_than_the_point_estimate():
    records = pass_fail(flips(10, 8))  # 80%, Wilson 95% CI about [0.49, 0.94]
    point = only(verdict_of([{"metric": "ok", "min": 0.7}], records))
    ci = only(verdict_of([{"metric": "ok", "min": 0.7, "bound": "ci"}], records))
    assert point.passed and point.observed == pytest.approx(0.8)
    assert not ci.passed
    assert ci.statistics["ci_low"] == pytest.approx(0.4902, abs=1e-3)
    assert ci.statistics["method"] == "wilson"
    assert "lower bound 0.4902 is not >= 0.7" in ci.message


def test_bound_ci_passes_with_enough_evidence():
    records = pass_fail(flips(400, 360))  # 90%, lower bound ~0.87
    assert only(verdict_of([{"metric": "ok", "min": 0.85, "bound": "ci"}], records)).passed


def test_max_with_ci_uses_the_upper_bound():
    records = [rec(f"e{i}", {"tox": 0.1 * (i % 3)}) for i in range(30)]  # mean 0.1
    point = only(verdict_of([{"metric": "tox", "max": 0.12}], records))
    ci = only(verdict_of([{"metric": "tox", "max": 0.12, "bound": "ci"}], records))
    assert point.passed and not ci.passed
    # scores in [0, 1]: the interval keeps to that range (bounded t), never wider than it
    assert ci.statistics["method"] == "bounded-t"
    assert 0.0 <= ci.statistics["ci_low"] <= ci.statistics["ci_high"] <= 1.0
    assert "upper bound" in ci.message


def test_each_cell_is_decided_and_filters_select_cells():
    records = pass_fail(flips(10, 9), variant="a") + pass_fail(flips(10, 5), variant="b")
    verdict = verdict_of([{"metric": "ok", "min": 0.8}], records)
    assert [(g.variant, g.passed) for g in verdict.gates] == [("a", True), ("b", False)]
    assert not verdict.passed
    filtered = verdict_of([{"metric": "ok", "min": 0.8, "variant": "a"}], records)
    assert filtered.passed and len(filtered.gates) == 1


def test_a_gate_never_passes_on_no_evidence():
    unscored = [rec(f"e{i}", {"ok": None}) for i in range(5)]
    gate = only(verdict_of([{"metric": "ok", "min": 0.1}], unscored))
    assert not gate.passed and "no scored values" in gate.message
    nothing = only(verdict_of([{"metric": "ok", "min": 0.1, "model": "other"}], unscored))
    assert not nothing.passed and "no results for */other" in nothing.message


def test_pass_rate_stat_uses_passed_of_a_numeric_grader():
    records = [
        rec(f"e{i}", {"helpful": {"value": 5.0 - i, "passed": i < 3}}) for i in range(4)
    ]  # scores 5,4,3,2; passed for the first 3
    mean = only(verdict_of([{"metric": "helpful", "min": 3.4}], records))
    rate = only(verdict_of([{"metric": "helpful", "stat": "pass_rate", "min": 0.75}], records))
    assert mean.observed == pytest.approx(3.5) and mean.passed
    assert rate.observed == pytest.approx(0.75) and rate.passed


def test_repeats_are_averaged_per_example_before_the_interval():
    # 5 examples x 4 identical repeats: 5 independent values, not 20
    records = [rec(f"e{i}", {"ok": i < 4}, repeat=r) for i in range(5) for r in range(4)]
    gate = only(verdict_of([{"metric": "ok", "min": 0.5}], records, repeats=4))
    assert gate.statistics["n"] == 5 and gate.observed == pytest.approx(0.8)


# --- percentiles, rates, cost ------------------------------------------------------------------


def test_latency_p95_from_the_record_field():
    records = [rec(f"e{i}", {"ok": True}, latency_ms=float(i + 1)) for i in range(100)]
    gate = only(verdict_of([{"metric": "latency_ms", "stat": "p95", "max": 99}], records))
    assert gate.observed == pytest.approx(95.05) and gate.passed
    ci = only(
        verdict_of([{"metric": "latency_ms", "stat": "p95", "max": 99, "bound": "ci"}], records)
    )
    assert ci.statistics["method"] == "order-statistic"
    assert ci.statistics["ci_high"] == 100.0 and not ci.passed  # 100 calls barely bound p95


def test_percentile_upper_bound_undefined_with_few_calls_fails():
    records = [rec(f"e{i}", {"ok": True}, latency_ms=5.0) for i in range(20)]
    gate = only(
        verdict_of([{"metric": "latency_ms", "stat": "p95", "max": 10, "bound": "ci"}], records)
    )
    assert not gate.passed and "undefined" in gate.message


def test_error_and_unscored_rates():
    records = [rec(f"e{i}", {"ok": True}) for i in range(18)]
    records += [rec("x1", error="timeout"), rec("x2", {"ok": None})]
    errors = only(verdict_of([{"max_error_rate": 0.04}], records))
    assert errors.observed == pytest.approx(0.05) and not errors.passed
    unscored = only(verdict_of([{"max_unscored_rate": 0.1, "metric": "ok"}], records))
    assert unscored.observed == pytest.approx(1 / 19) and unscored.passed
    strict = only(verdict_of([{"max_unscored_rate": 0.1, "bound": "ci"}], records))
    assert not strict.passed  # Wilson upper bound of 1/19 is about 0.25


def test_cost_is_a_budget_over_the_matching_cells():
    records = [rec("a", {"ok": True}, cost=0.4, variant="x"), rec("a", {"ok": 1}, cost=0.7)]
    total = only(verdict_of([{"max_cost": 1.0}], records))
    assert total.observed == pytest.approx(1.1) and not total.passed
    one = only(verdict_of([{"max_cost": 1.0, "variant": "x"}], records))
    assert one.passed


# --- repeats: pass@k, pass^k, flaky ---------------------------------------------------------


def _repeated(pattern: dict[str, list[bool]]) -> list[dict]:
    return [
        rec(i, {"ok": passed}, repeat=r)
        for i, runs in pattern.items()
        for r, passed in enumerate(runs)
    ]


def test_pass_at_k_and_pass_hat_k():
    records = _repeated({"a": [True, True, False], "b": [True, True, True], "c": [False] * 3})
    hat = only(verdict_of([{"metric": "ok", "stat": "pass^2", "min": 0.4}], records, repeats=3))
    at = only(verdict_of([{"metric": "ok", "stat": "pass@2", "min": 0.6}], records, repeats=3))
    assert hat.observed == pytest.approx((1 / 3 + 1 + 0) / 3) and hat.passed
    assert at.observed == pytest.approx((1 + 1 + 0) / 3) and at.passed
    assert 0.0 <= hat.statistics["ci_low"] <= hat.statistics["ci_high"] <= 1.0


def test_max_flaky_and_the_flaky_list():
    records = _repeated({"a": [True, False, True], "b": [True] * 3, "c": [False, True, False]})
    verdict = verdict_of([{"metric": "ok", "max_flaky": 1}], records, repeats=3)
    gate = only(verdict)
    assert gate.observed == 2 and not gate.passed
    assert [e["example_id"] for e in gate.examples] == ["a", "c"]
    (entry,) = verdict.flaky
    assert entry.flaky == ["a", "c"] and entry.counts["stable_pass"] == 1
    assert entry.pass_hat_k["3"] == pytest.approx(1 / 3)


# --- regression gates --------------------------------------------------------------------------


def _baseline(outcomes: dict[str, bool], **kw) -> BaselineRun:
    return BaselineRun("base-run", pass_fail(outcomes, **kw))


def test_significant_drop_fails_with_mcnemar():
    base = flips(40, 36)
    now = dict(base) | {f"e{i:03d}": False for i in range(8)}  # 8 pass -> fail
    gate = only(
        verdict_of(
            [{"regression": {"baseline": "main", "metric": "ok"}}], pass_fail(now), _baseline(base)
        )
    )
    assert not gate.passed
    s = gate.statistics
    assert s["method"] == "mcnemar-exact" and (s["b"], s["c"]) == (8, 0)
    assert s["p_value"] == pytest.approx(0.5**8)
    assert s["diff"] == pytest.approx(-0.2) and s["ci_high"] < 0
    assert "REGRESSED" in gate.message and "base-run" in gate.message
    assert [e["example_id"] for e in gate.examples][:2] == ["e000", "e001"]


def test_noisy_drop_passes():
    base = flips(40, 36)
    now = dict(base) | {"e000": False, "e001": False, "e039": True}  # b=2, c=1
    gate = only(
        verdict_of(
            [{"regression": {"baseline": "main", "metric": "ok", "inconclusive": "pass"}}],
            pass_fail(now),
            _baseline(base),
        )
    )
    # not a regression; at n = 40 the gate could not have seen a 5-point drop either
    assert gate.passed and gate.status == "inconclusive" and "power" in gate.message
    strict = {"regression": {"baseline": "main", "metric": "ok"}}  # inconclusive: fail (default)
    blocked = only(verdict_of([strict], pass_fail(now), _baseline(base)))
    assert not blocked.passed and blocked.status == "inconclusive"
    assert gate.statistics["p_value"] == pytest.approx(0.5)


def test_drop_within_max_drop_passes_even_when_significant():
    base = flips(400, 380)
    now = dict(base) | {f"e{i:03d}": False for i in range(12)}  # -3 points, p < 0.001
    strict = {"regression": {"baseline": "main", "metric": "ok"}}
    tolerant = {"regression": {"baseline": "main", "metric": "ok", "max_drop": 0.05}}
    assert not only(verdict_of([strict], pass_fail(now), _baseline(base))).passed
    gate = only(verdict_of([tolerant], pass_fail(now), _baseline(base)))
    assert gate.passed and gate.statistics["method"] == "mcnemar-margin"


def test_holm_correction_across_regression_gates():
    # each metric alone: b=5, c=0, one-sided exact p = 1/32 = 0.031 < 0.05 -> would fail
    base = {f"e{i}": {"a": True, "b": True} for i in range(20)}
    now = {f"e{i}": {"a": i >= 5, "b": i >= 5} for i in range(20)}
    baseline = BaselineRun("base-run", [rec(i, s) for i, s in base.items()])
    current = [rec(i, s) for i, s in now.items()]
    one = verdict_of([{"regression": {"baseline": "main", "metric": "a"}}], current, baseline)
    assert not one.passed and one.gates[0].statistics["p_adjusted"] == pytest.approx(1 / 32)
    # n = 20 cannot see a 5-point drop: allowed here, this test is about Holm
    both = verdict_of(
        [
            {"regression": {"baseline": "main", "metric": "a", "inconclusive": "pass"}},
            {"regression": {"baseline": "main", "metric": "b", "inconclusive": "pass"}},
        ],
        current,
        baseline,
    )
    assert both.passed  # Holm: the smaller p is doubled to 0.0625 > 0.05
    assert [g.statistics["p_adjusted"] for g in both.gates] == pytest.approx([1 / 16, 1 / 16])
    assert "holm over 2" in both.gates[0].statistics["correction"]


def test_mismatched_example_sets_are_reported_not_silently_compared():
    base = {f"e{i:03d}": True for i in range(0, 10)}
    now = {f"e{i:03d}": True for i in range(2, 12)}
    # default (missing: fail): the baseline's e000, e001 are absent here and count as fails
    counted = only(
        verdict_of(
            [{"regression": {"baseline": "main", "metric": "ok"}}], pass_fail(now), _baseline(base)
        )
    )
    assert counted.statistics["n"] == 10 and counted.statistics["b"] == 2
    assert counted.statistics["missing"]["absent"] == {"count": 2, "ids": ["e000", "e001"]}
    assert "2 absent from this run" in counted.message and not counted.passed
    gate_def = {
        "regression": {
            "baseline": "main",
            "metric": "ok",
            "missing": "exclude",
            "inconclusive": "pass",
        }
    }
    gate = only(verdict_of([gate_def], pass_fail(now), _baseline(base)))
    assert gate.passed and gate.statistics["n"] == 8
    mismatch = gate.statistics["mismatch"]
    assert mismatch["only_current"] == {"count": 2, "ids": ["e010", "e011"]}
    assert mismatch["only_baseline"]["ids"] == ["e000", "e001"]
    assert "example sets differ" in gate.message and "left out (missing: exclude)" in gate.message
    strict = {"regression": {**gate_def["regression"], "on_mismatch": "fail"}}
    assert not only(verdict_of([strict], pass_fail(now), _baseline(base))).passed


def test_examples_whose_inputs_changed_are_not_compared():
    baseline = BaselineRun("b", [rec(f"e{i}", {"ok": True}) for i in range(6)])
    edited = {"id": "e0", "label": "fixed"}
    current = [rec(f"e{i}", {"ok": i != 0}, inputs=edited if i == 0 else None) for i in range(6)]
    gate = only(
        verdict_of([{"regression": {"baseline": "main", "metric": "ok"}}], current, baseline)
    )
    # default: the baseline's e0 was not run here (its row changed), so it counts as a fail
    assert gate.statistics["missing"]["changed_inputs"]["ids"] == ["e0"]
    assert gate.statistics["n"] == 6 and gate.statistics["diff"] == pytest.approx(-1 / 6)
    assert "1 with a changed dataset row" in gate.message
    excluded = {"regression": {"baseline": "main", "metric": "ok", "missing": "exclude"}}
    gate = only(verdict_of([excluded], current, baseline))
    assert gate.statistics["mismatch"]["changed_inputs"]["ids"] == ["e0"]
    assert gate.statistics["n"] == 5 and gate.statistics["diff"] == 0


def test_no_common_example_fails_the_gate():
    gate = only(
        verdict_of(
            [{"regression": {"baseline": "main", "metric": "ok"}}],
            pass_fail({"x": True}),
            _baseline({"y": True}),
        )
    )
    # y counts as a fail here; one pair allows no inference, which fails the gate
    assert not gate.passed and gate.status == "inconclusive" and "fewer than 2" in gate.message
    excluded = {"regression": {"baseline": "main", "metric": "ok", "missing": "exclude"}}
    gate = only(verdict_of([excluded], pass_fail({"x": True}), _baseline({"y": True})))
    assert not gate.passed and "no example is scored in both runs" in gate.message


def test_missing_baseline_fails_or_skips():
    records = pass_fail(flips(5, 5))
    gate = only(verdict_of([{"regression": {"baseline": "main", "metric": "ok"}}], records))
    assert not gate.passed and "evalkit baseline set RUN_ID --name main" in gate.message
    lenient = {"regression": {"baseline": "main", "metric": "ok", "if_missing": "skip"}}
    verdict = verdict_of([lenient], records)
    assert verdict.passed and verdict.gates[0].status == "skip"


def test_numeric_scores_use_the_paired_bootstrap():
    base = BaselineRun("b", [rec(f"e{i}", {"helpful": 4.0 + (i % 2)}) for i in range(60)])
    worse = [rec(f"e{i}", {"helpful": 3.0 + (i % 2)}) for i in range(60)]
    gate_def = {"regression": {"baseline": "main", "metric": "helpful", "max_drop": 0.5}}
    gate = only(verdict_of([gate_def], worse, base))
    assert gate.statistics["method"] == "paired-bootstrap"
    assert gate.observed == pytest.approx(-1.0) and not gate.passed


def test_baseline_variant_compares_across_variant_names():
    base = _baseline(flips(30, 30), variant="old")
    now = pass_fail(flips(30, 20), variant="new")
    gate_def = {"regression": {"baseline": "main", "metric": "ok", "baseline_variant": "old"}}
    gate = only(verdict_of([gate_def], now, base))
    assert not gate.passed and gate.statistics["baseline_variant"] == "old"
    no_cell = only(verdict_of([{"regression": {"baseline": "main", "metric": "ok"}}], now, base))
    assert not no_cell.passed and "has no results for new/m" in no_cell.message


# --- exit codes --------------------------------------------------------------------------------


def test_exit_codes_incomplete_wins_over_gates():
    def summary(status, verdict):
        return RunSummary.model_validate({"run_id": "r", "status": status, "verdict": verdict})

    failed = {"passed": False}
    assert exit_code(summary("complete", None)) == EXIT_OK
    assert exit_code(summary("complete", {"passed": True})) == EXIT_OK
    assert exit_code(summary("complete", failed)) == EXIT_GATE_FAILED
    assert exit_code(summary("incomplete", failed)) == EXIT_INCOMPLETE
    assert exit_code(summary("incomplete", {"passed": True})) == EXIT_INCOMPLETE


def test_verdict_json_has_no_nan():
    records = [rec("only", {"ok": True})]
    verdict = verdict_of([{"metric": "ok", "min": 0.5, "stat": "p50"}], [*records])
    data = json.loads(verdict.to_doc().model_dump_json())
    gate = data["gates"][0]
    assert gate["statistics"]["ci_low"] is None  # undefined for one value: null, not NaN
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in gate["statistics"].values())
