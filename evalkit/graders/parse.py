"""Read a judge's answer strictly: one unambiguous label, or unscored with the reason.

Structured answers ({"reasoning": ..., "score": ...}, fenced or not) are read from their score
field. Otherwise the answer must state one verdict ("Score: 4", "Verdict: pass", "I'd rate it
4/5", a bare "PASS", a last line "4"). Anything a careful reader would not call one label is
unscored, never guessed: negations ("not a pass"), hedges ("4 or 5", "maybe pass"), two
different verdicts, self-corrections ("Score: 4/5 ... actually 2"), numbers on another scale
("Rating: 4/10" on 1-5, "80%"), refusals, prose around JSON that gives another verdict, and
answers in other words (another language, free prose). An unscored answer gets one retry with
a stricter reminder (graders/judge.py); tests/test_judge_reader.py holds the adversarial corpus.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from evalkit.graders.levels import Level, Levels

SCORE_KEYS = ("score", "verdict", "label", "rating", "answer", "choice", "winner")
REASON_KEYS = ("reasoning", "reason", "explanation", "rationale")
MAX_SHOWN = 160

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_VALUE = r"(?=(?P<value>[^\n]{0,60}))"  # a lookahead: the next statement may start inside
_WRAP = r"[\"'*_`\s]*"
# "Score: 4", "**Verdict:** pass", "final score = 3/5", "My rating is 4", "I'd give it a 4"
_KEY = r"\b(?:final |overall )?(?:score|verdict|rating|label|grade|judge?ment|decision|winner)\b"
_STATEMENTS = (
    re.compile(rf"{_KEY}{_WRAP}(?:[:=：]|\bis\b|\s[-–]\s){_WRAP}{_VALUE}", re.I),
    re.compile(rf"\b(?:final )?(?:answer|result|choice)\b{_WRAP}[:=：]{_WRAP}{_VALUE}", re.I),
    re.compile(
        rf"\b(?:give|rate|grade|score) (?:it|this(?: \w+)?|the \w+) (?:an? |as )?{_VALUE}", re.I
    ),
)
_READ = re.compile(
    r"^[\"'*_`(\[\s]*(?P<neg>(?:not|no|never|non|isn'?t|is not|hardly)\s+(?:an?\s+)?)?"
    r"(?P<hedge>(?:maybe|probably|possibly|perhaps|likely|around|about|roughly|approximately"
    r"|almost|nearly|borderline|somewhat|~)\s*)?"
    r"(?P<word>[A-Za-z_]+|\d+(?:\.\d+)?)"
    r"(?P<of>\s*(?:/|out of)\s*(?P<den>\d+(?:\.\d+)?))?(?P<pct>\s*%)?(?P<rest>.*)$",
    re.I,
)
_ALTERNATIVE = re.compile(
    r"^[\"'*_`()\[\],;\s]*(?:(?P<q>\?)|(?:or|to|-|–|/)\s*[\"'*]*\s*"
    r"(?:maybe |perhaps |possibly |probably )?(?P<alt>\w+))",
    re.I,
)
_CORRECTION = re.compile(
    r"\b(?:actually|on second thought|on reflection|wait|correction|let me reconsider|i meant"
    r"|scratch that|revis(?:e|ed|ing)|chang(?:e|ing) my|make that)\b",
    re.I,
)
_HEDGE = re.compile(
    r"\b(?:not sure|unsure|hard to say|difficult to say|can'?t decide|cannot decide"
    r"|either way|somewhere between|torn between|between \d+ and \d+)\b",
    re.I,
)
# "though it could be a 3", "or maybe fail": a second label offered anywhere
_OFFERED = re.compile(
    r"\b(?:could|might|may) (?:also |well )?be (?:an? )?(\w+)"
    r"|\bor (?:maybe|perhaps|possibly) (?:an? )?(\w+)",
    re.I,
)
_REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|as an ai\b|i (?:cannot|can'?t|won'?t|am unable to|'m unable to"
    r"|am not able to|do not feel comfortable) (?:help|assist|evaluate|grade|judge|rate|score"
    r"|provide|comply|do that|answer|give))",
    re.I,
)
# words a short bare answer may hold besides its one label ("Response 2", "It's a pass")
_FILLER = {
    "response", "option", "output", "a", "an", "the", "it", "it's", "its", "is", "this",
    "that", "clearly", "definitely", "final", "verdict", "score", "rating", "label", "my",
}  # fmt: skip
_NEGATORS = {"not", "no", "never", "non", "isn't", "isnt", "hardly", "neither", "nor"}
_HEDGES = {"maybe", "probably", "possibly", "perhaps", "likely", "or", "borderline", "almost"}


@dataclass(frozen=True, slots=True)
class Judgement:
    label: str | None
    reasoning: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Verdict:
    """One verdict the answer states: a label, or why the statement names none."""

    label: str | None
    problem: str | None
    at: int  # character offset, to tell what comes after it


def parse_judgement(text: str | None, levels: Levels) -> Judgement:
    """The label a judge's answer names; `error` says why there is none."""
    if text is None or not text.strip():
        return Judgement(None, error="the judge's answer is empty")
    structured = _structured(text, levels)
    if structured is not None:
        return structured
    if _REFUSAL.search(text):
        return _unscored(text, "the judge declined to judge")
    return _from_prose(text, levels)


