"""`evalkit merge`: 4 shards + merge equal 1 unsharded run, and a wrong shard set is refused.

The suite exercises every part of a summary that merge must rebuild: two variants x two models x
two repeats, metrics, a rubric grader with human labels (judging totals, calibration), a
pairwise grader (pairwise.jsonl), flaky repeats, and gates (threshold, error rate, flakiness,
a regression against a stored baseline). The mock provider's fixed latency makes even the
latency statistics comparable, so the summaries are compared whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from evalkit.api import RunOptions, merge, run
from evalkit.cli.main import cli
from evalkit.errors import SuiteError
from evalkit.gates.baselines import set_baseline
from evalkit.results.schema import ResultRecord, RunSummary
from evalkit.results.store import RunStore

ROWS = [
    {
        "id": f"q{i}",
        "question": f"Question {i}?",
        "expected": f"a{i}" if i % 4 else "nope",
        "human": "pass" if i % 3 else "fail",
    }
    for i in range(16)
]
LATENCY = {"latency_ms": 1}  # a fixed latency: the records' latency_ms is deterministic
JUDGE_RUBRIC = '{"reasoning": "r", "score": "pass"}'
JUDGE_PAIR = '{"reasoning": "r", "score": "1"}'


def suite(tmp_path: Path, prompt: str = "{{ question }} {{ expected }}") -> Path:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    doc = {
        "name": "merged",
        "dataset": "data.jsonl",
        "prompts": {"good": prompt, "bad": "{{ question }}"},
        "models": [
            {"id": "echo", "provider": "mock", "options": LATENCY},
            {
                "id": "coin",  # flaky: answers with the repeat number, right on repeat 1 only
                "provider": "mock",
                "options": {**LATENCY, "response": "{last} r{repeat}"},
            },
        ],
        "judges": [
            {"id": "rj", "provider": "mock", "options": {**LATENCY, "response": JUDGE_RUBRIC}},
            {"id": "pj", "provider": "mock", "options": {**LATENCY, "response": JUDGE_PAIR}},
        ],
        "repeats": 2,
        "metrics": [
            {"contains": "{{ expected }}"},
            {"type": "length", "max_words": 4},
            {"type": "contains", "name": "second_try", "value": "r1"},  # coin is flaky here
        ],
        "graders": [
            {
                "type": "rubric",
                "name": "ok",
                "judge": "rj",
                "rubric": "Right?",
                "human_label": "human",
            },
            {"type": "pairwise", "name": "duel", "judge": "pj", "variants": ["good", "bad"]},
        ],
        "gates": [
            {"metric": "contains", "min": 0.5, "variant": "good"},
            {"max_error_rate": 0.0},
            {"metric": "second_try", "max_flaky": 30, "model": "coin"},
            {  # a small dataset cannot see a 5-point drop: this test is about merging
                "regression": {
                    "baseline": "main",
                    "metric": "contains",
                    "variant": "good",
                    "inconclusive": "pass",
                }
            },
        ],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def records(run_dir: Path) -> set[str]:
    """Records as a set, each without its run id (the one field that names the run)."""
    store = RunStore(run_dir.parent, run_dir.name)
    return {_canonical(r) for r in store.records()}


def _canonical(record: ResultRecord) -> str:
    return json.dumps(record.model_dump(mode="json", exclude={"run_id"}), sort_keys=True)


def comparable(summary: RunSummary) -> dict[str, Any]:
    """The whole summary but for the run id and the clock."""
    doc = summary.model_dump(mode="json", exclude={"run_id", "finished_at"})
    if doc["verdict"] is not None:
        doc["verdict"].pop("decided_at")
    return doc


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four shard runs of the suite, made once for the tests that only read them."""
    where = tmp_path_factory.mktemp("shards")
    shards(suite(where), runs_dir=where / "runs", tracking=False)
    return where / "runs"


@pytest.fixture
def ids(made: Path, runs: Path, tmp_path: Path) -> list[str]:
    """This test's copy of the four shards (and of their suite, unchanged, in tmp_path)."""
    shutil.copytree(made, runs)
    suite(tmp_path)
    return ["s1", "s2", "s3", "s4"]


