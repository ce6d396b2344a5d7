"""The strict judge reader against an adversarial corpus of judge replies.

Each entry is (scale, reply, expected): `expected` is the label a careful reader would take
from the reply, or `None` with a word the unscored reason must contain. The acceptance of
issue 10: no reply is read as a label a careful reader would not give (negations, hedges, two
verdicts, self-corrections, other scales, refusals, prose around JSON, other languages).
"""

from __future__ import annotations

from collections import Counter

import pytest

from evalkit.graders.levels import PAIRWISE, Levels
from evalkit.graders.parse import parse_judgement
from evalkit.graders.reference import closed_qa_levels, factuality_levels
from evalkit.graders.rubric import rubric_levels
from evalkit.suite.graders import RubricGrader

SCALES: dict[str, Levels] = {
    "1-5": rubric_levels(RubricGrader(type="rubric", judge="j", rubric="x", scale=[1, 5])),
    "pass/fail": rubric_levels(RubricGrader(type="rubric", judge="j", rubric="x")),
    "qa": closed_qa_levels(None),
    "pairwise": PAIRWISE,
    "factuality": factuality_levels({}, None),
}

READ = [  # replies with exactly one verdict: read as it
    ("1-5", '{"reasoning": "Accurate and complete.", "score": 5}', "5"),
    ("1-5", '{"reasoning": "fine", "score": "4"}', "4"),
    ("1-5", '{"Score": 4.0, "Reasoning": "x"}', "4"),
    ("1-5", '{"reasoning": "ok", "score": "4/5"}', "4"),
    ("1-5", '```json\n{"reasoning": "Misses one step.", "score": 3}\n```', "3"),
    ("1-5", 'Sure!\n```json\n{"reasoning": "ok", "score": 5}\n```\nHope it helps', "5"),
    ("1-5", 'Here is my evaluation:\n{"reasoning": "Partly right.", "score": 2}', "2"),
    ("1-5", '{"reasoning": "Good. Score: 4", "score": 4}', "4"),
    ("1-5", "The output is decent.\nScore: 3", "3"),
    ("1-5", "Rating: 2/5 because it is vague", "2"),
    ("1-5", "**Score:** 1", "1"),
    ("1-5", "5", "5"),
    ("1-5", "4.", "4"),
    ("1-5", "Final score: 4", "4"),
    ("1-5", "My score is 3.", "3"),
    ("1-5", "I'd give it a 4 out of 5.", "4"),
    ("1-5", "I would rate this response 2/5: it invents a refund policy.", "2"),
    ("1-5", "The response is accurate and complete.\n\n4", "4"),
    ("1-5", "Score: 3 - decent but incomplete", "3"),
    ("1-5", "The scale goes from 1 to 5. Score: 4", "4"),
    ("1-5", "Score: 4\nThe answer covers every point. Final score: 4", "4"),
    ("1-5", "Actually quite good, only a typo.\nScore: 4", "4"),
    ("1-5", '{"score": 4}\nThe answer has 3 small errors.', "4"),
    ("1-5", "The answer could be clearer.\nScore: 3", "3"),
    # the score field is the commitment; doubts inside the reasoning do not override it
    ("1-5", '{"reasoning": "Solid, though it might be a 3.", "score": 4}', "4"),
    ("pass/fail", '{"reasoning": "meets it", "score": "PASS"}', "pass"),
    ("pass/fail", '{"score": true}', "pass"),
    ("pass/fail", '{"reasoning": "wrong date", "score": "fail"}', "fail"),
    ("pass/fail", "pass", "pass"),
    ("pass/fail", "PASS.", "pass"),
    ("pass/fail", "**FAIL**", "fail"),
    ("pass/fail", "It's a pass", "pass"),
    ("pass/fail", "Verdict: fail", "fail"),
    ("pass/fail", "The output meets the rubric.\nVerdict: **pass**", "pass"),
    ("pass/fail", "No", "fail"),
    ("qa", "correct", "correct"),
    ("qa", "Incorrect.", "incorrect"),
    ("qa", '{"reasoning": "Agrees with the reference.", "score": "correct"}', "correct"),
    ("qa", "Verdict: incorrect (the year is wrong)", "incorrect"),
    ("pairwise", "Response 2", "2"),
    ("pairwise", '{"score": "tie"}', "tie"),
    ("pairwise", "It's a tie", "tie"),
    ("pairwise", '{"reasoning": "the first one", "score": "1"}', "1"),
    ("pairwise", "Winner: 1", "1"),
    ("factuality", '{"reasoning": "Adds a detail.", "score": "superset"}', "superset"),
    ("factuality", "Label: contradicts", "contradicts"),
]

