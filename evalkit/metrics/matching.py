"""Answer matching as the peer harnesses score it, so a ported eval keeps its numbers.

- `fuzzy_match`, `token_f1`: OpenAI Evals (evals/elsuite/utils.py): lower-case, drop ASCII
  punctuation and the articles a/an/the, collapse spaces; fuzzy means either text contains
  the other, F1 is SQuAD's token F1. Several references: any / the best.
- `match`: Inspect's match() scorer: strip, casefold, strip punctuation at the ends, then
  compare at the end (default), begin, anywhere or exactly; `numeric: true` compares numbers.
- `exact_match`, `regex_extract`: lm-evaluation-harness's exact_match metric
  (regexes_to_ignore, ignore_case, ignore_punctuation, ignore_numbers, no stripping) and its
  regex filter (findall, group_select picks the match, the first non-empty group of it,
  fallback "[invalid]").
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext, register_metric
from evalkit.metrics.text import as_list, compile_pattern, requires_output, with_threshold
from evalkit.records import Score

_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_LOCATIONS = {"end": "end", "begin": "begin", "start": "begin", "any": "any", "exact": "exact"}
# Inspect strips these from a number token's edges ("42!", "(42)"); % stays: 60% is not 60.
_NUMBER_EDGES = "!?:;()[]{}'\"`~<=>@#^&|"
_NUMERIC_NOISE = re.compile(r"[$€£,*_]")
_TRAILING_DOT = re.compile(r"\.(?=\s|$|\D)")


def _verdict(ok: bool, reason: str, **meta: Any) -> Score:
    if ok:
        return Score(value=1.0, passed=True, meta=meta or None)
    return Score(value=0.0, passed=False, reason=reason[:300], meta=meta or None)


# --- OpenAI Evals -----------------------------------------------------------------------------


def openai_normalize(text: str) -> str:
    """OpenAI Evals' normalize(): lower, no ASCII punctuation, no articles, single spaces."""
    text = text.lower().translate(_ASCII_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _fuzzy(a: str, b: str) -> bool:
    a, b = openai_normalize(a), openai_normalize(b)
    if not a or not b:
        return a == b
    return a in b or b in a


@register_metric("fuzzy_match", primary="reference")
@requires_output
def fuzzy_match(ctx: ScoreContext, reference: Any) -> Score:
    """OpenAI Evals' fuzzy match: output and a reference contain one another, normalised.

    - fuzzy_match: "{{ ideal }}"
    """
    references = as_list(reference)
    for ref in references:
        if _fuzzy(ctx.text, ref):
            return _verdict(True, "", matched=ref)
    return _verdict(False, f"no fuzzy match with {references!r}")


def _f1(prediction: str, truth: str) -> float:
    predicted, expected = openai_normalize(prediction).split(), openai_normalize(truth).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


@register_metric("token_f1", primary="reference")
@requires_output
def token_f1(ctx: ScoreContext, reference: Any, *, threshold: Any = None) -> Score:
    """Token F1 against the best reference, 0..1 (OpenAI Evals' / SQuAD's normalisation).

    - token_f1: {reference: "{{ ideal }}", threshold: 0.5}
    """
    return with_threshold(max(_f1(ctx.text, ref) for ref in as_list(reference)), threshold)


# --- Inspect ----------------------------------------------------------------------------------


def _strip_punctuation(text: str) -> str:
    return text.strip(string.whitespace + string.punctuation)


def _number(token: str, edges: bool = True) -> str | None:
    """The token as a normalised number (5 significant digits, as Inspect), or None."""
    for candidate in (token, token.strip(_NUMBER_EDGES)) if edges else (token,):
        try:
            value = float(candidate)
        except ValueError:
            continue
        if value == value and abs(value) != float("inf"):
            return format(value, ".5g")
    return None


def _numeric_match(value: str, target: str, location: str) -> bool | None:
    """Inspect's numeric comparison; None when the target is not a number (compare as text)."""
    wanted = _number(_TRAILING_DOT.sub("", _NUMERIC_NOISE.sub("", target)), edges=False)
    if wanted is None:
        return None
    cleaned = _TRAILING_DOT.sub("", _NUMERIC_NOISE.sub("", value))
    if location == "exact":
        return _number(cleaned) == wanted
    numbers = [n for n in (_number(w) for w in re.split(r"\s+", cleaned)) if n is not None]
    if location == "any":
        return wanted in numbers
    if not numbers:
        return False
    return (numbers[0] if location == "begin" else numbers[-1]) == wanted


def inspect_match(value: str, target: str, location: str, ignore_case: bool, numeric: bool) -> bool:
    v, t = value.strip(), target.strip()
    if ignore_case:
        v, t = v.casefold(), t.casefold()
    if numeric:
        result = _numeric_match(v, t, location)
        if result is not None:
            return result
    v, t = _strip_punctuation(v), _strip_punctuation(t)
    if location == "begin":
        return v.startswith(t)
    if location == "end":
        return v.endswith(t)
    return v == t if location == "exact" else t in v


@register_metric("match", primary="target")
@requires_output
def match(
    ctx: ScoreContext,
    target: Any,
    *,
    location: str = "end",
    ignore_case: bool = True,
    numeric: bool = False,
) -> Score:
    """Inspect's match(): the target at the end (or begin, any, exact), ignoring case.

    Surrounding punctuation is ignored; `numeric: true` compares numbers.

    - match: {target: "{{ answer }}", location: end, numeric: true}
    """
    where = _LOCATIONS.get(str(location))
    if where is None:
        raise SuiteError(
            f"unknown match location '{location}'", hint="use end, begin (or start), any or exact"
        )
    targets = as_list(target)
    for t in targets:
        if inspect_match(ctx.text, t, where, bool(ignore_case), bool(numeric)):
            return _verdict(True, "", matched=t)
    return _verdict(False, f"no match ({where}) for {targets!r}")


# --- lm-evaluation-harness --------------------------------------------------------------------


def _lm_eval_clean(text: str, opts: dict[str, Any]) -> str:
    for pattern in opts["regexes_to_ignore"] or ():
        text = compile_pattern(str(pattern)).sub("", text)
    if opts["ignore_case"]:
        text = text.lower()
    if opts["ignore_punctuation"]:
        text = text.translate(_ASCII_PUNCTUATION)
    if opts["ignore_numbers"]:
        text = text.translate(str.maketrans("", "", string.digits))
    return text


def _exact(prediction: str, reference: Any, opts: dict[str, Any], **meta: Any) -> Score:
    cleaned = _lm_eval_clean(prediction, opts)
    references = as_list(reference)
    for ref in references:
        if _lm_eval_clean(ref, opts) == cleaned:
            return _verdict(True, "", matched=ref, **meta)
    return _verdict(False, f"{cleaned!r} is not {references!r}", **meta)


@register_metric("exact_match", primary="reference")
@requires_output
def exact_match(
    ctx: ScoreContext,
    reference: Any,
    *,
    regexes_to_ignore: Any = None,
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_numbers: bool = False,
) -> Score:
    """lm-eval's exact_match: equal after removing regexes_to_ignore (no stripping).

    - {type: exact_match, reference: "{{ answer }}", regexes_to_ignore: [",", "\\\\$"]}
    """
    opts = _opts(regexes_to_ignore, ignore_case, ignore_punctuation, ignore_numbers)
    return _exact(ctx.text, reference, opts)


def _opts(regexes: Any, ignore_case: bool, punctuation: bool, numbers: bool) -> dict[str, Any]:
    return {
        "regexes_to_ignore": as_list(regexes) if regexes is not None else None,
        "ignore_case": bool(ignore_case),
        "ignore_punctuation": bool(punctuation),
        "ignore_numbers": bool(numbers),
    }


def extract(text: str, pattern: str, group_select: int = 0, fallback: str = "[invalid]") -> str:
    """lm-eval's regex filter: the `group_select`-th match of findall (-1: the last).

    A match with groups gives its first non-empty group; the result is stripped, and
    `fallback` stands in when there is no such match.
    """
    found = compile_pattern(pattern).findall(text)
    try:
        chosen = found[int(group_select)]
    except IndexError:
        return fallback
    if isinstance(chosen, tuple):
        chosen = next((g for g in chosen if g), None)
        if chosen is None:
            return fallback
    return str(chosen).strip()


@register_metric("regex_extract", primary="pattern")
@requires_output
def regex_extract(
    ctx: ScoreContext,
    pattern: str,
    reference: Any,
    *,
    group_select: int = 0,
    fallback: str = "[invalid]",
    regexes_to_ignore: Any = None,
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_numbers: bool = False,
) -> Score:
    """Extract the answer with a regex (lm-eval's filter), then exact_match it; meta `extracted`.

    - {type: regex_extract, pattern: '#### (\\\\-?[0-9\\\\.\\\\,]+)', reference: "{{ answer }}"}
    """
    answer = extract(ctx.text, str(pattern), int(group_select), str(fallback))
    opts = _opts(regexes_to_ignore, ignore_case, ignore_punctuation, ignore_numbers)
    return _exact(answer, reference, opts, extracted=answer[:200])
