"""Deterministic metrics: each one's pass and fail cases, options, and the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, get_metric, metric_names, to_score
from evalkit.records import Generation, Score, Usage


def ctx(output: str | None, **gen: Any) -> ScoreContext:
    return ScoreContext(output=output, row={}, generation=Generation(output=output, **gen))


def score(name: str, output: str | None, *args: Any, **kwargs: Any) -> Score:
    """Call a metric through the registry, as the engine does, and normalise its result."""
    return to_score(get_metric(name).fn(ctx(output), *args, **kwargs))


def passed(name: str, output: str | None, *args: Any, **kwargs: Any) -> bool | None:
    return score(name, output, *args, **kwargs).passed


# --- registry ---------------------------------------------------------------------------------


def test_every_builtin_is_registered_with_a_docstring() -> None:
    expected = {
        "equals", "contains", "icontains", "contains_any", "contains_all", "not_contains",
        "regex", "starts_with", "ends_with", "one_of", "length", "json_valid", "json_schema",
        "json_field", "similarity", "rouge_l", "bleu", "latency_ms", "tokens", "cost",
    }  # fmt: skip
    assert expected <= set(metric_names())
    for name in expected:
        assert get_metric(name).description, name


def test_unknown_metric_suggests_the_closest_name() -> None:
    with pytest.raises(SuiteError) as err:
        get_metric("not_a_metric")
    assert "unknown metric 'not_a_metric'" in err.value.message
    with pytest.raises(SuiteError) as err:
        get_metric("contians")
    assert err.value.hint == "did you mean 'contains'?"


def test_failed_call_is_unscored_not_passed() -> None:
    result = score("not_contains", None, "bad")
    assert result.value is None and result.passed is None
    assert result.reason == "no output to score"


# --- text -------------------------------------------------------------------------------------


def test_equals_strips_by_default() -> None:
    assert passed("equals", "  Paris\n", "Paris")
    assert not passed("equals", "Paris", "paris")
    assert not passed("equals", " Paris ", "Paris", strip=False)


def test_equals_normalisation_options() -> None:
    assert passed("equals", "PARIS", "paris", ignore_case=True)
    assert passed("equals", "New   York\nCity", "New York City", normalize_whitespace=True)
    assert passed("equals", "Paris!", "Paris", remove_punctuation=True)
    assert passed("equals", "«Straße.»", "STRASSE", ignore_case=True, remove_punctuation=True)


def test_equals_coerces_a_yaml_number() -> None:
    assert passed("equals", "42", 42)


def test_contains_and_icontains() -> None:
    assert passed("contains", "The capital is Paris.", "Paris")
    assert not passed("contains", "The capital is paris.", "Paris")
    assert passed("contains", "The capital is paris.", "Paris", ignore_case=True)
    assert passed("icontains", "THE CAPITAL IS PARIS", "Paris")
    assert passed("contains", "New\n York", "New York", normalize_whitespace=True)


def test_contains_any_records_what_it_found() -> None:
    result = score("contains_any", "we offer a Refund", ["refund", "money back"], ignore_case=True)
    assert result.passed and result.meta == {"found": ["refund"]}
    assert not passed("contains_any", "no luck", ["refund", "money back"])


def test_contains_all_lists_what_is_missing() -> None:
    assert passed("contains_all", "Paris, France", ["Paris", "France"])
    result = score("contains_all", "Paris", ["Paris", "France"])
    assert not result.passed and result.reason == "missing: 'France'"


def test_list_arguments_keep_their_type() -> None:
    # "{{ cities }}" hands the row's list itself to the metric (see test_metrics_bind.py); a
    # string is always one value, even one that looks like a list: it is never parsed as code.
    assert passed("contains_all", "Paris and Rome", ["Paris", "Rome"])
    assert not passed("contains_all", "Paris", ["Paris", "Rome"])
    assert passed("contains_any", "Paris", "Paris")
    assert not passed("contains_all", "Paris and Rome", "['Paris', 'Rome']")
    assert passed("contains", "the list ['Paris', 'Rome']", "['Paris', 'Rome']")


def test_not_contains_single_or_list() -> None:
    assert passed("not_contains", "Sure, here it is", "As an AI")
    result = score("not_contains", "As an AI, I cannot", ["as an ai", "I cannot"], ignore_case=True)
    assert not result.passed and result.reason == "found: 'as an ai', 'i cannot'"


def test_regex_search_full_and_flags() -> None:
    result = score("regex", "Date: 2024-05-01.", r"\d{4}-\d{2}-\d{2}")
    assert result.passed and result.meta == {"match": "2024-05-01"}
    assert not passed("regex", "Date: 2024-05-01.", r"\d{4}-\d{2}-\d{2}", full=True)
    assert passed("regex", " 2024-05-01\n", r"\d{4}-\d{2}-\d{2}", full=True)
    assert not passed("regex", "YES", "yes")
    assert passed("regex", "YES", "yes", ignore_case=True)
    assert passed("regex", "a\nb", "^b$", multiline=True)
    assert passed("regex", "a\nb", "a.b", dotall=True)


def test_regex_named_groups_and_invalid_pattern() -> None:
    result = score("regex", "total: 42", r"total: (?P<n>\d+)")
    assert result.meta == {"match": "total: 42", "groups": {"n": "42"}}
    with pytest.raises(SuiteError, match="invalid regular expression"):
        score("regex", "x", "(unclosed")


def test_starts_and_ends_with() -> None:
    assert passed("starts_with", "\n Dear customer, hi", "Dear customer")
    assert not passed("starts_with", "\n Dear customer", "Dear customer", strip=False)
    assert passed("starts_with", "dear Customer", "Dear customer", ignore_case=True)
    assert passed("ends_with", "Thanks. Best regards\n", "Best regards")
    assert not passed("ends_with", "Best regards, Bob", "Best regards")


@pytest.mark.parametrize("output", ["positive", " Positive.", "**positive**", '"positive"\n'])
def test_one_of_accepts_decorated_labels(output: str) -> None:
    result = score("one_of", output, ["positive", "negative"], ignore_case=True)
    assert result.passed and result.meta == {"label": "positive"}


def test_one_of_rejects_other_answers() -> None:
    assert not passed("one_of", "Positive", ["positive", "negative"])
    result = score("one_of", "probably positive", ["positive", "negative"])
    assert not result.passed
    assert result.reason == "'probably positive' is not one of ['positive', 'negative']"


def test_length_bounds() -> None:
    result = score("length", "one two three", max_words=5, min_chars="3")
    assert result.passed and result.meta == {"chars": 13, "words": 3}
    result = score("length", "one two three", max_words=2, min_chars=20)
    assert not result.passed
    assert result.reason == "13 chars < min_chars 20; 3 words > max_words 2"
    assert passed("length", "anything")  # no bounds: nothing to violate
    with pytest.raises(SuiteError, match="'max_words' must be a number"):
        score("length", "x", max_words="many")


# --- structured -------------------------------------------------------------------------------

FENCED = 'Here is the answer:\n```json\n{"label": "yes", "items": [{"id": 7}]}\n```\nHope it helps'


def test_json_valid_plain_and_invalid() -> None:
    result = score("json_valid", '{"a": 1}')
    assert result.passed and result.meta == {"extracted": False}
    result = score("json_valid", '{"a": 1,}')
    assert not result.passed and result.reason is not None
    assert result.reason.startswith("not valid JSON: ")


def test_json_valid_extracts_from_fence_and_prose() -> None:
    result = score("json_valid", FENCED)
    assert result.passed and result.meta == {"extracted": True}
    assert passed("json_valid", 'Sure [note] the result: {"a": [1, 2]} done')
    assert not passed("json_valid", FENCED, extract=False)
    assert not passed("json_valid", 'truncated: {"a": [1, 2')


SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["yes", "no"]}, "score": {"type": "number"}},
    "required": ["label"],
}


def test_json_schema_inline() -> None:
    result = score("json_schema", '{"label": "yes", "score": 0.9}', SCHEMA)
    assert result.passed and result.meta == {"extracted": False, "errors": 0}
    result = score("json_schema", '{"label": "maybe"}', SCHEMA)
    assert not result.passed
    assert result.reason == "$.label: 'maybe' is not one of ['yes', 'no']"
    assert score("json_schema", "{}", SCHEMA).reason == "$: 'label' is a required property"


def test_json_schema_file_and_fenced_output(tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(SCHEMA))
    assert passed("json_schema", FENCED, str(path))
    result = score("json_schema", '{"label": "no", "score": "high"}', str(path))
    assert result.reason == "$.score: 'high' is not of type 'number'"
    assert "not valid JSON" in (score("json_schema", "not json", str(path)).reason or "")


def test_json_schema_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read JSON Schema file"):
        score("json_schema", "{}", str(tmp_path / "missing.json"))
    with pytest.raises(SuiteError, match="invalid JSON Schema"):
        score("json_schema", "{}", {"type": "objekt"})


@pytest.mark.parametrize(
    ("path", "value"),
    [("label", "yes"), ("items[0].id", 7), ("$.items[0].id", 7), ("items.0.id", 7)],
)
def test_json_field_paths(path: str, value: Any) -> None:
    result = score("json_field", FENCED, path)
    assert result.passed and result.meta == {"value": value, "extracted": True}


def test_json_field_missing_and_invalid_path() -> None:
    result = score("json_field", FENCED, "items[3].id")
    assert not result.passed and result.reason == "field 'items[3].id' not found"
    assert not passed("json_field", FENCED, "label.sub")
    with pytest.raises(SuiteError, match="invalid field path"):
        score("json_field", FENCED, "items..id")


def test_json_field_equals_rendered_and_native_values() -> None:
    output = '{"label": "Yes", "n": 42, "ok": true, "none": null}'
    assert passed("json_field", output, "label", equals="Yes")
    assert not passed("json_field", output, "label", equals="yes")
    assert passed("json_field", output, "label", equals="yes", ignore_case=True)
    assert passed("json_field", output, "n", equals="42")  # rendered from {{ expected }}
    assert passed("json_field", output, "n", equals=42.0)
    assert passed("json_field", output, "ok", equals="true")
    assert not passed("json_field", output, "ok", equals=1)  # JSON true is not 1
    assert passed("json_field", '{"n": "42"}', "n", equals=42)
    result = score("json_field", output, "n", equals="41")
    assert result.reason == "'n' is 42, expected \"41\""


def test_json_field_one_of() -> None:
    assert passed("json_field", '{"label": "no"}', "label", one_of=["yes", "no"])
    result = score("json_field", '{"label": "maybe"}', "label", one_of=["yes", "no"])
    assert result.reason == '\'label\' is "maybe", expected one of ["yes", "no"]'


# --- similarity -------------------------------------------------------------------------------

REF = "The quick brown fox jumps over the lazy dog"


def test_similarity_bounds_and_threshold() -> None:
    same = score("similarity", REF, REF)
    assert same.value == 1.0 and same.passed
    far = score("similarity", "zzzz", REF)
    assert far.value is not None and far.value < 0.2 and not far.passed
    typo = score("similarity", "The quick brown fox jumps over the lazy dgo", REF, threshold="0.9")
    assert typo.value is not None and 0.9 < typo.value < 1.0 and typo.passed
    assert score("similarity", "PARIS", "paris", ignore_case=True).value == 1.0


def test_similarity_takes_the_best_reference() -> None:
    assert score("similarity", "Paris", ["Rome", "Paris"]).value == 1.0


def test_rouge_l() -> None:
    assert score("rouge_l", REF, REF).value == pytest.approx(1.0)
    assert score("rouge_l", "cats and kittens", REF).value == 0.0
    partial = score("rouge_l", "the quick fox", REF, threshold=0.5)
    assert partial.value is not None and 0.2 < partial.value < 0.6
    assert partial.passed is (partial.value >= 0.5)
    assert score("rouge_l", REF, REF).passed is None  # no threshold, no verdict


def test_rouge_l_scores_every_script_and_is_unscored_without_words() -> None:
    # rouge_score kept only ASCII letters; CJK, German and Greek words now count (more cases in
    # test_metrics_overlap.py). A reference without any word still says so instead of a 0.
    assert score("rouge_l", "東京です", "東京です").value == pytest.approx(1.0)
    assert score("rouge_l", "Größe", "Grüße").value == 0.0
    result = score("rouge_l", "anything", "!!! ...")
    assert result.value is None and "no words" in (result.reason or "")


def test_bleu() -> None:
    assert score("bleu", REF, REF).value == pytest.approx(1.0)
    low = score("bleu", "cats and kittens everywhere", REF, threshold=0.3)
    assert low.value is not None and low.value < 0.1 and low.passed is False
    with pytest.raises(SuiteError, match="unknown BLEU tokenizer"):
        score("bleu", REF, REF, tokenize="nope")


# --- performance ------------------------------------------------------------------------------


def perf(name: str, *args: Any, **kwargs: Any) -> Score:
    gen = {"latency_ms": 1234.5, "usage": Usage(input_tokens=100, output_tokens=20), "cost": 0.003}
    return to_score(get_metric(name).fn(ctx("ok", **gen), *args, **kwargs))


def test_latency_ms() -> None:
    assert perf("latency_ms").value == 1234.5 and perf("latency_ms").passed is None
    assert perf("latency_ms", 2000).passed
    result = perf("latency_ms", "1000")
    assert not result.passed and result.reason == "1234.5ms > max 1000ms"


def test_tokens() -> None:
    result = perf("tokens", 64, max_total=200)
    assert result.value == 20.0 and result.passed
    assert result.meta == {"input_tokens": 100, "output_tokens": 20}
    result = perf("tokens", max_input=50, max_total=100)
    assert not result.passed and result.reason == "100 > max_input 50; 120 > max_total 100"
    assert perf("tokens").passed is None


def test_cost() -> None:
    assert perf("cost").value == 0.003
    assert perf("cost", 0.01).passed
    assert not perf("cost", "0.001").passed
    unpriced = to_score(get_metric("cost").fn(ctx("ok"), 0.01))
    assert unpriced.value is None and unpriced.reason


# --- scale ------------------------------------------------------------------------------------


def test_forty_thousand_contains_evaluations() -> None:
    # A run scores ~40,000 items; this is a behaviour check at that scale, not a timing assert.
    fn = get_metric("contains").fn
    contexts = [ctx(f"answer number {i} is Paris") for i in range(40_000)]
    results = [fn(c, "Paris") for c in contexts]
    assert results.count(True) == 40_000
