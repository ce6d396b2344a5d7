"""Sharding: a deterministic, balanced slice of the examples by id, and what a shard run records.

`evalkit run --shard I/N` runs every variant x model x repeat of its examples; the manifest says
which slice (and the group its siblings share); a shard decides no gates (the merged run does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.api import RunOptions, dry_run, run
from evalkit.cli.main import cli
from evalkit.data.shards import Shard, group_id, shard_examples, shard_rank
from evalkit.errors import SuiteError
from evalkit.plan import prepare
from evalkit.records import Example
from evalkit.results.store import RunStore

ROWS = [{"id": f"q{i}", "question": f"Question {i}?", "expected": f"a{i}"} for i in range(30)]
SUITE = """\
name: sharded
dataset: data.jsonl
prompts:
  plain: "{{ question }}"
  answer: "{{ question }} {{ expected }}"
models:
  - {id: m1, provider: mock}
  - {id: m2, provider: mock}
repeats: 2
metrics:
  - contains: "{{ expected }}"
gates:
  - metric: contains
    min: 0.99
"""


def examples(n: int) -> list[Example]:
    return [Example(f"ex-{i}", {}) for i in range(n)]


# --- the slice -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(2, 9))
def test_shards_partition_20000_ids_with_counts_within_one(count: int) -> None:
    data = examples(20_000)
    slices = [shard_examples(data, Shard(i, count)) for i in range(1, count + 1)]
    sizes = [len(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1  # dealt, not hashed modulo n (that spreads ~5% at 8)
    ids = [e.id for s in slices for e in s]
    assert len(ids) == len(set(ids)) == len(data)  # disjoint and complete


def test_the_slice_is_fixed_by_the_ids_alone() -> None:
    # Golden values: sha256 is the same on every machine and Python version.
    assert shard_rank("q1") == "c75de8c1b7c3ae5252091267a736a9bf57001d80e82668b3cb3cd09e2f6a43cb"
    data = [Example(f"q{i}", {}) for i in range(10)]
    got = [[e.id for e in shard_examples(data, Shard(k, 3))] for k in (1, 2, 3)]
    assert got == [["q0", "q6", "q7", "q8"], ["q2", "q4", "q9"], ["q1", "q3", "q5"]]
    # dataset order and row contents do not move an example to another shard
    shuffled = [Example(e.id, {"x": 1}) for e in reversed(data)]
    assert {e.id for e in shard_examples(shuffled, Shard(1, 3))} == set(got[0])


def test_the_slice_does_not_depend_on_pythons_string_hash() -> None:
    code = (
        "from evalkit.data.shards import Shard, shard_examples;"
        "from evalkit.records import Example;"
        "d=[Example(f'id{i}', {}) for i in range(200)];"
        "print([e.id for e in shard_examples(d, Shard(2, 5))])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # this process has another (random) seed
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    here = [e.id for e in shard_examples([Example(f"id{i}", {}) for i in range(200)], Shard(2, 5))]
    assert done.stdout.strip() == str(here)


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/4/8", "-1/3"])
def test_a_bad_shard_is_one_clear_error(text: str) -> None:
    with pytest.raises(SuiteError, match="shard"):
        Shard.parse(text)


def test_parse_accepts_text_and_pairs() -> None:
    assert Shard.parse("2/4") == Shard.parse((2, 4)) == Shard(2, 4)
    assert Shard(2, 4).label == "2/4"


# --- the plan and the run ------------------------------------------------------------------------


def test_every_variant_model_and_repeat_of_an_example_is_in_its_shard(write_suite) -> None:
    path = write_suite(SUITE, rows=ROWS)
    full = {i.key for i in prepare(path).work_items()}
    seen: list[str] = []
    for index in range(1, 5):
        plan = prepare(path, shard=Shard(index, 4))
        items = list(plan.work_items())
        assert len(items) == plan.total == len(plan.examples) * 2 * 2 * 2
        assert {i.example.id for i in items} == {e.id for e in plan.examples}
        seen += [i.key for i in items]
    assert sorted(seen) == sorted(full)


def test_a_shard_run_records_its_slice_and_decides_no_gates(write_suite, tmp_path) -> None:
    path = write_suite(SUITE, rows=ROWS)
    full = run(path, run_id="full", no_cache=True)
    assert full.exit_code == 1  # the gate fails on the whole run...
    shard = run(path, run_id="s2", shard="2/4", no_cache=True)
    assert shard.exit_code == 0 and shard.summary.verdict is None  # ...a shard leaves it to merge
    manifest = RunStore(tmp_path / "runs", "s2").manifest()
    assert manifest.shard is not None and (manifest.shard.index, manifest.shard.count) == (2, 4)
    assert manifest.shard.examples == len(shard_examples(prepare(path).examples, Shard(2, 4)))
    assert manifest.total == shard.summary.counts.total == manifest.shard.examples * 8
    assert manifest.dataset == RunStore(tmp_path / "runs", "full").manifest().dataset
    assert manifest.group == group_id(manifest.suite.hash, manifest.dataset.digest)
    assert RunStore(tmp_path / "runs", "full").manifest().group is None


def test_the_group_comes_from_the_flag_else_the_ci_run_id(write_suite, monkeypatch) -> None:
    path = write_suite(SUITE, rows=ROWS)

    def group(**options: object) -> str | None:
        result = run(path, shard="1/4", no_cache=True, **options)
        return RunStore(result.run_dir.parent, result.run_id).manifest().group

    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    monkeypatch.delenv("EVALKIT_GROUP", raising=False)
    local = group()
    assert group() == local  # no token: the suite and data alone
    assert group(group="nightly-7") not in (local, group(group="nightly-8"))
    monkeypatch.setenv("GITHUB_RUN_ID", "123")
    from_ci = group()
    assert from_ci not in (local, None) and group() == from_ci


def test_a_shard_resumes_as_the_same_shard(write_suite, tmp_path) -> None:
    path = write_suite(SUITE, rows=ROWS)
    first = run(path, run_id="s3", shard="3/4", no_cache=True)
    results = first.run_dir / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:5]) + "\n")
    resumed = run(None, RunOptions(runs_dir=tmp_path / "runs", resume="s3", no_cache=True))
    assert resumed.skipped == 5 and resumed.summary.status == "complete"
    keys = {json.loads(line)["key"] for line in results.read_text().splitlines()}
    assert keys == {json.loads(line)["key"] for line in lines}


def test_dry_run_counts_the_shards_calls(write_suite) -> None:
    path = write_suite(SUITE, rows=ROWS)
    whole = dry_run(path).items
    parts = [dry_run(path, RunOptions(shard=f"{i}/3")).items for i in (1, 2, 3)]
    assert sum(parts) == whole and max(parts) - min(parts) <= 8  # one example's items


def test_cli_shard_exits_0_with_a_note_and_refuses_a_bad_shard(write_suite) -> None:
    path = write_suite(SUITE, rows=ROWS)
    out = CliRunner().invoke(cli, ["run", str(path), "-q", "--shard", "1/2", "--run-id", "c1"])
    assert out.exit_code == 0, out.output
    assert "shard 1/2 of group g-" in out.output and "evalkit merge" in out.output
    bad = CliRunner().invoke(cli, ["run", str(path), "-q", "--shard", "3/2"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.output.startswith("error: shard 3/2: the index must be between 1 and 2")
    assert not Path(os.environ["EVALKIT_RUNS_DIR"], "c2").exists()