def shards(path: Path, prefix: str = "s", count: int = 4, **options: Any) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(1, count + 1)]
    for index, run_id in enumerate(ids, start=1):
        result = run(path, run_id=run_id, shard=f"{index}/{count}", no_cache=True, **options)
        assert result.exit_code == 0, result.summary.stopped_reason
    return ids


@pytest.mark.parametrize("regressed", [False, True], ids=["passing", "regressed"])
def test_four_shards_merged_equal_one_unsharded_run(tmp_path: Path, runs: Path, regressed) -> None:
    run(suite(tmp_path), run_id="base", no_cache=True)
    set_baseline("base", "main", runs, force=True)
    path = suite(
        tmp_path, prompt="{{ question }}" if regressed else "{{ question }} {{ expected }}"
    )
    whole = run(path, run_id="whole", no_cache=True)
    merged = merge(shards(path), "merged")

    assert records(merged.run_dir) == records(whole.run_dir)
    assert comparable(merged.summary) == comparable(whole.summary)  # verdict included
    assert merged.summary.verdict is not None and merged.summary.verdict.counts.gates == 10
    assert merged.exit_code == whole.exit_code == (1 if regressed else 0)
    stored = RunStore(runs, "merged")
    assert comparable(stored.summary()) == comparable(whole.summary)  # summary.json as well
    pairs = (merged.run_dir / "pairwise.jsonl").read_text().splitlines()
    assert sorted(pairs) == sorted((whole.run_dir / "pairwise.jsonl").read_text().splitlines())
    assert whole.summary.pairwise and whole.summary.calibration
    assert any(report.counts["flaky"] > 0 for report in whole.summary.flaky or [])
    manifest, unsharded = stored.manifest(), RunStore(runs, "whole").manifest()
    assert manifest.merged_from == ["s1", "s2", "s3", "s4"] and manifest.shard is None
    assert manifest.total == unsharded.total and manifest.dataset == unsharded.dataset
    assert manifest.group == RunStore(runs, "s1").manifest().group is not None


def test_merge_cli_writes_reports_and_exits_like_the_run(tmp_path: Path, runs: Path) -> None:
    run(suite(tmp_path), run_id="base", no_cache=True)
    set_baseline("base", "main", runs, force=True)
    path = suite(tmp_path, prompt="{{ question }}")  # regressed: the merged run exits 1
    ids = shards(path)
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    args = ["merge", *reversed(ids), "-o", "m", "--junit", str(junit), "--markdown", str(md)]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 1, out.output
    assert "merged 4 shards" in out.output and "REGRESSED" in out.output
    assert "FAILED" in md.read_text() and junit.read_text().count("<failure") >= 1
    again = CliRunner().invoke(cli, ["gate", "m"])  # the merged run re-gates like any run
    assert again.exit_code == 1 and "REGRESSED" in again.output


# --- refusals: one line, exit 2, nothing written ---------------------------------------------


def refused(*args: str) -> str:
    out = CliRunner().invoke(cli, ["merge", *args])
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output and out.output.startswith("error: ")
    return out.output.splitlines()[0]


def test_an_incomplete_or_doubled_set_is_refused(tmp_path: Path, runs: Path, ids) -> None:
    line = refused(ids[0], ids[1], ids[3], "-o", "m")
    assert "missing shard 3/4" in line and "incomplete shard set of group g-" in line
    shutil.copytree(runs / "s2", runs / "s2-again")
    assert "shard 2/4 given twice: s2 and s2-again" in refused(*ids, "s2-again", "-o", "m")
    run(suite(tmp_path), run_id="plain", no_cache=True)
    assert "run plain is not a shard" in refused(*ids[:3], "plain", "-o", "m")
    assert "no run 'nope'" in refused(*ids, "nope", "-o", "m")
    assert not (runs / "m").exists()


