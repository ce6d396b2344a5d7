"""Team tracking, for real: MLflow on PostgreSQL with basic-auth and proxied artifacts, four
shard jobs logging at once, a merge that gates against a baseline stored on the server.

Each job gets its own runs folder, as CI runners do: the shards run in parallel processes,
their folders are copied into a fresh one (as an artifact download does), and the merge there
finds the regression baseline only on the server. Started and stopped by the test itself
(Debian's PostgreSQL binaries; `make test` installs them where missing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from team_servers import Postgres, TeamMlflow, postgres_bin

pytestmark = pytest.mark.slow

ADMIN = ("admin", "team-admin-password-0001")
CI_USER = ("ci-bot", "ci-bot-password-00000001")
ROWS = [{"id": f"q{i}", "question": f"Question {i}?", "expected": f"a{i}"} for i in range(16)]
SUITE = """\
name: team-suite
dataset: data.jsonl
prompts:
  main: "{{ question }} Answer: {{ expected }}"
models:
  - {id: mock, provider: mock, options: {latency_ms: 1}}
metrics:
  - contains: "{{ expected }}"
gates:
  - {metric: contains, min: 0.75}
  # 16 pairs cannot show a 5-point drop; this test is about finding the baseline on the server
  - regression: {baseline: main, metric: contains, max_drop: 0.0, inconclusive: pass}
tracking:
  register_prompts: false
  traces: 2
"""
TRACES = 2
EVALKIT = str(Path(sys.executable).with_name("evalkit"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamMlflow]:
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is missing in CI: `make test` installs it (postgresql-15)")
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql-15)")
    root = tmp_path_factory.mktemp("team")
    with Postgres() as pg, TeamMlflow(root / "mlflow", pg, admin=ADMIN) as started:
        started.create_user(*CI_USER)
        yield started


def env_for(server: TeamMlflow, password: str = CI_USER[1], **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "EVALKIT_NO_TRACKING"}
    env.update(
        MLFLOW_TRACKING_URI=server.uri,
        MLFLOW_TRACKING_USERNAME=CI_USER[0],
        MLFLOW_TRACKING_PASSWORD=password,
        MLFLOW_HTTP_REQUEST_TIMEOUT="300",  # basic-auth hashes the password on every request
        GITHUB_RUN_ID="4242",  # one pipeline: the shards' group comes from it
        **more,
    )
    return env


def evalkit(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EVALKIT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=1200
    )


def write_suite(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (folder / "suite.yaml").write_text(SUITE)
    return folder / "suite.yaml"


def run_shards(server: TeamMlflow, work: Path, count: int = 4) -> list[Path]:
    """`count` shard jobs at once, each in its own runs folder (its own runner)."""
    env, suite = env_for(server), str(work / "suite.yaml")
    jobs = []
    for index in range(1, count + 1):
        runs = work / f"runner-{index}"
        args = [EVALKIT, "run", suite, "-q", "--shard", f"{index}/{count}", "--runs-dir", str(runs)]
        args += ["--run-id", f"nightly-shard-{index}-of-{count}"]
        pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
        jobs.append((runs, subprocess.Popen(args, env=env, cwd=work, **pipe)))
    folders = []
    for runs, job in jobs:
        out, _ = job.communicate(timeout=1200)
        assert job.returncode == 0, out
        assert "logging failed" not in out, out
        folders.append(runs / f"nightly-shard-{len(folders) + 1}-of-{count}")
    return folders


def own_runs(client: Any, experiment_id: str) -> list[Any]:
    """Each evalkit run's own MLflow run, its cells left out: a parent of its own (unsharded),
    a shard's run under its group's parent, or the group's parent that a merged run holds."""
    runs = client.search_runs([experiment_id], max_results=200)
    return [
        r for r in runs if "evalkit.run_id" in r.data.tags and "evalkit.cell" not in r.data.tags
    ]


