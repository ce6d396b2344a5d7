"""Judge drift: a regression gate on a grader whose judge changed since the baseline is "not
comparable" (fails by default), says both hashes and what differs, and never passes or fails
silently (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from gates_support import rec

from evalkit.api import run
from evalkit.gates.baselines import set_baseline
from evalkit.gates.evaluate import decide
from evalkit.gates.regression import BaselineRun
from evalkit.suite.gates import parse_gates

GATE = {"regression": {"baseline": "main", "metric": "judge"}}


def _judged(n: int, digest: str, run_id: str = "current") -> list:
    score = {"value": 1.0, "passed": True, "meta": {"judge_hash": digest, "range": [0, 1]}}
    return [rec(f"e{i}", {"judge": score}, run_id=run_id) for i in range(n)]


def test_a_changed_judge_is_not_comparable_and_fails() -> None:
    baseline = BaselineRun("base", _judged(300, "aaaa", "base"))
    verdict = decide(parse_gates([GATE]), _judged(300, "bbbb"), baselines=lambda _: baseline)
    gate = verdict.gates[0]
    assert gate.status == "not_comparable" and not verdict.passed
    assert "aaaa" in gate.message and "bbbb" in gate.message
    assert gate.statistics["judge_change"]["baseline_hash"] == ["aaaa"]
    compared = {"regression": {**GATE["regression"], "on_judge_change": "compare"}}
    allowed = decide(parse_gates([compared]), _judged(300, "bbbb"), baselines=lambda _: baseline)
    assert allowed.passed and "WARNING the judge changed" in allowed.gates[0].message
    same = decide(parse_gates([GATE]), _judged(300, "aaaa"), baselines=lambda _: baseline)
    assert same.gates[0].status == "pass" and "judge changed" not in same.gates[0].message


def _suite(tmp_path: Path, temperature: float) -> Path:
    rows = [{"id": f"q{i}", "question": f"Question {i}?"} for i in range(8)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    doc = {
        "name": "drift",
        "dataset": "data.jsonl",
        "prompts": {"main": "{{ question }}"},
        "models": [{"id": "echo", "provider": "mock"}],
        "judges": [
            {
                "id": "j",
                "provider": "mock",
                "options": {"response": '{"reasoning": "r", "score": "pass"}'},
            }
        ],
        "graders": [
            {
                "type": "rubric",
                "name": "judge",
                "judge": "j",
                "rubric": "Right?",
                "params": {"temperature": temperature},
            }
        ],
        "gates": [{"regression": {"baseline": "main", "metric": "judge", "inconclusive": "pass"}}],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_judge_temperature_change_says_what_differs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = run(_suite(tmp_path, 0.0), run_id="base", runs_dir=runs, tracking=False)
    assert first.summary.status == "complete"
    set_baseline("base", "main", runs, force=True)
    again = run(_suite(tmp_path, 0.0), run_id="same", runs_dir=runs, tracking=False)
    assert again.exit_code == 0, again.summary.verdict
    warmer = run(_suite(tmp_path, 0.7), run_id="warm", runs_dir=runs, tracking=False)
    assert warmer.exit_code == 1
    assert warmer.summary.verdict is not None
    gate = warmer.summary.verdict.gates[0]
    assert gate.status == "not_comparable" and not gate.passed
    assert "temperature: 0.0 -> 0.7" in gate.message, gate.message
