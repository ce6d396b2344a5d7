"""Overlap metrics on Unicode text: ROUGE-N / ROUGE-L, BLEU, Levenshtein, and the tokenizers.

English values must stay what rouge_score and sacreBLEU give; German, Greek, Chinese and
Japanese text must count word by word (or character by character for CJK).
"""

from __future__ import annotations

from typing import Any

import pytest

from evalkit.metrics.base import ScoreContext, get_metric, to_score
from evalkit.metrics.tokenize import bleu_tokens, words
from evalkit.records import Generation, Score


def score(name: str, output: str | None, *args: Any, **kwargs: Any) -> Score:
    ctx = ScoreContext(output=output, row={}, generation=Generation(output))
    return to_score(get_metric(name).fn(ctx, *args, **kwargs))


def value(name: str, output: str, *args: Any, **kwargs: Any) -> float:
    result = score(name, output, *args, **kwargs).value
    assert result is not None
    return result


# --- tokenizers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Größe vs. Grüße", ["grösse", "vs", "grüsse"]),  # casefolded: ß -> ss
        ("„Hallo“, sagte sie.", ["hallo", "sagte", "sie"]),
        ("ΣΟΦΊΑ και σοφία", ["σοφία", "και", "σοφία"]),
        ("東京は大きい", ["東", "京", "は", "大", "き", "い"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # combining vowel signs stay in the word
        ("don't pay 3.50", ["don", "t", "pay", "3", "50"]),  # as rouge_score splits them
        ("ｆｕｌｌ-width １２３", ["full", "width", "123"]),  # NFKC
        ("서울은 크다", ["서울은", "크다"]),  # Hangul is written with spaces: words
    ],
)
def test_rouge_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_bleu_tokens_keep_punctuation_numbers_and_case() -> None:
    assert bleu_tokens("„Das ist gut“, sagte sie.") == [
        "„", "Das", "ist", "gut", "“", ",", "sagte", "sie", ".",
    ]  # fmt: skip
    assert bleu_tokens("Don't pay 1,000.50 $!") == ["Don't", "pay", "1,000.50", "$", "!"]
    assert bleu_tokens("東京は大きい。") == ["東", "京", "は", "大", "き", "い", "。"]
    assert bleu_tokens("ΣΟΦΊΑ", ignore_case=True) == ["σοφία"]


# --- ROUGE ------------------------------------------------------------------------------------

ENGLISH = [
    ("The cat sat on the mat.", "A cat was sitting on the mat!"),
    ("Sales grew 3.5% in Q2, the report says.", "The report says that sales grew 3.5% in Q2."),
    ("Don't worry, it's running fine.", "It is running; don't worry."),
    ("completely unrelated words here", "the cat sat on the mat"),
    ("Running runners ran quickly", "The runner runs quickly"),
]


@pytest.mark.parametrize(("output", "reference"), ENGLISH)
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_english_values_equal_rouge_score(output: str, reference: str, use_stemmer: bool) -> None:
    from rouge_score import rouge_scorer

    theirs = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)
    expected = theirs.score(reference, output)
    for ours, key in (("rouge_1", "rouge1"), ("rouge_2", "rouge2"), ("rouge_l", "rougeL")):
        got = value(ours, output, reference, use_stemmer=use_stemmer)
        assert got == pytest.approx(expected[key].fmeasure), (ours, output)


def test_rouge_german_words_are_words() -> None:
    # rouge_score reduced both to "gr", "e" and scored 1.0
    assert value("rouge_1", "Größe", "Grüße") == 0.0
    assert value("rouge_1", "Die Größe zählt", "Die Grüße zählt") == pytest.approx(2 / 3)
    assert value("rouge_l", "„Die Größe zählt“", "die größe zählt") == pytest.approx(1.0)


def test_rouge_greek_casefolds_with_accents() -> None:
    assert value("rouge_1", "Η ΓΆΤΑ ΚΆΘΕΤΑΙ", "η γάτα κάθεται") == pytest.approx(1.0)
    assert value("rouge_2", "η γάτα κάθεται στο χαλί", "η γάτα κοιμάται στο χαλί") == 0.5


