"""Graders (LLM judges) with the deterministic mock provider as judge, and fake label scorers.

Covers parsing, the one retry then unscored, position swapping in pairwise, only_if skipping,
calibration against hand-computed values, several samples/judges, structured judging modes,
caching and hashing of judge calls, and the validation errors a PO meets.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner

from evalkit.api import RunOptions, run_suite
from evalkit.cli.main import cli
from evalkit.errors import SuiteError
from evalkit.graders.calibration import grader_calibration
from evalkit.graders.judge import response_format
from evalkit.graders.levels import PAIRWISE
from evalkit.graders.parse import label_probs, parse_judgement, score_token_logprobs
from evalkit.graders.reference import closed_qa_levels, factuality_levels
from evalkit.graders.rubric import rubric_levels
from evalkit.plugins.registry import registry
from evalkit.providers.mock import MockProvider
from evalkit.records import Generation, GenerationRequest, Usage
from evalkit.suite.graders import RubricGrader

ROWS = [
    {"id": "q1", "question": "What is 2+2?", "expected": "4", "reference": "4", "human": "pass"},
    {
        "id": "q2",
        "question": "Capital of France?",
        "expected": "Paris",
        "reference": "Paris",
        "human": "fail",
    },
    {
        "id": "q3",
        "question": "Color of the sky?",
        "expected": "blue",
        "reference": "blue",
        "human": "fail",
    },
    {
        "id": "q4",
        "question": "Opposite of hot?",
        "expected": "cold",
        "reference": "cold",
        "human": "pass",
    },
]
ANSWERS = {"2+2": "The answer is 4", "France": "Paris", "sky": "It is blue", "hot": "warm"}


def mock_judge(
    jid: str = "judge",
    responses: dict[str, str] | None = None,
    response: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A mock judge: `responses` by substring of the judge prompt, else `response`."""
    answers = dict(responses or {})
    if response is not None:
        answers[""] = response  # "" is in every prompt: the fallback (mock's `response` formats)
    return {"id": jid, "provider": "mock", "options": {"responses": answers, **options}}


def write(
    tmp_path: Path,
    graders: list[dict[str, Any]],
    judges: list[dict[str, Any]],
    rows: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Path:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows or ROWS))
    suite = {
        "name": "graded",
        "dataset": "data.jsonl",
        "prompts": {"plain": "{{ question }}"},
        "models": [{"id": "mock", "provider": "mock", "options": {"responses": ANSWERS}}],
        "judges": judges,
        "metrics": [{"contains": "{{ expected }}"}],
        "graders": graders,
        **extra,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def run(path: Path, **options: Any) -> Any:
    return run_suite(path, RunOptions(runs_dir=path.parent / "runs", **options))


def records(result: Any) -> dict[str, dict[str, Any]]:
    lines = (result.run_dir / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["example_id"]: json.loads(line) for line in lines}


def stats(result: Any, name: str) -> Any:
    return result.summary.cells[0].metrics[name]


def rubric(**fields: Any) -> dict[str, Any]:
    return {"type": "rubric", "name": "ok", "judge": "judge", "rubric": "Correct.", **fields}


@pytest.fixture(autouse=True)
def _reset_mock_calls() -> None:
    MockProvider.CALLS.clear()


# --- parsing -----------------------------------------------------------------------------------

FIVE = rubric_levels(RubricGrader(type="rubric", judge="j", rubric="x", scale=[1, 5]))
PASS_FAIL = rubric_levels(RubricGrader(type="rubric", judge="j", rubric="x"))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('{"reasoning": "fine", "score": 4}', "4"),
        ('{"reasoning": "fine", "score": "4"}', "4"),
        ('{"Score": 4.0, "Reasoning": "x"}', "4"),
        ('Sure!\n```json\n{"reasoning": "ok", "score": 5}\n```\nHope it helps', "5"),
        ("The output is decent.\nScore: 3", "3"),
        ("Rating: 2/5 because it is vague", "2"),
        ("**Score:** 1", "1"),
        ("5", "5"),
    ],
)
def test_parse_reads_json_then_score_lines_then_bare_labels(text: str, label: str) -> None:
    assert parse_judgement(text, FIVE).label == label


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        (None, "empty"),
        ('{"reasoning": "great", "score": 9}', "not one of: 1, 2, 3, 4, 5"),
        ("I think the answer is quite good overall, maybe 4 or 5", "no score"),
        ('{"reasoning": "no score key"}', "no score"),
    ],
)
def test_parse_never_guesses(text: str | None, error: str) -> None:
    judgement = parse_judgement(text, FIVE)
    assert judgement.label is None and error in (judgement.error or "")


