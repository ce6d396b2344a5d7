"""Read a judge's answer: {"reasoning": ..., "score": ...} JSON, else "score: N", else nothing.

Parsing never guesses a score: an answer without a readable, allowed score is a Judgement with
an `error`, which becomes an unscored result (after one retry with a stricter reminder).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from evalkit.graders.levels import Levels

SCORE_KEYS = ("score", "verdict", "label", "rating", "answer", "choice", "winner")
REASON_KEYS = ("reasoning", "reason", "explanation", "rationale")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_SCORE_LINE = re.compile(
    r"\b(?:score|verdict|rating|label)\b[\"'*\s]*[:=]\s*[\"'*\s]*([A-Za-z_]+|\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
MAX_SHOWN = 160


@dataclass(frozen=True, slots=True)
class Judgement:
    label: str | None
    reasoning: str | None = None
    error: str | None = None


def parse_judgement(text: str | None, levels: Levels) -> Judgement:
    """The label a judge's answer names; `error` says why there is none."""
    if text is None or not text.strip():
        return Judgement(None, error="the judge's answer is empty")
    obj = _json_object(text)
    if obj is not None:
        found = _from_json(obj, levels)
        if found is not None:
            return found
    matches = _SCORE_LINE.findall(text)
    if matches:  # the last "score: N" is the conclusion; earlier ones may quote the scale
        return _judged(matches[-1], levels, reasoning=text.strip())
    words = text.split()
    # a bare label, or a short answer ending in one ("Response 1"); never a number in prose
    bare = levels.match(text) or (levels.match(words[-1]) if len(words) <= 3 else None)
    if bare is not None:
        return Judgement(bare.label)
    return Judgement(None, error=f"no score in the judge's answer: {_shown(text)}")


def _from_json(obj: dict[str, Any], levels: Levels) -> Judgement | None:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    reasoning = next((str(lowered[k]) for k in REASON_KEYS if k in lowered), None)
    for key in SCORE_KEYS:
        if key in lowered:
            return _judged(lowered[key], levels, reasoning)
    return None


def _judged(answer: Any, levels: Levels, reasoning: str | None) -> Judgement:
    level = levels.match(answer)
    if level is None:
        allowed = ", ".join(levels.labels)
        return Judgement(None, reasoning, f"score {_shown(str(answer))} is not one of: {allowed}")
    return Judgement(level.label, reasoning)


def _json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in the text (fenced or not), tolerant of prose around it."""
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            obj = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…")


def reminder(error: str, levels: Levels) -> str:
    """The stricter follow-up message of the one retry."""
    allowed = ", ".join(levels.labels)
    return (
        f"Your answer could not be read: {error}. Reply again with only a JSON object, no other "
        f'text: {{"reasoning": "<one or two sentences>", "score": <one of: {allowed}>}}'
    )


# --- label probabilities (G-Eval style weighting) -------------------------------------------


def label_probs(logprobs: dict[str, float], levels: Levels) -> dict[str, float]:
    """Log-probabilities of the labels (or of tokens naming them) -> probabilities over labels.

    Tokens that name the same label (" 4", "4") are summed; labels never seen get 0. The result
    is renormalised over the allowed labels, because the judge's probability mass on other
    tokens says nothing about which label it prefers.
    """
    mass: dict[str, float] = dict.fromkeys(levels.labels, 0.0)
    for token, logprob in logprobs.items():
        level = levels.match(token)
        if level is not None and logprob is not None and not math.isnan(logprob):
            mass[level.label] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:
        return {}
    return {label: p / total for label, p in mass.items()}


def score_token_logprobs(raw: dict[str, Any] | None) -> dict[str, float] | None:
    """Top log-probabilities at the position of the score value in a JSON answer.

    Reads OpenAI-style per-token logprobs (raw["logprobs"] as a list, or {"content": [...]},
    of {token, logprob, top_logprobs: [{token, logprob}]}): the first token after `"score":`.
    None when the provider returned no per-token logprobs.
    """
    entries = _token_entries(raw)
    if not entries:
        return None
    seen = ""
    for entry in entries:
        token = str(entry.get("token", ""))
        if re.search(r'"score"\s*:\s*"?\s*$', seen) and token.strip(' "'):
            tops = entry.get("top_logprobs") or [entry]
            return {str(t.get("token", "")): float(t.get("logprob", -math.inf)) for t in tops}
        seen += token
    return None


def first_token_logprobs(raw: dict[str, Any] | None, output: str | None) -> dict[str, float] | None:
    """The first token's top log-probabilities (transformers' raw["top_logprobs"]) when the
    answer is a bare label, so its first token is the label's; None otherwise."""
    tops = (raw or {}).get("top_logprobs")
    if not isinstance(tops, list) or not output or len(output.split()) != 1:
        return None
    return {str(t.get("token", "")): float(t.get("logprob", -math.inf)) for t in tops}


def _token_entries(raw: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not raw:
        return []
    logprobs = raw.get("logprobs")
    if isinstance(logprobs, dict):
        logprobs = logprobs.get("content")
    return [e for e in logprobs or [] if isinstance(e, dict)]
