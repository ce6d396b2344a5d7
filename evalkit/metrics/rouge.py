"""ROUGE-N and ROUGE-L against one or more references, 0..1, on Unicode word tokens.

For English text the values equal rouge_score's (the same lower-cased alphanumeric tokens, the
same optional Porter stemmer on words of more than 3 letters, the same F-measure); words in any
script count too (see tokenize.py), where rouge_score dropped every non-ASCII letter. With
several references the best one counts.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_list, requires_output, with_threshold
from evalkit.metrics.tokenize import words
from evalkit.records import Score

_MEASURES = ("f", "precision", "recall")


@functools.cache
def _stemmer() -> Callable[[str], str]:
    from nltk.stem import porter  # what rouge_score uses, so English values stay identical

    return porter.PorterStemmer().stem


def rouge_tokens(text: str, use_stemmer: bool = False) -> list[str]:
    tokens = words(text)
    if use_stemmer:  # Porter is an English stemmer: other scripts keep their words
        stem = _stemmer()
        tokens = [stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]
    return tokens


def _prf(overlap: int, candidate: int, reference: int) -> dict[str, float]:
    precision = overlap / candidate if candidate else 0.0
    recall = overlap / reference if reference else 0.0
    total = precision + recall
    f = 2 * precision * recall / total if total else 0.0
    return {"f": f, "precision": precision, "recall": recall}


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n_scores(candidate: list[str], reference: list[str], n: int) -> dict[str, float]:
    cand, ref = _ngrams(candidate, n), _ngrams(reference, n)
    overlap = sum((cand & ref).values())
    return _prf(overlap, sum(cand.values()), sum(ref.values()))


def _lcs_length(a: list[str], b: list[str]) -> int:
    # One row of the dynamic-programming table at a time: O(len(a) * len(b)) time, O(len(b))
    # memory, so a long summary does not build a table of millions of cells.
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l_scores(candidate: list[str], reference: list[str]) -> dict[str, float]:
    return _prf(_lcs_length(reference, candidate), len(candidate), len(reference))


def _measure(measure: str) -> str:
    if measure not in _MEASURES:
        raise SuiteError(
            f"unknown ROUGE measure '{measure}'", hint="use f (the default), precision or recall"
        )
    return measure


def _score(
    ctx: ScoreContext,
    reference: Any,
    n: int | None,
    threshold: Any,
    use_stemmer: bool,
    measure: str,
) -> Score:
    key = _measure(str(measure))
    candidate = rouge_tokens(ctx.text, bool(use_stemmer))
    references = [rouge_tokens(ref, bool(use_stemmer)) for ref in as_list(reference)]
    if not any(references):
        # Every output would score 0 against it: say so instead of a silent 0.
        return Score(value=None, reason="the reference has no words to compare with")
    scored = [
        rouge_l_scores(candidate, ref) if n is None else rouge_n_scores(candidate, ref, n)
        for ref in references
    ]
    best = max(scored, key=lambda s: s["f"])
    meta = {k: round(v, 6) for k, v in best.items() if k != key}
    return with_threshold(best[key], threshold, **meta)


@register_metric("rouge", primary="reference")
@requires_output
def rouge(
    ctx: ScoreContext,
    reference: Any,
    *,
    n: Any = 1,
    threshold: Any = None,
    use_stemmer: bool = False,
    measure: str = "f",
) -> Score:
    """ROUGE-N F-measure (n: 1, 2, ... or "l" for ROUGE-L) against the reference(s), 0..1.

    - rouge: {reference: "{{ summary }}", n: 2, threshold: 0.3}
    """
    if str(n).lower() == "l":
        return _score(ctx, reference, None, threshold, use_stemmer, measure)
    if isinstance(n, bool) or not str(n).isdigit() or int(n) < 1:
        raise SuiteError(f"rouge's n must be a whole number >= 1 or 'l', got {n!r}")
    return _score(ctx, reference, int(n), threshold, use_stemmer, measure)


@register_metric("rouge_1", primary="reference")
@requires_output
def rouge_1(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = None,
    use_stemmer: bool = False,
    measure: str = "f",
) -> Score:
    """ROUGE-1 (word overlap) F-measure against the reference(s), 0..1, in any script.

    - rouge_1: {reference: "{{ summary }}", threshold: 0.5}
    """
    return _score(ctx, reference, 1, threshold, use_stemmer, measure)


@register_metric("rouge_2", primary="reference")
@requires_output
def rouge_2(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = None,
    use_stemmer: bool = False,
    measure: str = "f",
) -> Score:
    """ROUGE-2 (word-pair overlap) F-measure against the reference(s), 0..1.

    - rouge_2: {reference: "{{ summary }}", threshold: 0.3}
    """
    return _score(ctx, reference, 2, threshold, use_stemmer, measure)


@register_metric("rouge_l", primary="reference")
@requires_output
def rouge_l(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = None,
    use_stemmer: bool = False,
    measure: str = "f",
) -> Score:
    """ROUGE-L (longest common subsequence) F-measure against the reference(s), 0..1.

    - rouge_l: {reference: "{{ summary }}", threshold: 0.4}
    """
    return _score(ctx, reference, None, threshold, use_stemmer, measure)