def _unscored(text: str, why: str, reasoning: str | None = None) -> Judgement:
    return Judgement(None, reasoning, f"{why}: {_shown(text)}")


def _from_prose(text: str, levels: Levels) -> Judgement:
    verdicts = _verdicts(text, levels)
    if not verdicts:
        bare = _bare(text, levels)
        if isinstance(bare, Level):
            return Judgement(bare.label)
        return _unscored(text, bare or "no score in the judge's answer")
    problem = _problem(text, verdicts, levels)
    if problem is not None:
        return _unscored(text, problem)
    return Judgement(verdicts[0].label, reasoning=text.strip())


def _problem(text: str, verdicts: list[_Verdict], levels: Levels) -> str | None:
    """Why these verdicts do not make one label (None: they do)."""
    for verdict in verdicts:
        if verdict.problem is not None:
            return verdict.problem
    labels = sorted({v.label for v in verdicts if v.label is not None})
    if len(labels) > 1:
        return f"the answer gives several verdicts ({', '.join(labels)})"
    if _CORRECTION.search(text, verdicts[0].at):
        return "the judge revised its verdict"
    if _HEDGE.search(text) or _offers_another(text, levels):
        return "the judge hedges"
    return None


def _offers_another(text: str, levels: Levels) -> bool:
    return any(levels.match(a or b) is not None for a, b in _OFFERED.findall(text))


def _verdicts(text: str, levels: Levels) -> list[_Verdict]:
    """Every verdict the prose states, in order: statements, then a label alone on a line."""
    found: dict[int, _Verdict] = {}
    for pattern in _STATEMENTS:
        for match in pattern.finditer(text):
            verdict = _read(match.group("value"), levels, match.start(), strict=False)
            if verdict is not None:
                found.setdefault(match.start(), verdict)
    offset, several = 0, "\n" in text.strip()
    for line in text.splitlines(keepends=True):  # a label alone on its line is a verdict too
        verdict = _read(line.strip(), levels, offset, strict=True) if several else None
        if verdict is not None and (verdict.label is not None or verdict.problem):
            found.setdefault(offset, verdict)
        offset += len(line)
    return [found[k] for k in sorted(found)]


def _read(raw: str, levels: Levels, at: int, strict: bool) -> _Verdict | None:
    """The verdict a statement's value names. strict: the whole text must be the value
    (a line on its own); otherwise a value that is no label and no number is no verdict."""
    match = _READ.match(raw)
    if match is None:
        return None
    word, rest = match.group("word"), match.group("rest")
    number = word[0].isdigit()
    level = levels.match(word)
    if level is None and not number:
        return None  # "The decision is hard": a word that names no label is no verdict
    if match.group("neg"):
        return _Verdict(None, f"the verdict is negated ({match.group(0).strip()[:40]!r})", at)
    if match.group("hedge") or _is_alternative(rest, levels):
        return _Verdict(None, f"the verdict is hedged ({match.group(0).strip()[:40]!r})", at)
    if strict and rest.strip(" .!*_`\"')]"):
        return None  # a line that says more than a label is prose
    scale = _scale_problem(match, levels)
    if scale is not None:
        return _Verdict(None, scale, at)
    if level is None:
        return _Verdict(None, f"score {word!r} is not one of: {', '.join(levels.labels)}", at)
    return _Verdict(level.label, None, at)


def _is_alternative(rest: str, levels: Levels) -> bool:
    """ "4 or 5", "4-5", "pass/fail", "4?": a second value right after the first."""
    alt = _ALTERNATIVE.match(rest)
    if alt is None:
        return False
    other = alt.group("alt")
    return bool(alt.group("q")) or other.isdigit() or levels.match(other) is not None


def _scale_problem(match: re.Match[str], levels: Levels) -> str | None:
    if match.group("pct"):
        return f"a percentage ({match.group(0).strip()[:20]!r}) is not one of the labels"
    if match.group("of") is None:
        return None
    top = max((lv.value for lv in levels.levels), default=math.nan)
    if levels.numeric and float(match.group("den")) == top:
        return None
    given = f"{match.group('word')}/{match.group('den')}"
    return f"{given} is on another scale than {levels.labels[0]}-{levels.labels[-1]}"