UNSCORED = [  # a careful reader would not take one label from these
    # negations
    ("pass/fail", "Not a pass", "negated"),
    ("pass/fail", "not pass", "negated"),
    ("pass/fail", "NOT PASS", "negated"),
    ("pass/fail", "Verdict: not a pass", "negated"),
    ("pass/fail", "This is not a pass.", "no score"),
    ("qa", "not correct", "negated"),
    ("qa", "Not incorrect", "negated"),
    ("qa", "The verdict is not correct.", "negated"),
    ("1-5", "Score: not 5", "negated"),
    ("pass/fail", '{"reasoning": "r", "score": "not pass"}', "negated"),
    ("pairwise", "Never 1", "negated"),
    # hedges
    ("1-5", "I think the answer is quite good overall, maybe 4 or 5", "no score"),
    ("1-5", "Score: 4 or 5", "hedged"),
    ("1-5", "Score: 3-4", "hedged"),
    ("1-5", "Score: maybe 4", "hedged"),
    ("1-5", "Score: 4?", "hedged"),
    ("pass/fail", "Verdict: pass/fail", "hedged"),
    ("pass/fail", "probably pass", "hedged"),
    ("pass/fail", "borderline pass", "hedged"),
    ("1-5", "I'm not sure. Score: 3", "hedges"),
    ("1-5", "Hard to say, somewhere between 2 and 3. Score: 3", "hedges"),
    ("1-5", '{"reasoning": "r", "score": "4 or 5"}', "hedged"),
    ("1-5", "Score: 4 (or maybe 3)", "hedged"),
    ("1-5", "Score: 4, though it could be a 3", "hedges"),
    ("pass/fail", "Verdict: pass, or possibly fail", "hedged"),
    # two verdicts
    ("pass/fail", "Verdict: fail\nVerdict: pass", "several verdicts"),
    ("1-5", "Score: 2. Final score: 4", "several verdicts"),
    ("1-5", "Score: 1 means useless and Score: 5 means perfect. Score: 4", "several verdicts"),
    ("pass/fail", "pass fail", "several verdicts"),
    ("1-5", '{"score": 4, "rating": 2}', "two verdicts"),
    ("1-5", '{"score": 4}\n{"score": 2}', "several verdicts"),
    ("1-5", "Score: 4\n\n2", "several verdicts"),
    # self-corrections
    ("1-5", "Score: 4/5 ... actually 2", "revised"),
    ("1-5", "Score: 4. Wait, it misses the date. 2", "revised"),
    ("pass/fail", "Verdict: pass. On second thought, the tone is off.", "revised"),
    ("1-5", "Score: 5 (scratch that, 3)", "revised"),
    ("1-5", '{"score": 4} Actually, on reflection, 2.', "revises"),
    ("1-5", '{"reasoning": "ok", "score": 4}\nCorrection: I meant 3.', "revises"),
    # other scales, numbers that are no label
    ("1-5", "Rating: 4/10", "another scale"),
    ("1-5", "Score: 8/10", "another scale"),
    ("1-5", "Score: 80%", "percentage"),
    ("1-5", "Score: 3.5", "not one of"),
    ("1-5", "Score: 0", "not one of"),
    ("1-5", '{"reasoning": "great", "score": 9}', "not one of: 1, 2, 3, 4, 5"),
    ("1-5", '{"reasoning": "ok", "score": "4/10"}', "another scale"),
    ("pass/fail", "Score: 4/5", "another scale"),
    ("1-5", "I give it a 7 out of 10.", "another scale"),
    # refusals
    ("1-5", "I'm sorry, but I can't evaluate this response.", "declined"),
    ("pass/fail", "As an AI, I cannot judge whether this is acceptable.", "declined"),
    ("1-5", "I am unable to rate content of this kind.", "declined"),
    ("qa", "I won't grade this.", "declined"),
    ("1-5", "", "empty"),
    ("1-5", "   \n ", "empty"),
    # text around JSON that changes it
    ("1-5", 'Here is my evaluation: {"score": 4}. Score: 2', "another verdict"),
    ("1-5", '{"reasoning": "Score: 2, it is wrong", "score": 5}', "another verdict"),
    ("pass/fail", 'Verdict: fail\n```json\n{"reasoning": "r", "score": "pass"}\n```', "another"),
    (
        "1-5",
        '```json\n{"reasoning": "ok", "score": 4}\n```\nNot sure about this one though.',
        "hedges",
    ),
    ("1-5", '{"reasoning": "no score key"}', "no score"),
    ("1-5", '{"reasoning": "r", "score": null}', "not one of"),
    ("1-5", '{"reasoning": "r", "score": [4, 5]}', "not one of"),
    ("pairwise", '{"verdict": "Response 2"}', "not one of"),
    # other languages and free prose
    ("1-5", "Puntuación: 4", "no score"),
    ("1-5", "Note : 4 sur 5", "no score"),
    ("1-5", "Bewertung: vier von fünf", "no score"),
    ("1-5", "评分：4", "no score"),
    ("qa", "La respuesta es correcta.", "no score"),
    ("qa", "Richtig", "no score"),
    ("pass/fail", "Réussi", "no score"),
    ("1-5", "The answer lists 3 reasons and 2 examples.", "no score"),
    ("1-5", "Looks fine to me!", "no score"),
    ("qa", "The answer is correct.", "no score"),
    ("pairwise", "Response 1 is better.", "no score"),
    ("pairwise", "1 or 2", "hedged"),
    ("factuality", "Label: consistent, or maybe superset", "hedge"),
    ("factuality", "It contradicts the reference in part, but is mostly a subset.", "no score"),
]