def test_parse_keeps_reasoning_and_accepts_label_aliases() -> None:
    judged = parse_judgement('{"reasoning": "meets it", "score": "PASS"}', PASS_FAIL)
    assert (judged.label, judged.reasoning) == ("pass", "meets it")
    assert parse_judgement('{"score": true}', PASS_FAIL).label == "pass"
    assert parse_judgement('{"verdict": "Response 2"}', PAIRWISE).label is None
    assert parse_judgement("Response 2", PAIRWISE).label == "2"
    assert parse_judgement('{"score": "tie"}', PAIRWISE).label == "tie"


def test_label_probabilities_and_openai_token_logprobs() -> None:
    probs = label_probs({"4": math.log(0.3), " 4": math.log(0.1), "5": math.log(0.4), "x": 0}, FIVE)
    assert probs["4"] == pytest.approx(0.5) and probs["5"] == pytest.approx(0.5)
    raw = {
        "logprobs": {
            "content": [
                {"token": '{"', "logprob": 0.0},
                {"token": "reasoning", "logprob": 0.0},
                {"token": '": "ok", "score": ', "logprob": 0.0},
                {
                    "token": "4",
                    "logprob": -0.2,
                    "top_logprobs": [
                        {"token": "4", "logprob": math.log(0.75)},
                        {"token": "3", "logprob": math.log(0.25)},
                    ],
                },
                {"token": "}", "logprob": 0.0},
            ]
        }
    }
    tops = score_token_logprobs(raw)
    assert tops is not None and label_probs(tops, FIVE)["4"] == pytest.approx(0.75)
    assert score_token_logprobs({"finish_reason": "stop"}) is None