def _bare(text: str, levels: Levels) -> Level | str | None:
    """A short answer that is one label ("PASS", "Response 2", "It's a tie"), or why not."""
    whole = levels.match(text)
    if whole is not None:
        return whole
    words = [w.strip(".,;:!?*_`\"'()[]").lower() for w in text.split()]
    words = [w for w in words if w]
    if not words or len(words) > 4:
        return None
    labels = {lv.label for w in words if (lv := levels.match(w)) is not None}
    if not labels:
        return None
    if any(w in _NEGATORS for w in words):
        return "the verdict is negated"
    if any(w in _HEDGES for w in words):
        return "the verdict is hedged"
    if any(levels.match(w) is None and w not in _FILLER for w in words):
        return None  # other words may change the meaning ("almost", another language)
    if len(labels) == 1:
        return levels.match(labels.pop())
    return "the answer gives several verdicts" if labels else None


# --- structured (JSON) answers ---------------------------------------------------------------


def _structured(text: str, levels: Levels) -> Judgement | None:
    """The reading of a JSON answer, or None when the answer holds no JSON object."""
    objects = _json_objects(text)
    readings = [r for r in (_from_json(obj, levels) for obj, _, _ in objects) if r is not None]
    if not readings:
        why = "no score in the judge's answer (a JSON object without a score)"
        return _unscored(text, why, _reason_of(objects[0][0])) if objects else None
    first = readings[0]
    labels = sorted({r.label for r in readings if r.label is not None})
    if first.label is None:
        return first
    if len(labels) > 1 or any(r.error for r in readings):
        why = f"the answer gives several verdicts ({', '.join(labels)})"
        return _unscored(text, why, first.reasoning)
    return _check_around(text, objects, first, levels)


def _check_around(
    text: str, objects: list[tuple[dict[str, Any], int, int]], reading: Judgement, levels: Levels
) -> Judgement:
    """Prose around (or in the reasoning of) the JSON must not give or change the verdict."""
    outside = text[: objects[0][1]] + "\n" + text[objects[-1][2] :]
    after = text[objects[-1][2] :]
    stated = _verdicts(outside, levels) + _verdicts(reading.reasoning or "", levels)
    clean = [v for v in stated if v.problem is None]
    others = sorted({v.label for v in clean if v.label != reading.label and v.label})
    if others:
        why = f"the text around the JSON gives another verdict ({', '.join(others)})"
        return _unscored(text, why, reading.reasoning)
    hedged = _HEDGE.search(outside) or _offers_another(outside, levels)
    if _CORRECTION.search(after) or hedged or _REFUSAL.search(outside):
        return _unscored(text, "the text around the JSON revises or hedges it", reading.reasoning)
    return reading


def _reason_of(obj: dict[str, Any]) -> str | None:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    return next((str(lowered[k]) for k in REASON_KEYS if k in lowered), None)


def _from_json(obj: dict[str, Any], levels: Levels) -> Judgement | None:
    """The label of one JSON object's score field (None: it has none). A second score-like
    field naming another label makes it ambiguous."""
    lowered = {str(k).lower(): v for k, v in obj.items()}
    reasoning = _reason_of(obj)
    keys = [k for k in SCORE_KEYS if k in lowered]
    if not keys:
        return None
    reading = _json_value(lowered[keys[0]], levels, reasoning)
    for key in keys[1:]:
        other = _json_value(lowered[key], levels, reasoning)
        if reading.label is not None and other.label not in (None, reading.label):
            return Judgement(
                None, reasoning, f"the JSON gives two verdicts: {reading.label}, {other.label}"
            )
    return reading


def _json_value(answer: Any, levels: Levels, reasoning: str | None) -> Judgement:
    allowed = ", ".join(levels.labels)
    if isinstance(answer, str) and levels.match(answer) is None:
        verdict = _read(answer, levels, 0, strict=True)
        if verdict is not None and verdict.label is not None:
            return Judgement(verdict.label, reasoning)
        if verdict is not None and verdict.problem:
            return Judgement(None, reasoning, f"score {_shown(answer)}: {verdict.problem}")
    level = levels.match(answer) if isinstance(answer, str | int | float | bool) else None
    if level is None:
        return Judgement(None, reasoning, f"score {_shown(str(answer))} is not one of: {allowed}")
    return Judgement(level.label, reasoning)


def _json_objects(text: str) -> list[tuple[dict[str, Any], int, int]]:
    """Every top-level JSON object in the text, with its span (fences included)."""
    decoder = json.JSONDecoder()
    found: list[tuple[dict[str, Any], int, int]] = []
    pos = text.find("{")
    while pos >= 0:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            found.append((obj, pos, end))
        pos = text.find("{", end)
    fences = [(f.start(), f.end()) for f in _FENCE.finditer(text)]
    return [  # a fenced object's span covers its fence
        next(((o, a, b) for a, b in fences if a <= start and end <= b), (o, start, end))
        for o, start, end in found
    ]


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
