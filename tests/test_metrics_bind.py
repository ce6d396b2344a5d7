"""Binding: typed template values, null/missing values unscored, transform: and negate:.

Metrics are bound from the YAML forms a suite uses (MetricConfig) and scored on rows, as the
engine does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext
from evalkit.metrics.bind import BoundMetric, bind_metrics
from evalkit.records import Generation, Score
from evalkit.suite.schema import MetricConfig


def bind(spec: Any, tmp_path: Path | None = None) -> BoundMetric:
    (metric,) = bind_metrics([MetricConfig.model_validate(spec)], tmp_path or Path("."))
    return metric


def score(spec: Any, output: str | None, **row: Any) -> Score:
    metric = bind(spec)
    return metric.score(ScoreContext(output=output, row=row, generation=Generation(output)))


# --- typed values -----------------------------------------------------------------------------


def test_a_lone_column_keeps_its_type() -> None:
    # a list is "any of" (OpenAI Evals' ideal), never its Python repr "['Paris', 'Lyon']"
    assert score({"equals": "{{ ideal }}"}, "Lyon", ideal=["Paris", "Lyon"]).passed
    assert (
        score({"equals": "{{ ideal }}"}, "['Paris', 'Lyon']", ideal=["Paris", "Lyon"]).passed
        is False
    )
    assert score({"contains": "{{ ideal }}"}, "I think Lyon.", ideal=["Paris", "Lyon"]).passed
    assert score({"starts_with": "{{ ideal }}"}, "Paris!", ideal=["Paris", "Lyon"]).passed
    assert score({"equals": "{{ n }}"}, "42", n=42).passed
    assert score({"contains": "{{ flag }}"}, '{"ok": true}', flag=True).passed  # JSON's true
    assert score({"contains_all": "{{ words }}"}, "red and blue", words=["red", "blue"]).passed


def test_any_of_records_which_value_matched() -> None:
    result = score({"equals": "{{ ideal }}"}, "Lyon", ideal=["Paris", "Lyon"])
    assert result.meta == {"matched": "Lyon"}
    miss = score({"equals": "{{ ideal }}"}, "Rome", ideal=["Paris", "Lyon"])
    assert miss.passed is False and "Paris" in (miss.reason or "")


def test_a_mapping_is_compared_as_json() -> None:
    label = {"label": "spam", "score": 1}
    assert score(
        {"equals": "{{ expected }}"}, '{"score": 1.0, "label": "spam"}', expected=label
    ).passed
    wrong = score({"equals": "{{ expected }}"}, '{"label": "ham", "score": 1}', expected=label)
    assert wrong.passed is False and "ham" in (wrong.reason or "")
    assert score({"equals": "{{ expected }}"}, "label: spam", expected=label).passed is False
    # json: true compares any JSON value, and reads JSON text (OpenAI Evals' JsonMatch)
    assert score({"type": "equals", "value": [1, 2], "json": True}, "[1, 2]").passed
    text = '{"a": [1, 2]}'
    assert score(
        {"type": "equals", "value": "{{ ideal }}", "json": True}, '{"a":[1,2]}', ideal=text
    ).passed


def test_templates_inside_mappings_and_lists() -> None:
    # (`equals: {...}` would be read as arguments: a mapping value is written as `value:`)
    spec = {"type": "equals", "value": {"name": "{{ name }}", "age": "{{ age }}"}}
    assert score(spec, '{"name": "Ada", "age": 36}', name="Ada", age=36).passed
    # a list item that is one column holding a list contributes its items
    spec = {"contains_any": ["{{ synonyms }}", "{{ word }}"]}
    assert score(spec, "a vehicle", synonyms=["car", "vehicle"], word="auto").passed
    assert score(spec, "an auto", synonyms=["car", "vehicle"], word="auto").passed


def test_longer_templates_render_to_text() -> None:
    assert score({"contains": "Capital: {{ city }}"}, "Capital: Paris", city="Paris").passed
    assert score({"contains": "{{ city | upper }}"}, "PARIS", city="Paris").passed
    assert score({"contains": "{{ user.name }}"}, "Hi Ada", user={"name": "Ada"}).passed


@pytest.mark.parametrize(
    ("spec", "row", "reason"),
    [
        ({"equals": "{{ expected }}"}, {"expected": None}, "'expected' is null on this row"),
        ({"icontains": "{{ expected }}"}, {}, "'expected' is missing on this row"),
        ({"contains": "Answer: {{ expected }}"}, {"expected": None}, "'expected' is null"),
        ({"contains": "{{ user.name }}"}, {"user": {}}, "'user.name' is missing"),
        ({"contains_any": ["{{ a }}", "x"]}, {"a": None}, "'a' is null"),
        ({"contains": "Answer: {{ expected }}"}, {}, "'expected' is undefined"),
    ],
)
def test_a_null_or_missing_expected_value_is_unscored_with_the_reason(
    spec: Any, row: dict[str, Any], reason: str
) -> None:
    # never a comparison against the text "None": icontains would pass on "None of these apply"
    result = score(spec, "None of these apply", **row)
    assert result.value is None and result.passed is None
    assert result.reason is not None and result.reason.startswith("no expected value")
    assert reason in result.reason


def test_an_empty_expected_value_is_unscored() -> None:
    result = score({"contains": "{{ expected }}"}, "anything", expected="")
    assert result.value is None and "empty" in (result.reason or "")
    assert score({"equals": ""}, "").passed  # an empty output can be what is expected


def test_regex_escape_filter_in_templated_patterns() -> None:
    spec = {"regex": "^{{ answer | regex_escape }}$"}
    assert score(spec, "3.14 (approx)", answer="3.14 (approx)").passed
    assert score(spec, "3x14 (approx)", answer="3.14 (approx)").passed is False


# --- transform and negate ---------------------------------------------------------------------


def test_transform_reshapes_the_output_first() -> None:
    spec = {"type": "equals", "value": "{{ label }}", "transform": "json:$.label | lower"}
    result = score(spec, 'Here: {"label": "SPAM"}', label="spam")
    assert result.passed and result.meta == {"transformed": "spam"}
    steps = [{"regex": r"#### (\-?[0-9.,]+)"}, {"split": ",", "index": 0}]
    assert score({"type": "equals", "value": "1", "transform": steps}, "so #### 1,000").passed
    assert score(
        {"type": "equals", "value": "b", "transform": "last_line | strip"}, "a\n b \n\n"
    ).passed


def test_a_transform_that_cannot_apply_fails_the_item_with_the_reason() -> None:
    result = score({"type": "equals", "value": "x", "transform": "$.answer"}, '{"other": 1}')
    assert result.passed is False and result.reason == "transform: field '$.answer' not found"
    result = score({"type": "equals", "value": "x", "transform": [{"regex": "A: (\\w+)"}]}, "none")
    assert result.passed is False and "no match" in (result.reason or "")
    fallback = [{"regex": "A: (\\w+)", "fallback": "[invalid]"}]
    assert score({"type": "equals", "value": "[invalid]", "transform": fallback}, "none").passed
    assert score({"type": "equals", "value": "x", "transform": "strip"}, None).value is None


def test_negate_inverts_the_verdict_and_keeps_unscored() -> None:
    assert score({"type": "contains", "value": "sorry", "negate": True}, "Sure!").passed
    refused = score({"type": "contains", "value": "sorry", "negate": True}, "sorry, no")
    assert refused.passed is False and refused.value == 0.0 and refused.reason
    assert score({"type": "contains", "value": "x", "negate": True}, None).value is None
    bleu = score(
        {"type": "bleu", "reference": "a b c d", "threshold": 0.5, "negate": True}, "a b c d"
    )
    assert bleu.passed is False and bleu.value == pytest.approx(0.0)
    no_verdict = score({"type": "bleu", "reference": "a b c d", "negate": True}, "a b c d")
    assert no_verdict.value is None and "threshold" in (no_verdict.reason or "")


def test_common_arguments_are_recorded_with_the_metric() -> None:
    metric = bind({"type": "bleu", "reference": "x", "threshold": 0.4, "negate": True,
                   "transform": "strip"})  # fmt: skip
    assert metric.args == {"reference": "x", "threshold": 0.4, "negate": True, "transform": "strip"}
    assert metric.kwargs == {"reference": "x", "threshold": 0.4}  # bleu takes its own threshold


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "equals", "value": "x", "transform": "lowr"}, "unknown transform step 'lowr'"),
        ({"type": "equals", "value": "x", "transform": {"regx": "a"}}, "unknown transform step"),
        ({"type": "equals", "value": "x", "transform": [{"regex": "("}]}, "invalid regular"),
        ({"type": "equals", "value": "x", "negate": "yes"}, "'negate' must be true or false"),
        ({"type": "exact_match", "reference": "x", "regexes_to_ignore": ["("]}, "invalid regular"),
        ({"type": "rouge", "reference": "x", "measure": "f2"}, None),  # checked when scored
        ({"type": "equals", "value": "x", "trnasform": "strip"}, "did you mean 'transform'?"),
    ],
)
def test_mistakes_fail_when_the_suite_is_bound(spec: Any, message: str | None) -> None:
    if message is None:
        assert score(spec, "x").value is None
        return
    with pytest.raises(SuiteError) as err:
        bind(spec)
    assert message in err.value.message + " " + (err.value.hint or "")


def test_a_catastrophic_pattern_is_unscored_in_bounded_time_not_a_hang() -> None:
    """`(a|aa)+$` backtracks exponentially on "aaa...b": Python's re would hang the run."""
    import time

    started = time.monotonic()
    found = score({"regex": "(a|aa)+$"}, "a" * 40 + "b")
    assert time.monotonic() - started < 5
    assert found.value is None and "catastrophic backtracking" in (found.reason or "")
    transformed = score(
        {"type": "equals", "value": "x", "transform": [{"regex": "(a|aa)+$"}]}, "a" * 40 + "b"
    )
    assert transformed.value is None and "took over" in (transformed.reason or "")
    ascii_only = {"type": "regex", "pattern": r"\d+", "ascii": True}
    assert score(ascii_only, "٣٤").passed is False  # re's ASCII flag, mapped to regex's
    assert score({"regex": r"\d+"}, "٣٤").passed is True
