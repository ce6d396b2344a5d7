"""Reference-based similarity metrics: edit distance (normalised or absolute) and BLEU.

The reference may be one string or a list of acceptable references; the best score counts.
rapidfuzz and sacrebleu are imported on first use so importing evalkit stays cheap. ROUGE lives
in rouge.py, the tokenizers in tokenize.py.
"""

from __future__ import annotations

import functools
from typing import Any

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_float, as_list, normalise, requires_output, with_threshold
from evalkit.metrics.tokenize import bleu_tokens
from evalkit.records import Score


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


@register_metric("levenshtein", primary="reference")
@requires_output
def levenshtein(
    ctx: ScoreContext, reference: Any, *, threshold: Any = 5, ignore_case: bool = False
) -> Score:
    """Edit distance in characters to the nearest reference; passes when <= threshold (5).

    - levenshtein: {reference: "{{ expected }}", threshold: 3}
    """
    from rapidfuzz.distance import Levenshtein

    limit = as_float(threshold, "threshold")
    output = normalise(ctx.text, ignore_case=ignore_case, strip=False)
    distance = min(
        Levenshtein.distance(output, normalise(ref, ignore_case=ignore_case, strip=False))
        for ref in as_list(reference)
    )
    meta = {"distance": distance}
    if limit is None:  # `threshold: null`: report the distance itself, no verdict
        return Score(value=float(distance), meta=meta)
    if distance > limit:
        reason = f"distance {distance} > threshold {limit:g}"
        return Score(value=0.0, passed=False, reason=reason, meta=meta)
    return Score(value=1.0, passed=True, meta=meta)


@functools.lru_cache(maxsize=8)
def _bleu(tokenize: str, lowercase: bool) -> Any:
    from sacrebleu.metrics import BLEU

    try:
        # effective_order: a short sentence is not zeroed by a missing 4-gram (as sentence_bleu)
        return BLEU(tokenize=tokenize, lowercase=lowercase, effective_order=True)
    except KeyError:
        raise SuiteError(
            f"unknown BLEU tokenizer '{tokenize}'",
            hint="use unicode (the default), 13a, intl, char, zh or none",
        ) from None


@register_metric("bleu", primary="reference")
@requires_output
def bleu(
    ctx: ScoreContext,
    reference: Any,
    *,
    threshold: Any = None,
    tokenize: str = "unicode",
    ignore_case: bool = False,
) -> Score:
    """Sentence BLEU against the reference(s), 0..1 (sacrebleu; Unicode-aware tokens by default).

    - bleu: "{{ expected }}"
    """
    references = as_list(reference)
    if tokenize == "unicode":
        # evalkit's tokenizer (see tokenize.py), then sacrebleu on the space-joined tokens
        def join(text: str) -> str:
            return " ".join(bleu_tokens(text, bool(ignore_case)))

        scorer = _bleu("none", False)
        value = scorer.sentence_score(join(ctx.text), [join(r) for r in references]).score
    else:
        scorer = _bleu(str(tokenize), bool(ignore_case))
        value = scorer.sentence_score(ctx.text, references).score
    return with_threshold(value / 100.0, threshold)