def test_mismatched_shards_are_refused_naming_the_difference(tmp_path, runs, ids) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(path.read_text() + "description: edited\n")  # another suite version
    run(path, run_id="edited3", shard="3/4", no_cache=True)
    assert "suite version (suite hash) differs" in refused(*ids[:2], "edited3", ids[3], "-o", "m")
    run(suite(tmp_path), run_id="other3", shard="3/4", group="another", no_cache=True)
    assert "group differs" in refused(*ids[:2], "other3", ids[3], "-o", "m")
    run(suite(tmp_path), run_id="of5", shard="3/5", no_cache=True)
    assert "shard count differs" in refused(*ids[:2], "of5", ids[3], "-o", "m")
    (tmp_path / "data.jsonl").write_text(json.dumps({**ROWS[0], "id": "new"}) + "\n")
    run(path, run_id="data3", shard="3/4", no_cache=True)
    assert "dataset (digest) differs" in refused(*ids[:2], "data3", ids[3], "-o", "m")
    assert not (runs / "m").exists()


def test_an_example_in_two_shards_is_refused(runs: Path, ids: list[str]) -> None:
    stray = (runs / "s1" / "results.jsonl").read_text().splitlines()[0]
    with open(runs / "s2" / "results.jsonl", "a") as handle:
        handle.write(stray + "\n")
    example = json.loads(stray)["example_id"]
    assert f"example '{example}' is in two shards: s1 and s2" in refused(*ids, "-o", "m")


def test_an_existing_output_and_a_bad_id_are_refused(runs: Path, ids: list[str]) -> None:
    assert "run 's1' already exists" in refused(*ids, "-o", "s1")
    assert "invalid run id" in refused(*ids, "-o", "../x")
    with pytest.raises(SuiteError, match="nothing to merge"):
        merge([], "m", RunOptions(runs_dir=runs))


def test_an_unfinished_shard_makes_the_merged_run_incomplete(runs: Path, ids: list[str]) -> None:
    results = runs / "s2" / "results.jsonl"
    results.write_text("\n".join(results.read_text().splitlines()[:3]) + "\n")
    (runs / "s2" / "summary.json").unlink()  # killed hard: no summary
    merged = merge(ids, "m")
    assert merged.summary.status == "incomplete" and merged.exit_code == 3
    assert "shard 2/4 (s2) is killed" in (merged.summary.stopped_reason or "")
    assert "evalkit run --resume s2" in (merged.summary.stopped_reason or "")
    resumed = run(None, RunOptions(runs_dir=runs, resume="s2", no_cache=True))
    assert resumed.summary.status == "complete"
    again = merge(ids, "m2")
    assert (
        again.summary.status == "complete"
        and again.summary.counts.done == again.summary.counts.total
    )


ROW_GRADERS = """\
name: per-test
prompts: {plain: "{{ question }}"}
models: [{id: mock, provider: mock, options: {latency_ms: 1, responses: {France: Paris}}}]
judges:
  - {id: judge, provider: mock, options: {latency_ms: 1, response: 'VERDICT'}}
metrics: [{length: {max_words: 5}}]
tests:
  - vars: {question: "Capital of France?"}
    assert: [{contains: Paris}, {type: rubric, name: polite, judge: judge, rubric: Polite}]
  - vars: {question: "Capital of Spain?"}
    assert: [{contains: Madrid}]
  - vars: {question: "Capital of Italy?"}
    assert: [{type: rubric, name: polite, judge: judge, rubric: Polite}]
  - vars: {question: "What is 2+2?"}
""".replace("VERDICT", JUDGE_RUBRIC)


def test_rows_own_graders_merge_and_a_moved_suite_is_named(tmp_path: Path, runs: Path) -> None:
    home = tmp_path / "repo"
    home.mkdir()
    path = home / "suite.yaml"
    path.write_text(ROW_GRADERS)
    whole = run(path, run_id="whole", no_cache=True)
    ids = shards(path, count=2)
    merged = merge(ids, "merged")
    assert comparable(merged.summary) == comparable(whole.summary)
    assert merged.summary.judging is not None and merged.summary.judging.calls == 2
    # where the suite was is gone (another runner): --suite names it, the version checked
    moved = tmp_path / "elsewhere" / "suite.yaml"
    moved.parent.mkdir()
    home.rename(tmp_path / "gone")
    (tmp_path / "gone" / "suite.yaml").rename(moved)
    again = merge(ids, "again", suite=moved)
    assert comparable(again.summary) == comparable(whole.summary)
    moved.write_text(ROW_GRADERS.replace("Polite", "Kind"))
    line = refused(*ids, "-o", "m", "--suite", str(moved))
    assert "is not the suite version the shards ran" in line