def test_four_parallel_shards_merge_and_gate_against_the_servers_baseline(
    server: TeamMlflow, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    work = tmp_path / "repo"
    write_suite(work)
    shard_dirs = run_shards(server, work)  # first: the experiment is created by racing jobs

    # main's job: a baseline run, marked on the server; its folder stays on that runner
    env = env_for(server)
    main_runs = str(tmp_path / "main-runner")
    done = evalkit(
        env, "run", "suite.yaml", "-q", "--run-id", "base", "--runs-dir", main_runs, cwd=work
    )
    # (its own regression gate has no baseline yet, so it exits 1; that does not bar it)
    assert (Path(main_runs) / "base" / "summary.json").is_file(), done.stdout + done.stderr
    assert "logging failed" not in done.stderr, done.stderr
    done = evalkit(
        env, "baseline", "set", "base", "--name", "main", "--runs-dir", main_runs, cwd=work
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stored locally and in MLflow" in done.stdout, done.stdout + done.stderr

    # the merge job: the shard folders downloaded into a fresh runs folder, no baseline there
    merge_runs = tmp_path / "merge-runner"
    for folder in shard_dirs:
        shutil.copytree(folder, merge_runs / folder.name)
    names = [f.name for f in shard_dirs]
    done = evalkit(
        env,
        "merge",
        *names,
        "-o",
        "nightly",
        "--runs-dir",
        str(merge_runs),
        "--junit",
        str(tmp_path / "junit.xml"),
        cwd=work,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out  # a missing baseline would fail the regression gate
    assert "PASSED: all 2 gate checks passed (1 inconclusive)" in out, out
    summary = json.loads((merge_runs / "nightly" / "summary.json").read_text())
    regression = next(g for g in summary["verdict"]["gates"] if g["type"] == "regression")
    assert "vs baseline base" in regression["message"] and "n=16 pairs" in regression["message"]
    assert regression["status"] == "inconclusive"  # compared, not failed for a missing baseline
    assert (merge_runs / "base" / "results.jsonl").is_file()  # fetched from the server

    manifests = [json.loads((f / "run.json").read_text()) for f in shard_dirs]
    merged = json.loads((merge_runs / "nightly" / "run.json").read_text())
    assert len({m["group"] for m in manifests} | {merged["group"]}) == 1
    assert merged["merged_from"] == names

    client = MlflowClient(server.uri)
    os.environ.update(MLFLOW_TRACKING_USERNAME=CI_USER[0], MLFLOW_TRACKING_PASSWORD=CI_USER[1])
    try:
        check_nothing_lost(client, merge_runs, main_runs, shard_dirs)
    finally:
        os.environ.pop("MLFLOW_TRACKING_USERNAME")
        os.environ.pop("MLFLOW_TRACKING_PASSWORD")


def check_nothing_lost(client: Any, merge_runs: Path, main_runs: str, shards: list[Path]) -> None:
    """Every run is on the server whole: its records file, its table rows and its traces."""
    experiment = client.get_experiment_by_name("team-suite")
    own = own_runs(client, experiment.experiment_id)
    local = {f.name: f for f in shards} | {"nightly": merge_runs / "nightly"}
    local["base"] = Path(main_runs) / "base"
    # one MLflow run per evalkit run: no duplicate from the race
    assert sorted(r.data.tags["evalkit.run_id"] for r in own) == sorted(local)
    logged = {r.data.tags["evalkit.run_id"]: r for r in own}
    group = logged["nightly"]  # the merged run holds the shards' group parent
    assert "mlflow.parentRunId" not in group.data.tags and "evalkit.group" in group.data.tags
    assert "mlflow.parentRunId" not in logged["base"].data.tags
    for folder in shards:
        assert logged[folder.name].data.tags["mlflow.parentRunId"] == group.info.run_id
    traces = client.search_traces(locations=[experiment.experiment_id], max_results=500)
    by_run: dict[str, int] = {}
    for trace in traces:
        run_id = trace.info.tags.get("evalkit.run_id") or trace.info.request_metadata.get(
            "mlflow.sourceRun", ""
        )
        by_run[run_id] = by_run.get(run_id, 0) + 1
    for run_id, folder in local.items():
        parent = logged[run_id]
        assert parent.info.status == "FINISHED"
        lines = (folder / "results.jsonl").read_text().splitlines()
        remote = Path(client.download_artifacts(parent.info.run_id, "results.jsonl"))
        assert sorted(remote.read_text().splitlines()) == sorted(lines), run_id
        children = client.search_runs(
            [experiment.experiment_id],
            f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' and tags.`evalkit.run_id` ="
            f" '{run_id}' and tags.`evalkit.cell` != ''",  # the group's shard runs are no cells
        )
        assert len(children) == 1  # one cell: main x mock
        table = json.loads(
            Path(
                client.download_artifacts(children[0].info.run_id, "evalkit_results.json")
            ).read_text()
        )
        assert len(table["data"]) == len(lines), run_id
        traced = by_run.get(run_id, 0) + by_run.get(parent.info.run_id, 0)
        assert traced == min(TRACES, len(lines)), (run_id, by_run)


def test_the_shards_log_as_four_children_of_one_group_parent(
    server: TeamMlflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads what the first test logged (run it first). The server needs a login to read."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", CI_USER[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", CI_USER[1])

    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("team-suite")
    runs = client.search_runs([experiment.experiment_id], "tags.`evalkit.group` != ''")
    groups = [
        r
        for r in runs
        if "mlflow.parentRunId" not in r.data.tags and "evalkit.shard" not in r.data.tags
    ]
    assert len(groups) == 1
    shards = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == groups[0].info.run_id]
    assert sorted(r.data.tags["evalkit.shard"] for r in shards) == ["1/4", "2/4", "3/4", "4/4"]


def test_a_wrong_password_is_one_clear_line_and_the_run_is_kept(
    server: TeamMlflow, tmp_path: Path
) -> None:
    work = tmp_path / "repo"
    write_suite(work)
    env = env_for(server, password="not-the-password")
    done = evalkit(
        env,
        "run",
        "suite.yaml",
        "-q",
        "--limit",
        "2",
        "--run-id",
        "denied",
        "--runs-dir",
        str(tmp_path / "runs"),
        cwd=work,
    )
    assert (tmp_path / "runs" / "denied" / "summary.json").is_file()
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, done.stderr
    line = warnings[0]
    assert line.startswith("warning: MLflow logging failed: MLflow at http://127.0.0.1:"), line
    assert "refused the credentials (HTTP 401): check MLFLOW_TRACKING_USERNAME" in line, line
    assert "Response body" not in line and "evalkit log denied" in line, line
    assert "Traceback" not in done.stdout + done.stderr
    # the regression gate's baseline lookup is refused too: the gate fails (no baseline seen),
    # and says why in the same words
    assert done.returncode == 1, done.stdout
    assert "refused the credentials (HTTP 401)" in done.stdout, done.stdout


def test_racing_shard_jobs_agree_on_one_group_parent(
    server: TeamMlflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six processes at the same instant find-or-create one group's parent on an empty
    experiment: one parent stays, every shard run is its child, the twins are deleted."""
    import time

    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", CI_USER[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", CI_USER[1])
    client = MlflowClient(server.uri)
    experiment_id = client.create_experiment("team-race")
    env = env_for(server, PYTHONPATH=str(Path(__file__).parents[1]))
    script, count = str(Path(__file__).with_name("group_race.py")), 6
    start_at = str(time.time() + 20)  # after every process has imported MLflow
    args = [sys.executable, script, server.uri, experiment_id, "g-race"]
    jobs = [
        subprocess.Popen(
            [*args, str(i), str(count), start_at],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(1, count + 1)
    ]
    outs = []
    for job in jobs:
        out, err = job.communicate(timeout=600)
        assert job.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    runs = client.search_runs([experiment_id], "tags.`evalkit.group` = 'g-race'")
    group = [r for r in runs if "evalkit.shard" not in r.data.tags]
    assert len(group) == 1, [r.info.run_id for r in group]
    shards = [r for r in runs if "evalkit.shard" in r.data.tags]
    assert len(shards) == count
    assert {r.data.tags["mlflow.parentRunId"] for r in shards} == {group[0].info.run_id}
    assert group[0].data.tags["mlflow.runName"] == f"team-race · {count} shards"
    chosen = {o["parent"] for o in outs}
    print(f"parents chosen at find-or-create: {len(chosen)} (after reconcile: 1)")