def test_levels_and_structured_output_schema() -> None:
    assert PASS_FAIL.passed(1.0) is True and PASS_FAIL.passed(0.0) is False
    assert FIVE.passed(5.0) is None  # a numeric scale passes only with a threshold
    facts = factuality_levels({"subset": 0.5}, 0.4)
    assert facts.value_of("subset") == 0.5 and facts.passed(facts.value_of("contradicts")) is False
    assert closed_qa_levels(None).match("yes").label == "correct"  # type: ignore[union-attr]
    fmt = response_format(FIVE)["json_schema"]
    assert fmt["strict"] is True
    assert fmt["schema"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert fmt["schema"]["required"] == ["reasoning", "score"]


# --- scoring through a run ---------------------------------------------------------------------


def test_rubric_scores_with_reason_meta_and_judge_hash(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "it is right", "score": 4}')
    result = run(write(tmp_path, [rubric(scale=[1, 5], threshold=4)], [judge]))
    score = records(result)["q1"]["scores"]["ok"]
    assert score["value"] == 4.0 and score["passed"] is True
    assert score["reason"] == "it is right"
    meta = score["meta"]
    assert meta["judge"] == "judge" and meta["mode"] == "text" and meta["label"] == "4"
    assert len(meta["judge_hash"]) == 16 and meta["reasoning"] == "it is right"
    assert stats(result, "ok").mean == 4.0 and stats(result, "ok").pass_rate == 1.0
    graders = json.loads((result.run_dir / "run.json").read_text())["graders"]
    assert graders[0]["name"] == "ok" and graders[0]["judges"] == ["judge"]


def test_unreadable_answer_is_retried_once_then_scored(tmp_path: Path) -> None:
    judge = mock_judge(
        responses={"could not be read": '{"reasoning": "ok", "score": "pass"}'},
        response="Looks fine to me!",
    )
    result = run(write(tmp_path, [rubric()], [judge]))
    score = records(result)["q1"]["scores"]["ok"]
    assert score["value"] == 1.0 and score["meta"]["retried"] == 1
    assert score["meta"]["calls"] == 2
    assert MockProvider.CALLS["judge"] == 2 * len(ROWS)
    assert result.summary.judging.graders["ok"].calls == 2 * len(ROWS)


def test_unreadable_after_retry_is_unscored_never_zero_or_pass(tmp_path: Path) -> None:
    judge = mock_judge(response="Looks fine to me!")
    path = write(tmp_path, [rubric()], [judge], gates=[{"max_unscored_rate": 0.05}])
    result = run(path)
    score = records(result)["q2"]["scores"]["ok"]
    assert score["value"] is None and score["passed"] is None
    assert "no score in the judge's answer" in score["reason"]
    assert "after a retry" in score["reason"]
    assert stats(result, "ok").n == 0 and stats(result, "ok").n_unscored == len(ROWS)
    assert result.exit_code == 1  # the unscored-rate gate reads them


def test_failed_judge_call_is_unscored_with_the_providers_reason(tmp_path: Path) -> None:
    judge = {**mock_judge(fail_on="Correct."), "max_attempts": 1}
    result = run(write(tmp_path, [rubric()], [judge]))
    score = records(result)["q1"]["scores"]["ok"]
    assert score["value"] is None and "judge call failed: mock failure" in score["reason"]
    assert result.summary.counts.errors == 0  # the item itself did not fail


def test_only_if_passed_skips_and_counts_without_calling_the_judge(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "r", "score": "pass"}')
    result = run(write(tmp_path, [rubric(only_if="passed")], [judge]))
    q4 = records(result)["q4"]["scores"]["ok"]  # "warm" does not contain "cold"
    assert q4["skipped"] is True and q4["value"] is None
    assert q4["reason"] == "skipped: metric contains failed"
    assert stats(result, "ok").skipped == 1 and stats(result, "ok").n == 3
    assert stats(result, "ok").n_unscored == 0
    assert MockProvider.CALLS["judge"] == 3


def test_skipped_items_show_in_the_table(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "r", "score": "pass"}')
    path = write(tmp_path, [rubric(only_if="passed")], [judge])
    out = CliRunner().invoke(cli, ["run", str(path), "-q", "--runs-dir", str(tmp_path / "r")])
    assert "n=3 1 skipped" in out.output


def test_only_if_names_metrics(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "r", "score": "pass"}')
    graders = [rubric(only_if=["contains"])]
    result = run(
        write(
            tmp_path,
            graders,
            [judge],
            metrics=[{"contains": "{{ expected }}"}, {"type": "length", "max_words": 1}],
        )
    )
    assert stats(result, "ok").skipped == 1  # length fails on q1..q3, but is not named


def test_reference_graders_and_missing_reference(tmp_path: Path) -> None:
    rows = [dict(r) for r in ROWS]
    rows[3]["reference"] = ""
    judge = mock_judge(
        responses={"Reference answer]\n4": '{"reasoning": "r", "score": "correct"}'},
        response='{"reasoning": "r", "score": "contradicts"}',
    )
    graders = [
        {"type": "closed_qa", "judge": "judge"},
        {"type": "factuality", "judge": "judge"},
    ]
    result = run(write(tmp_path, graders, [judge], rows=rows))
    by_id = records(result)
    assert by_id["q1"]["scores"]["closed_qa"]["value"] == 1.0
    assert by_id["q2"]["scores"]["factuality"]["value"] == 0.0
    assert by_id["q2"]["scores"]["factuality"]["passed"] is False
    assert by_id["q4"]["scores"]["closed_qa"]["reason"].endswith(
        "no reference answer for this example"
    )


# --- several samples and judges ----------------------------------------------------------------


def test_several_judges_mean_and_majority(tmp_path: Path) -> None:
    judges = [
        mock_judge("a", response='{"reasoning": "r", "score": 5}'),
        mock_judge("b", response='{"reasoning": "r", "score": 3}'),
        mock_judge("c", response="no idea"),  # unscored votes are left out, and reported
    ]
    graders = [
        rubric(name="mean5", judge=None, judges=["a", "b", "c"], scale=[1, 5]),
        rubric(name="maj5", judge=None, judges=["a", "b"], scale=[1, 5], aggregate="majority"),
    ]
    result = run(write(tmp_path, graders, judges))
    mean5 = records(result)["q1"]["scores"]["mean5"]
    assert mean5["value"] == 4.0 and mean5["meta"]["judge"] == ["a", "b", "c"]
    assert set(mean5["meta"]["judge_hash"]) == {"a", "b", "c"}
    votes = mean5["meta"]["votes"]
    assert [v["label"] for v in votes] == ["5", "3", None] and "no score" in votes[2]["error"]
    assert records(result)["q1"]["scores"]["maj5"]["value"] == 3.0  # a split takes the lower


def test_samples_have_their_own_calls_and_majority(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "r", "score": "pass"}')
    result = run(write(tmp_path, [rubric(samples=3, params={"temperature": 0.7})], [judge]))
    score = records(result)["q1"]["scores"]["ok"]
    assert [v["sample"] for v in score["meta"]["votes"]] == [0, 1, 2]
    assert score["value"] == 1.0 and MockProvider.CALLS["judge"] == 3 * len(ROWS)


# --- judge calls: cache, hash, params, modes ---------------------------------------------------


def test_judge_calls_are_cached_and_hash_tracks_the_prompt(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "r", "score": "pass"}')
    path = write(tmp_path, [rubric()], [judge])
    first = records(run(path))["q1"]["scores"]["ok"]["meta"]
    calls = MockProvider.CALLS["judge"]
    again = records(run(path))["q1"]["scores"]["ok"]["meta"]
    assert MockProvider.CALLS["judge"] == calls and again["calls"] == 0
    assert again["judge_hash"] == first["judge_hash"]
    path = write(tmp_path, [rubric(prompt="Is {{ output }} right for {{ question }}?")], [judge])
    changed = records(run(path))["q1"]["scores"]["ok"]["meta"]
    assert changed["judge_hash"] != first["judge_hash"]
    assert MockProvider.CALLS["judge"] > calls


class Recorder:
    """A fake judge provider: records requests; optionally scores labels like a local model."""

    requests: ClassVar[list[GenerationRequest]] = []
    label_calls: ClassVar[int] = 0

    def __init__(self, labels: bool, bare: bool = False) -> None:
        self.bare = bare
        if labels:
            self.score_labels = self._score_labels

    async def generate(self, request: GenerationRequest) -> Generation:
        Recorder.requests.append(request)
        if self.bare:  # a bare label with first-token logprobs, like transformers' top_logprobs
            tops = [
                {"token": "4", "logprob": math.log(0.5)},
                {"token": "5", "logprob": math.log(0.3)},
                {"token": "The", "logprob": math.log(0.2)},
            ]
            return Generation(output="4", raw={"top_logprobs": tops})
        return Generation(output='{"reasoning": "r", "score": 4}', usage=Usage(10, 5))

    async def _score_labels(self, messages: list[Any], labels: list[str]) -> dict[str, float]:
        Recorder.label_calls += 1
        table = {"1": 0.0, "2": 0.0, "3": 0.1, "4": 0.6, "5": 0.3, "pass": 0.8, "fail": 0.2}
        return {label: math.log(table[label]) if table[label] else -1e9 for label in labels}

    async def aclose(self) -> None:
        return None


def create_recorder(config: Any, base_dir: Path) -> Recorder:
    return Recorder(bool(config.options.get("labels")), bool(config.options.get("bare")))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    entries = registry().entries["provider"]
    monkeypatch.setitem(entries, "recorder", "test_graders:create_recorder")
    Recorder.requests = []
    Recorder.label_calls = 0
    return Recorder


def test_judges_default_to_temperature_0_and_a_fixed_seed(tmp_path: Path, recorder: Any) -> None:
    judge = {"id": "judge", "provider": "recorder", "params": {"temperature": 0.9, "max_tokens": 8}}
    graders = [rubric(scale=[1, 5], mode="json_schema"), rubric(name="hot", params={"seed": 7})]
    run(write(tmp_path, graders, [judge]))
    structured = [r for r in recorder.requests if "response_format" in r.params]
    assert structured and all(r.params["temperature"] == 0 for r in recorder.requests)
    params = structured[0].params
    assert params["seed"] == 0 and params["max_tokens"] == 512
    assert params["response_format"]["json_schema"]["schema"]["properties"]["score"]["enum"] == [
        1,
        2,
        3,
        4,
        5,
    ]
    plain = [r for r in recorder.requests if "response_format" not in r.params]
    assert plain and all(r.params["seed"] == 7 for r in plain)


def test_label_scoring_judge_gives_argmax_and_weighted_scores(
    tmp_path: Path, recorder: Any
) -> None:
    judge = {"id": "judge", "provider": "recorder", "options": {"labels": True}}
    graders = [rubric(scale=[1, 5]), rubric(name="geval", scale=[1, 5], weighted=True)]
    path = write(tmp_path, graders, [judge])
    result = run(path)
    score = records(result)["q1"]["scores"]["ok"]
    assert score["value"] == 4.0 and score["meta"]["mode"] == "labels"
    assert score["meta"]["weighted"] == pytest.approx(0.1 * 3 + 0.6 * 4 + 0.3 * 5)
    assert score["meta"]["probs"]["4"] == pytest.approx(0.6)
    geval = records(result)["q1"]["scores"]["geval"]
    assert geval["value"] == pytest.approx(4.2)
    assert not recorder.requests  # never generated text
    calls = recorder.label_calls
    run(path)
    assert recorder.label_calls == calls  # label scores are cached like generations


def test_first_token_logprobs_weight_a_bare_label(tmp_path: Path, recorder: Any) -> None:
    judge = {"id": "judge", "provider": "recorder", "options": {"bare": True}}
    result = run(write(tmp_path, [rubric(scale=[1, 5])], [judge]))
    meta = records(result)["q1"]["scores"]["ok"]["meta"]
    assert meta["label"] == "4" and meta["weighted"] == pytest.approx((0.5 * 4 + 0.3 * 5) / 0.8)


def test_labels_mode_needs_a_label_scoring_judge(tmp_path: Path) -> None:
    path = write(tmp_path, [rubric(mode="labels")], [mock_judge()])
    with pytest.raises(SuiteError, match="cannot score labels"):
        run(path)


# --- pairwise ----------------------------------------------------------------------------------


def pairwise_suite(tmp_path: Path, judge: dict[str, Any], **fields: Any) -> Path:
    grader = {
        "type": "pairwise",
        "name": "duel",
        "judge": "judge",
        "variants": ["good", "bad"],
        "input": "{{ question }}",
        **fields,
    }
    return write(
        tmp_path,
        [grader],
        [judge],
        prompts={"good": "GOOD {{ question }}", "bad": "BAD {{ question }}"},
        models=[{"id": "mock", "provider": "mock"}],  # echoes the prompt
    )


def pairs(result: Any) -> list[dict[str, Any]]:
    lines = (result.run_dir / "pairwise.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_pairwise_judges_both_orders_and_reports_win_rate(tmp_path: Path) -> None:
    judge = mock_judge(
        responses={
            "[Response 1]\nGOOD": '{"reasoning": "first is better", "score": "1"}',
            "[Response 1]\nBAD": '{"reasoning": "second is better", "score": "2"}',
        }
    )
    result = run(pairwise_suite(tmp_path, judge))
    records_ = pairs(result)
    assert len(records_) == len(ROWS)
    first = records_[0]
    assert [o["order"] for o in first["orders"]] == ["ab", "ba"]
    assert [o["winner"] for o in first["orders"]] == ["a", "a"]
    assert first["outcome"] == "a" and first["inconsistent"] is False
    assert first["a"]["variant"] == "good" and first["a"]["output"].startswith("GOOD")
    summary = result.summary.pairwise["duel"]
    assert (summary.a, summary.b, summary.by) == ("good", "bad", "variant")
    overall = summary.overall.model_dump()
    assert overall["wins_a"] == 4 and overall["win_rate_a"] == 1.0 and overall["n"] == 4
    assert summary.cells[0].model == "mock"
    assert MockProvider.CALLS["judge"] == 2 * len(ROWS)
    assert result.summary.judging.calls == 2 * len(ROWS)


def test_position_bias_becomes_inconsistent_ties(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "the first one", "score": "1"}')
    result = run(pairwise_suite(tmp_path, judge))
    overall = result.summary.pairwise["duel"].overall.model_dump()
    assert overall["ties"] == 4 and overall["inconsistent"] == 4
    assert overall["wins_a"] == overall["wins_b"] == 0
    assert overall["win_rate_a"] == 0.5


def test_pairwise_unscored_pairs_and_cli_report(tmp_path: Path) -> None:
    judge = mock_judge(
        responses={"[Response 1]\nGOOD What": "hmm", "could not be read": "still hmm"},
        response='{"reasoning": "same", "score": "tie"}',
    )
    path = pairwise_suite(tmp_path, judge)
    out = CliRunner().invoke(cli, ["run", str(path), "-q", "--runs-dir", str(tmp_path / "r")])
    assert out.exit_code == 0, out.output
    assert "pairwise duel: good beats bad 50%" in out.output
    assert "3 ties (0 inconsistent across orders), n=3, 1 unscored" in out.output


def test_pairwise_resume_judges_only_missing_pairs(tmp_path: Path) -> None:
    judge = mock_judge(response='{"reasoning": "same", "score": "tie"}')
    path = pairwise_suite(tmp_path, judge)
    result = run(path)
    lines = (result.run_dir / "pairwise.jsonl").read_text().splitlines()
    (result.run_dir / "pairwise.jsonl").write_text("\n".join(lines[:2]) + "\n")
    calls = MockProvider.CALLS["judge"]
    resumed = run_suite(None, RunOptions(runs_dir=tmp_path / "runs", resume=result.run_id))
    assert len(pairs(resumed)) == len(ROWS)
    assert resumed.summary.pairwise["duel"].overall.ties == len(ROWS)
    assert MockProvider.CALLS["judge"] == calls  # the missing pairs came from the cache


# --- calibration -------------------------------------------------------------------------------


def test_calibration_accuracy_and_kappa_match_hand_computed_values(tmp_path: Path) -> None:
    # judge: pass pass fail pass; human: pass fail fail pass
    # accuracy 3/4; p_o = 0.75, p_e = 0.75 * 0.5 + 0.25 * 0.5 = 0.5 -> kappa = 0.25 / 0.5 = 0.5
    judge = mock_judge(
        response='{"reasoning": "r", "score": "pass"}',
        responses={"[Output]\nIt is blue": '{"reasoning": "r", "score": "fail"}'},
    )
    result = run(write(tmp_path, [rubric(human_label="human")], [judge]))
    calibration = result.summary.calibration["ok"].model_dump()
    assert calibration["accuracy"] == pytest.approx(0.75)
    assert calibration["kappa"] == pytest.approx(0.5)
    assert calibration["n"] == 4 and calibration["n_missing"] == 0
    assert calibration["human_label"] == "human"


def test_numeric_calibration_with_quadratic_kappa_and_per_judge() -> None:
    # judge 1 2 3 3 vs human 1 3 3 2 -> accuracy 0.5; p_e = 2 * 0.25^2 + 0.5^2 = 0.375,
    # kappa = (0.5 - 0.375) / 0.625 = 0.2; quadratic: observed 0.5, expected 1.375,
    # 1 - 0.5 / 1.375 = 0.636364
    config = RubricGrader(
        type="rubric", judges=["a", "b"], rubric="x", scale=[1, 3], human_label="h"
    )
    levels = rubric_levels(config)
    grader = type(
        "G", (), {"name": "g", "levels": levels, "judge_ids": ["a", "b"], "config": config}
    )()
    judged, human = ["1", "2", "3", "3"], [1, "3", 3.0, "2"]
    recs = [
        {
            "error": None,
            "inputs": {"h": h},
            "scores": {
                "g": {
                    "value": float(j),
                    "meta": {
                        "label": j,
                        "votes": [{"judge": "a", "label": j}, {"judge": "b", "label": "1"}],
                    },
                }
            },
        }
        for j, h in zip(judged, human, strict=True)
    ]
    recs.append(
        {
            "error": None,
            "inputs": {"h": ""},
            "scores": {"g": {"value": 2.0, "meta": {"label": "2"}}},
        }
    )
    recs.append(
        {
            "error": None,
            "inputs": {"h": "great"},
            "scores": {"g": {"value": 2.0, "meta": {"label": "2"}}},
        }
    )
    result = grader_calibration(_records(recs), grader, "h")
    assert result["accuracy"] == pytest.approx(0.5) and result["n"] == 4
    assert result["kappa"] == pytest.approx(0.2)
    assert result["kappa_quadratic"] == pytest.approx(1 - 0.5 / 1.375)
    assert result["n_missing"] == 2 and result["n_invalid"] == 1
    assert result["by_judge"]["a"]["accuracy"] == pytest.approx(0.5)
    assert result["by_judge"]["b"]["accuracy"] == pytest.approx(0.25)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grader", "message"),
    [
        (rubric(judge="jugde"), "unknown judge 'jugde'"),
        (rubric(only_if=["contain"]), "only_if names an unknown metric 'contain'"),
        (rubric(human_label="verdict"), "no row has the human label column 'verdict'"),
        (rubric(name="contains"), "already used by a metric"),
        (rubric(prompt="judge.jinja"), "judge prompt file not found"),
        (rubric(prompt="Is {{ output }} ok for {{ customer }}?"), "has no 'customer'"),
        (rubric(reference="{{ answer }}"), "has no 'answer'"),
        (rubric(prompt="{{ output "), "template syntax error"),
        (
            {"type": "pairwise", "judge": "judge", "variants": ["plain", "fancy"]},
            "unknown variant 'fancy'",
        ),
        (rubric(scale=[5, 1]), "low < high"),
        (rubric(judges=["judge"]), "one of them"),
        ({"type": "rubrik", "judge": "judge"}, "rubrik"),
    ],
)
def test_invalid_graders_exit_2_with_a_line(
    tmp_path: Path, grader: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, [grader], [mock_judge()])
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 2, out.output
    assert message in out.output and "suite.yaml:" in out.output
    assert "Traceback" not in out.output


PASS_JSON = '{"reasoning": "r", "score": "pass"}'


def test_custom_prompt_gets_the_answer_format_and_row_columns(tmp_path: Path) -> None:
    (tmp_path / "judge.jinja").write_text("Q: {{ question }}\nA: {{ output }}\nGood?")
    judge = mock_judge(
        responses={"Q: What is 2+2?\nA: The answer is 4\nGood?\n\nFirst reason": PASS_JSON},
        response="?",
    )
    result = run(write(tmp_path, [rubric(prompt="judge.jinja")], [judge]))
    assert records(result)["q1"]["scores"]["ok"]["value"] == 1.0


def test_judges_are_checked_like_models(tmp_path: Path) -> None:
    path = write(tmp_path, [rubric()], [{"id": "judge", "provider": "mok"}])
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 2 and "unknown provider 'mok'" in out.output
    path = write(
        tmp_path,
        [rubric()],
        [{"id": "judge", "provider": "mock", "options": {"api_key": "sk-123"}}],
    )
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 2 and "secret" in out.output
    path = write(tmp_path, [rubric()], [{"id": "mock", "provider": "mock"}])
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 2 and "unique" in out.output


def test_estimated_judge_calls_and_validate_lists_graders(tmp_path: Path) -> None:
    from evalkit.graders.summary import estimate_judge_calls
    from evalkit.plan import prepare

    graders = [
        rubric(samples=2),
        {"type": "pairwise", "judge": "other", "variants": ["plain", "polite"]},
    ]
    prompts = {"plain": "{{ question }}", "polite": "Please: {{ question }}"}
    path = write(tmp_path, graders, [mock_judge(), mock_judge("other")], prompts=prompts)
    plan = prepare(path)
    # 4 examples x 2 variants = 8 items x 2 samples; 4 pairs x 2 orders
    assert estimate_judge_calls(plan) == {"judge": 16, "other": 8}
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert "graders   ok (rubric: judge), pairwise (pairwise: other)" in out.output


def _records(partial: list[dict[str, Any]]) -> list[Any]:
    """Typed records from the few fields a test cares about."""
    from evalkit.results.schema import ResultRecord

    return [
        ResultRecord.model_validate(
            {
                "run_id": "r",
                "key": f"e{i}|v|m|0",
                "example_id": f"e{i}",
                "variant": "v",
                "model": "m",
                **fields,
            }
        )
        for i, fields in enumerate(partial)
    ]
