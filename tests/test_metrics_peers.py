"""The peers' scorers as built-ins: OpenAI Evals, Inspect, lm-eval, and promptfoo's by name.

Each case below is one the peer's own code decides the same way (see docs/porting.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, get_metric, metric_names, to_score
from evalkit.metrics.matching import extract, openai_normalize
from evalkit.records import Generation, Score


def score(name: str, output: str | None, *args: Any, **kwargs: Any) -> Score:
    ctx = ScoreContext(output=output, row={}, generation=Generation(output))
    return to_score(get_metric(name).fn(ctx, *args, **kwargs))


def passed(name: str, output: str | None, *args: Any, **kwargs: Any) -> bool | None:
    return score(name, output, *args, **kwargs).passed


def test_the_new_metrics_are_registered_with_a_docstring() -> None:
    new = {
        "rouge", "rouge_1", "rouge_2", "levenshtein", "fuzzy_match", "token_f1", "match",
        "exact_match", "regex_extract", "embedding_similarity", "word_count",
        "character_count", "icontains_any", "icontains_all", "is_json", "contains_json",
    }  # fmt: skip
    assert new <= set(metric_names())
    for name in new:
        assert get_metric(name).description, name


def test_every_metric_module_is_registered_by_the_builtins_plugin() -> None:
    from pathlib import Path

    import evalkit.metrics
    from evalkit.plugins.builtins import METRIC_MODULES

    folder = Path(evalkit.metrics.__file__).parent
    defining = {
        f"evalkit.metrics.{p.stem}"
        for p in folder.glob("*.py")
        if p.stem != "base" and "@register_metric(" in p.read_text(encoding="utf-8")
    }
    assert defining == set(METRIC_MODULES)


# --- OpenAI Evals -----------------------------------------------------------------------------


def test_openai_normalize() -> None:
    assert openai_normalize("The  Eiffel Tower, in Paris!") == "eiffel tower in paris"
    assert openai_normalize("A „quote“") == "„quote“"  # their punctuation is ASCII only


@pytest.mark.parametrize(
    ("output", "ideal", "expected"),
    [
        ("The answer is Paris.", "paris", True),  # the reference inside the output
        ("Paris", "Paris, France", True),  # the output inside the reference
        ("Lyon", ["Paris", "Lyon"], True),
        ("Rome", ["Paris", "Lyon"], False),
        ("", "the", True),  # both normalise to "" (an article only)
        ("", "Paris", False),
    ],
)
def test_fuzzy_match(output: str, ideal: Any, expected: bool) -> None:
    assert passed("fuzzy_match", output, ideal) is expected


def test_token_f1_is_squad_f1_against_the_best_reference() -> None:
    # "the" is dropped; prediction [eiffel, tower, paris], truth [eiffel, tower]: P 2/3, R 1
    assert score("token_f1", "The Eiffel Tower, Paris", "Eiffel Tower").value == pytest.approx(0.8)
    best = score("token_f1", "blue whale", ["whale shark", "blue whale"], threshold=0.9)
    assert best.value == pytest.approx(1.0) and best.passed
    assert score("token_f1", "nothing shared", "other words").value == 0.0


# --- Inspect ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "target", "options", "expected"),
    [
        ("The answer is Paris.", "paris", {}, True),  # end (default), case, trailing "."
        ("Paris is the answer.", "paris", {}, False),
        ("Paris is the answer.", "paris", {"location": "begin"}, True),
        ("Paris is the answer.", "paris", {"location": "start"}, True),
        ("I'd say Paris, maybe", "paris", {"location": "any"}, True),
        ("  Paris!  ", "paris", {"location": "exact"}, True),
        ("The answer is Paris.", "Paris", {"ignore_case": False}, True),
        ("The answer is PARIS.", "Paris", {"ignore_case": False}, False),
        ("So the total is $1,250.", "1250", {"numeric": True}, True),
        ("The total is 25.", "5", {"numeric": True}, False),  # "25".endswith("5") is not 25 == 5
        ("3 apples and 12 pears", "3", {"numeric": True, "location": "begin"}, True),
        ("3 apples and 12 pears", "12", {"numeric": True, "location": "any"}, True),
        ("It is (42)!", "42", {"numeric": True}, True),
        ("It is 60%", "60", {"numeric": True}, False),  # a percentage is not the number
        ("It is 60%", "60%", {"numeric": True}, True),  # a non-numeric target: text match
    ],
)
def test_match_like_inspect(
    output: str, target: str, options: dict[str, Any], expected: bool
) -> None:
    assert passed("match", output, target, **options) is expected


def test_match_any_of_several_targets_and_bad_location() -> None:
    result = score("match", "It is B", ["A", "B"])
    assert result.passed and result.meta == {"matched": "B"}
    with pytest.raises(SuiteError, match="unknown match location"):
        score("match", "x", "x", location="middle")


# --- lm-evaluation-harness --------------------------------------------------------------------

GSM8K_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def test_regex_extract_gsm8k_strict_match() -> None:
    output = "She has 3 + 4 = 7 apples, so 7 * $2 = $14.\n#### 14"
    result = score(
        "regex_extract", output, r"#### (\-?[0-9\.\,]+)", "14",
        regexes_to_ignore=GSM8K_IGNORE, ignore_case=True,
    )  # fmt: skip
    assert result.passed and result.meta == {"extracted": "14", "matched": "14"}
    missing = score("regex_extract", "The answer is 14.", r"#### (\-?[0-9\.\,]+)", "14")
    assert missing.passed is False and missing.meta == {"extracted": "[invalid]"}


def test_regex_extract_gsm8k_flexible_extract_takes_the_last_number() -> None:
    pattern = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
    output = "First 3 apples, then 12 more: 15 in total, costing $1,050."
    assert extract(output, pattern, group_select=-1) == "$1,050."
    result = score(
        "regex_extract", output, pattern, "1050", group_select=-1, regexes_to_ignore=GSM8K_IGNORE
    )
    assert result.passed


def test_extract_edge_cases() -> None:
    assert extract("a1 b2", r"[a-z](\d)", group_select=1) == "2"
    assert extract("no digits", r"(\d)") == "[invalid]"
    assert extract("only one 7", r"(\d)", group_select=3, fallback="none") == "none"
    assert extract("x=", r"x=(\d*)|y=(\d)") == "[invalid]"  # every group empty


def test_exact_match_has_no_implicit_stripping() -> None:
    assert passed("exact_match", "Paris", "Paris")
    assert not passed("exact_match", "Paris\n", "Paris")
    assert passed("exact_match", "Paris!", "paris", ignore_case=True, ignore_punctuation=True)
    assert passed("exact_match", "room 101", "room ", ignore_numbers=True)
    assert passed("exact_match", "$1,000", "1000", regexes_to_ignore=[",", "\\$"])


# --- promptfoo's assertions by name -----------------------------------------------------------


def test_icontains_any_and_all() -> None:
    assert passed("icontains_any", "MONEY BACK", ["refund", "money back"])
    assert passed("icontains_any", "HAUPTSTRASSE", ["straße"])  # casefold
    assert not passed("icontains_any", "nothing", ["refund"])
    assert passed("icontains_all", "Paris, FRANCE", ["paris", "france"])
    result = score("icontains_all", "Paris", ["paris", "france"])
    assert not result.passed and result.reason == "missing: 'france'"


@pytest.mark.parametrize(
    ("output", "args", "expected"),
    [
        ("one two three", {"count": 3}, True),
        ("one two", {"count": 3}, False),
        ("one  two\nthree four", {"min": 2, "max": 5}, True),
        ("a b c d e f", {"max": 5}, False),
        ("a", {"min": "2"}, False),
    ],
)
def test_word_count(output: str, args: dict[str, Any], expected: bool) -> None:
    result = score("word_count", output, **args)
    assert result.passed is expected and result.meta == {"words": len(output.split())}


def test_character_count_counts_code_points_unstripped() -> None:
    assert passed("character_count", "👍👍", 2)
    assert passed("character_count", " hello ", max=7)
    result = score("character_count", "hello!", max=5)
    assert not result.passed and result.reason == "6 chars > max 5"
    with pytest.raises(SuiteError, match="needs a number"):
        score("character_count", "x")
    with pytest.raises(SuiteError, match="greater than max"):
        score("word_count", "x", min=5, max=2)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('{"a": 1}', True), ("[1, 2]", True), ("42", True), ('"text"', True),
        (' {"a": 1}\n', True), ('```json\n{"a": 1}\n```', False), ('Here: {"a": 1}', False),
        ("NaN", False), ("{'a': 1}", False), ("", False),
    ],
)  # fmt: skip
def test_is_json_is_the_whole_output(output: str, expected: bool) -> None:
    assert passed("is_json", output) is expected


def test_is_json_with_a_schema() -> None:
    schema = {"type": "object", "required": ["label"], "properties": {"label": {"enum": ["a"]}}}
    assert passed("is_json", '{"label": "a"}', schema)
    result = score("is_json", '{"label": "b"}', schema)
    assert not result.passed and "$.label" in (result.reason or "")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('Sure! {"a": 1} Hope it helps.', True), ('```json\n{"a": 1}\n```', True),
        ("[1, 2, 3]", True), ("No JSON at all.", False), ("Result: {name: Ada}", False),
        ('Result: {"a": 1', False), ("42", False), ("{ broken { and {} }", True),
    ],
)  # fmt: skip
def test_contains_json_finds_an_object_or_array(output: str, expected: bool) -> None:
    assert passed("contains_json", output) is expected


def test_contains_json_passes_when_any_candidate_conforms() -> None:
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "number"}}}
    result = score("contains_json", 'First {"a": "x"} then {"a": 1}', schema)
    assert result.passed and result.meta == {"found": 2}
    result = score("contains_json", 'Only {"a": "x"}', schema)
    assert not result.passed and "$.a" in (result.reason or "")


def test_json_valid_no_longer_accepts_nan() -> None:
    assert not passed("json_valid", "NaN", extract=False)
    assert not passed("json_valid", '{"a": Infinity}', extract=False)


def test_the_gsm8k_port_in_docs_porting_md_scores() -> None:
    import re
    from pathlib import Path

    import yaml

    from evalkit.metrics.bind import bind_metrics
    from evalkit.suite.schema import MetricConfig

    doc = (Path(__file__).parent.parent / "docs" / "porting.md").read_text("utf-8")
    block = re.search(r"```yaml\n(metrics:.*?)```", doc, re.DOTALL)
    assert block is not None
    configs = [MetricConfig.model_validate(m) for m in yaml.safe_load(block.group(1))["metrics"]]
    (metric,) = bind_metrics(configs, Path("."))
    row = {"answer": "Natalia sold 48/2 = 24 clips in May.\n#### 1,072"}
    output = "48 + 24 = 72 clips, so $1,072 in total.\n#### 1,072"
    ctx = ScoreContext(output=output, row=row, generation=Generation(output))
    result = metric.score(ctx)
    assert result.passed, result
    assert metric.score(ScoreContext("#### 1071", row, Generation("#### 1071"))).passed is False