CORPUS = [(s, text, label, None) for s, text, label in READ] + [
    (s, text, None, why) for s, text, why in UNSCORED
]


def test_the_corpus_is_large_and_covers_every_kind_of_trap() -> None:
    assert len(CORPUS) >= 80
    assert len(UNSCORED) >= 60
    assert Counter(s for s, *_ in CORPUS).keys() == SCALES.keys()


@pytest.mark.parametrize(("scale", "text", "label", "why"), CORPUS)
def test_reads_what_a_careful_reader_reads(
    scale: str, text: str, label: str | None, why: str | None
) -> None:
    judged = parse_judgement(text, SCALES[scale])
    assert judged.label == label, (text, judged)
    if label is None:
        assert why is not None and why in (judged.error or ""), (text, judged.error)
    else:
        assert judged.error is None


NEGATED = [
    "not {}",
    "Not a {}",
    "not an {}",
    "Verdict: not {}",
    "Score: not {}",
    "no {}",
    "never {}",
]
HEDGED = ["maybe {}", "probably {}", "Verdict: {}?", "Score: maybe {}", "Label: perhaps {}"]


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_no_negated_or_hedged_label_is_ever_read(scale: str) -> None:
    levels = SCALES[scale]
    for label in levels.labels:
        for template in NEGATED + HEDGED:
            text = template.format(label)
            for variant in (text, text.upper(), f"**{text}**", f"{text}."):
                judged = parse_judgement(variant, levels)
                assert judged.label is None and judged.error, (variant, judged)


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_two_different_labels_are_never_read_as_one(scale: str) -> None:
    levels = SCALES[scale]
    for first in levels.labels:
        for second in levels.labels:
            if first == second:
                continue
            for text in (
                f"Verdict: {first}\nVerdict: {second}",
                f"Score: {first}. Actually, {second}.",
                f'{{"score": "{first}"}} Score: {second}',
            ):
                judged = parse_judgement(text, levels)
                assert judged.label is None, (text, judged)
