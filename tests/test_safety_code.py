"""User code runs only with consent; validate and --dry-run never import it.

Each user module here writes a marker file when imported, so "imported nothing" is a fact
about the disk, not about sys.modules alone.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import evalkit
from evalkit.cli.main import cli
from evalkit.errors import SuiteError

_names = itertools.count()

MODULE = """\
from pathlib import Path
Path(__file__).with_suffix(".imported").write_text("the module's top level ran")

def module(ctx, level=1):
    return "ok" in ctx.text

def answer(messages, row):
    return "ok " + row["question"]

value = 3
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A working directory with a suite in suites/ and a user module; returns a writer."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("EVALKIT_ALLOW_CODE", raising=False)
    (tmp_path / "suites").mkdir()
    rows = [{"id": "a", "question": "q1"}, {"id": "b", "question": "q2"}]
    (tmp_path / "suites" / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def write(metric: str = "", model: str = "", where: str = ".", source: str = MODULE):
        name = f"evil_{next(_names)}"
        monkeypatch.delitem(sys.modules, name, raising=False)
        (tmp_path / where / f"{name}.py").write_text(source)
        models = model.replace("MOD", name) or "- {id: m, provider: mock, options: {response: ok}}"
        text = textwrap.dedent(
            f"""\
            name: code
            dataset: data.jsonl
            prompts:
              p: "{{{{ question }}}}"
            models:
              {models}
            """
        )
        if metric:
            text += f"metrics:\n  - {metric.replace('MOD', name)}\n"
        suite = tmp_path / "suites" / "suite.yaml"
        suite.write_text(text)
        return suite, name, tmp_path / where / f"{name}.imported"

    return write


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_validate_and_dry_run_import_nothing(project) -> None:
    suite, name, marker = project(metric="{type: MOD:module, level: 2}")
    assert invoke("validate", suite).exit_code == 0
    assert invoke("run", suite, "--dry-run").exit_code == 0
    assert not marker.exists() and name not in sys.modules


def test_run_without_consent_refuses_with_one_line_naming_the_module(project) -> None:
    suite, name, marker = project(metric="MOD:module")
    result = invoke("run", suite, "-q")
    assert result.exit_code == 2, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("error: suites/suite.yaml:8: custom metric")
    assert f"imports '{name}' only with --allow-code" in first
    assert "hint: review" in result.output and "Traceback" not in result.output
    assert not marker.exists() and not Path("runs").exists()


@pytest.mark.parametrize("how", ["flag", "env", "pyproject"])
def test_consent_imports_and_says_what(project, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, name, marker = project(metric="MOD:module")
    args: list[str | Path] = ["run", suite, "-q", "--no-tracking"]
    if how == "flag":
        args.append("--allow-code")
    elif how == "env":
        monkeypatch.setenv("EVALKIT_ALLOW_CODE", "1")
    else:
        Path("pyproject.toml").write_text("[tool.evalkit]\nallow_code = true\n")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert marker.exists()
    text = " ".join(result.output.split())  # rich wraps stderr at 80 columns
    assert "importing user code, allowed by" in text
    assert f"{name} (custom metric {name}:module)" in text


def test_a_pyproject_beside_a_suite_grants_nothing(project) -> None:
    suite, _, marker = project(metric="MOD:module")
    (suite.parent / "pyproject.toml").write_text("[tool.evalkit]\nallow_code = true\n")
    assert invoke("run", suite, "-q").exit_code == 2
    assert not marker.exists()


def test_static_checks_report_file_and_line(project) -> None:
    suite, name, marker = project(metric="{type: MOD:modul}")
    result = invoke("validate", suite)
    assert result.exit_code == 2
    assert (
        f"{name}.py defines no 'modul'" in result.output
        and "did you mean 'module'" in result.output
    )
    suite, name, _ = project(metric="MOD:value")
    result = invoke("validate", suite)
    assert f"{name}.py:10: custom metric '{name}:value' is not callable" in result.output
    suite, name, _ = project(metric="{type: MOD:module, levl: 2}")
    result = invoke("validate", suite)
    assert "has no argument 'levl'" in result.output and "did you mean 'level'" in result.output
    suite, name, _ = project(metric="MOD:module", source="def module(ctx:\n")
    result = invoke("validate", suite)
    assert f"{name}.py:1: custom metric" in result.output and "does not parse" in result.output
    suite, _, _ = project(metric="nowhere_xyz:fn")
    result = invoke("validate", suite)
    assert "suites/suite.yaml:8: custom metric 'nowhere_xyz:fn': no module" in result.output
    assert not marker.exists()


def test_a_function_provider_needs_consent_too(project) -> None:
    model = "- {id: app, provider: function, options: {function: MOD:answer}}"
    suite, name, marker = project(model=model)
    assert invoke("validate", suite).exit_code == 0 and not marker.exists()
    refused = invoke("run", suite, "-q")
    assert refused.exit_code == 2 and f"function provider '{name}:answer'" in refused.output
    assert not marker.exists()
    result = invoke("run", suite, "-q", "--no-tracking", "--allow-code")
    assert result.exit_code == 0, result.output
    assert marker.exists()
    suite, _, _ = project(model=model.replace(":answer", ":anser"))
    assert "defines no 'anser'" in invoke("validate", suite).output


def test_modules_in_the_working_directory_and_beside_the_suite_are_found(project) -> None:
    # the working directory is not on sys.path for the `evalkit` command: evalkit adds it
    cwd = str(Path.cwd())
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    model = "- {id: app, provider: function, options: {function: MOD:answer}}"
    for where in (".", "suites"):
        suite, name, marker = project(metric="MOD:module", where=where)
        with pytest.warns(UserWarning, match=f"importing user code.*{name}"):
            result = evalkit.run(suite, allow_code=True, tracking=False)
        assert result.exit_code == 0 and marker.exists()
        suite, name, marker = project(model=model, where=where)
        with pytest.warns(UserWarning, match=f"{name} \\(function provider"):
            assert evalkit.run(suite, allow_code=True, tracking=False).exit_code == 0
        assert marker.exists()


def test_the_api_refuses_without_consent(project) -> None:
    suite, _, marker = project(metric="MOD:module")
    with pytest.raises(SuiteError, match="only with --allow-code"):
        evalkit.run(suite, tracking=False)
    assert not marker.exists()
