"""Reference-based similarity metrics: edit distance, ROUGE-L and BLEU, each 0..1.

The reference may be one string or a list of acceptable references; the best score counts.
rapidfuzz, rouge_score and sacrebleu are imported on first use so importing evalkit stays cheap.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_list, normalise, requires_output, with_threshold
from evalkit.records import Score

# rouge_score's default tokenizer keeps only ASCII letters and digits.
_ROUGE_TOKEN = re.compile(r"[a-z0-9]", re.IGNORECASE)


@register_metric("similarity", primary="reference")
@requires_output
def similarity(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = 0.8,
    ignore_case: bool = False,
    normalize_whitespace: bool = True,
) -> Score:
    """Normalised Levenshtein similarity to the reference, 0..1; passes at `threshold` (0.8).

    - similarity: "{{ expected }}"
    """
    from rapidfuzz.distance import Levenshtein

    opts = {"ignore_case": ignore_case, "normalize_whitespace": normalize_whitespace}
    output = normalise(ctx.text, **opts)
    value = max(
        Levenshtein.normalized_similarity(output, normalise(ref, **opts))
        for ref in as_list(reference)
    )
    return with_threshold(value, threshold)


@functools.lru_cache(maxsize=2)
def _rouge_scorer(use_stemmer: bool) -> Any:
    # Building a scorer loads the stemmer; one per setting serves the whole run.
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)


@register_metric("rouge_l", primary="reference")
@requires_output
def rouge_l(
    ctx: ScoreContext, reference: Any, *, threshold: Any = None, use_stemmer: bool = False
) -> Score:
    """ROUGE-L F-measure against the reference, 0..1 (English tokens; option use_stemmer).

    - rouge_l: {reference: "{{ summary }}", threshold: 0.4}
    """
    references = as_list(reference)
    if not any(_ROUGE_TOKEN.search(ref) for ref in references):
        # Scoring would give 0 even for an identical answer: say so instead of a silent 0.
        return Score(
            value=None,
            reason="rouge_l tokenises ASCII letters and digits only; use similarity or bleu",
        )
    scorer = _rouge_scorer(bool(use_stemmer))
    value = max(scorer.score(ref, ctx.text)["rougeL"].fmeasure for ref in references)
    return with_threshold(value, threshold)


@functools.lru_cache(maxsize=8)
def _bleu(tokenize: str, lowercase: bool) -> Any:
    from sacrebleu.metrics import BLEU

    try:
        # effective_order: a short sentence is not zeroed by a missing 4-gram (as sentence_bleu)
        return BLEU(tokenize=tokenize, lowercase=lowercase, effective_order=True)
    except KeyError:
        raise SuiteError(
            f"unknown BLEU tokenizer '{tokenize}'",
            hint="use 13a (the default), intl, char, zh or none",
        ) from None


@register_metric("bleu", primary="reference")
@requires_output
def bleu(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = None,
    tokenize: str = "13a",
    ignore_case: bool = False,
) -> Score:
    """Sentence BLEU against the reference(s), 0..1 (sacrebleu; option tokenize: 13a|intl|zh|...).

    - bleu: "{{ expected }}"
    """
    scorer = _bleu(str(tokenize), bool(ignore_case))
    value = scorer.sentence_score(ctx.text, as_list(reference)).score / 100.0
    return with_threshold(value, threshold)