def test_rouge_cjk_counts_characters() -> None:
    assert value("rouge_1", "東京は小さい", "東京は大きい") == pytest.approx(4 / 6)
    assert value("rouge_l", "大阪は大きい", "東京は大きい") == pytest.approx(4 / 6)
    assert value("rouge_2", "東京は大きい", "東京は大きい") == pytest.approx(1.0)


def test_rouge_n_order_and_options() -> None:
    ref = "the cat sat on the mat"
    shuffled = "mat the on sat cat the"
    assert value("rouge_1", shuffled, ref) == pytest.approx(1.0)  # ROUGE-1 ignores order
    assert value("rouge_2", shuffled, ref) == 0.0
    assert value("rouge_l", shuffled, ref) <= 0.5
    assert value("rouge", shuffled, ref, n=2) == value("rouge_2", shuffled, ref)
    assert value("rouge", shuffled, ref, n="l") == value("rouge_l", shuffled, ref)
    partial = score("rouge_1", "the cat", ref, measure="recall", threshold=0.5)
    assert partial.value == pytest.approx(2 / 6) and partial.passed is False
    assert partial.meta == {"f": 0.5, "precision": 1.0}
    assert value("rouge_1", "the cat", ["dogs", "the cat"]) == pytest.approx(1.0)  # best ref


def test_rouge_refuses_bad_options() -> None:
    from evalkit.errors import SuiteError

    with pytest.raises(SuiteError, match="whole number"):
        score("rouge", "a", "a", n=0)
    with pytest.raises(SuiteError, match="unknown ROUGE measure"):
        score("rouge_1", "a", "a", measure="f2")


# --- BLEU -------------------------------------------------------------------------------------


def test_bleu_on_plain_english_equals_sacrebleu_13a() -> None:
    out = "The quick brown fox jumped over the lazy dog"
    ref = "The quick brown fox jumps over the lazy dog"
    assert value("bleu", out, ref) == pytest.approx(value("bleu", out, ref, tokenize="13a"))
    assert value("bleu", ref, ref) == pytest.approx(1.0)


def test_bleu_german_quotes_do_not_hide_the_words() -> None:
    # 13a glues „ and “ to the words beside them, so "„Die" never matches "Die"
    out = "Der Kunde schrieb „Die Lieferung kam nicht an“ gestern."
    ref = "Der Kunde schrieb gestern „Die Lieferung kam nicht an“."
    assert value("bleu", out, ref) > value("bleu", out, ref, tokenize="13a") + 0.05
    same = "Er sagte: „Das ist gut.“"
    assert value("bleu", same, same) == pytest.approx(1.0)


def test_bleu_cjk_counts_characters() -> None:
    out, ref = "東京は大きい都市です", "東京は大きな都市です"
    assert value("bleu", out, ref, tokenize="13a") == 0.0  # one "word" each: no overlap at all
    assert 0.5 < value("bleu", out, ref) < 1.0


def test_bleu_greek_and_case() -> None:
    out, ref = "Η γάτα κάθεται στο χαλί.", "η γάτα κάθεται στο χαλί."
    assert value("bleu", out, ref) < 1.0  # case-sensitive by default (sacreBLEU's convention)
    assert value("bleu", out, ref, ignore_case=True) == pytest.approx(1.0)


# --- Levenshtein ------------------------------------------------------------------------------


def test_levenshtein_absolute_distance() -> None:
    result = score("levenshtein", "hallo welt", "hello world")
    assert result.passed and result.meta == {"distance": 4}
    far = score("levenshtein", "goodbye moon", "hello world")
    assert far.passed is False and far.reason == "distance 11 > threshold 5"
    assert score("levenshtein", "hallo", "hello", threshold=0).passed is False
    assert score("levenshtein", "Hello", "hello", threshold=0, ignore_case=True).passed
    assert score("levenshtein", "ok👍👍👍", "ok").meta == {"distance": 3}  # code points
    assert score("levenshtein", "Pariss", ["Rome", "Paris"], threshold=1).passed
    unbounded = score("levenshtein", "abc", "abd", threshold=None)
    assert unbounded.value == 1.0 and unbounded.passed is None
