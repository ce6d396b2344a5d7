"""`evalkit validate`, `evalkit schema` and `evalkit init` through click's CliRunner."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from evalkit.api import validate as check_suite
from evalkit.cli.common import handle_errors
from evalkit.cli.init import init_cmd
from evalkit.cli.schema import schema_cmd
from evalkit.cli.validate import validate_cmd
from evalkit.errors import GateError

ROWS = [
    {"id": "q1", "question": "What is 2+2?", "expected": "4"},
    {"id": "q2", "question": "Capital of France?", "expected": "Paris"},
]

SUITE = """\
name: cli-suite
dataset: data.jsonl
prompts:
  plain: "{{ question }}"
  polite:
    system: Be polite.
    user: "Please answer: {{ question }}"
models:
  - id: mock
    provider: mock
  - id: other
    provider: mock
metrics:
  - contains: "{{ expected }}"
repeats: 2
"""


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("evalkit")
    for command in (validate_cmd, schema_cmd, init_cmd):
        group.add_command(command)
    return group


def invoke(cli: click.Group, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write(tmp_path: Path, text: str = SUITE, rows: list[dict] | None = None) -> Path:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows or ROWS))
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def assert_user_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")
    for needle in needles:
        assert needle in result.output


def test_validate_ok_prints_the_matrix(cli: click.Group, tmp_path: Path) -> None:
    result = invoke(cli, "validate", str(write(tmp_path)))
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert (
        first == "OK suite 'cli-suite': 2 examples x 2 variants x 2 models x 2 repeats = 16 calls"
    )
    assert "plain, polite" in result.output
    assert check_suite(tmp_path / "suite.yaml").total == 16


def test_validate_unknown_key(cli: click.Group, tmp_path: Path) -> None:
    path = write(tmp_path, SUITE.replace("prompts:", "promts:"))
    result = invoke(cli, "validate", str(path))
    assert_user_error(result, f"{path}:3: unknown key 'promts'", "did you mean 'prompts'?")


def test_validate_malformed_yaml(cli: click.Group, tmp_path: Path) -> None:
    path = write(tmp_path, SUITE.replace('plain: "{{ question }}"', "plain: {{ question }}"))
    assert_user_error(invoke(cli, "validate", str(path)), f"{path}:4: invalid YAML")


def test_validate_missing_suite_file(cli: click.Group, tmp_path: Path) -> None:
    result = invoke(cli, "validate", str(tmp_path / "nope.yaml"))
    assert_user_error(result, "suite file not found", "evalkit init")


def test_validate_missing_dataset(cli: click.Group, tmp_path: Path) -> None:
    path = write(tmp_path, SUITE.replace("data.jsonl", "missing.jsonl"))
    assert_user_error(invoke(cli, "validate", str(path)), ":2: dataset file not found")


def test_validate_bad_dataset_row(cli: click.Group, tmp_path: Path) -> None:
    path = write(tmp_path)
    (tmp_path / "data.jsonl").write_text('{"question": "a", "expected": "b"}\nnot json\n')
    assert_user_error(invoke(cli, "validate", str(path)), "data.jsonl:2: invalid JSON on line 2")


def test_validate_missing_variable(cli: click.Group, tmp_path: Path) -> None:
    rows = [*ROWS, {"id": "q3", "prompt": "no question here", "expected": "x"}]
    path = write(tmp_path, rows=rows)
    result = invoke(cli, "validate", str(path))
    assert_user_error(
        result,
        "prompt 'plain' uses {{ question }} but row",
        "data.jsonl line 3) has no 'question'",
        "the row has: expected, id, prompt",
    )


def test_validate_missing_metric_variable(cli: click.Group, tmp_path: Path) -> None:
    rows = [ROWS[0], {"id": "q2", "question": "no expected"}]
    result = invoke(cli, "validate", str(write(tmp_path, rows=rows)))
    assert_user_error(result, "metric 'contains' uses {{ expected }}", "line 2) has no 'expected'")


def test_validate_unknown_provider_does_not_import_providers(
    cli: click.Group, tmp_path: Path
) -> None:
    path = write(
        tmp_path, SUITE.replace("provider: mock\n  - id: other", "provider: mokc\n  - id: other")
    )
    result = invoke(cli, "validate", str(path))
    assert_user_error(result, f"{path}:10: model 'mock': unknown provider 'mokc'", "'mock'")


def test_validate_unknown_metric(cli: click.Group, tmp_path: Path) -> None:
    path = write(tmp_path, SUITE.replace("- contains:", "- contians:"))
    result = invoke(cli, "validate", str(path))
    assert_user_error(result, f"{path}:14: unknown metric 'contians'", "did you mean 'contains'?")


def test_validate_literal_api_key(cli: click.Group, tmp_path: Path) -> None:
    text = SUITE.replace(
        "  - id: other\n    provider: mock\n",
        "  - id: other\n    provider: openai\n    options: {api_key: sk-abc}\n",
    )
    result = invoke(cli, "validate", str(write(tmp_path, text)))
    assert_user_error(result, ":13: 'api_key' in models[1].options: a secret", "api_key_env")


def test_debug_env_shows_the_traceback(
    cli: click.Group, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_DEBUG", "1")
    result = invoke(cli, "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code != 0
    assert result.exception is not None and "suite file not found" in str(result.exception)


def test_handle_errors_uses_the_error_exit_code() -> None:
    @click.command()
    @handle_errors
    def boom() -> None:
        raise GateError("gate 'x' names no metric", hint="add metric:")

    result = CliRunner().invoke(boom, [])
    assert result.exit_code == 2
    assert result.output == "error: gate 'x' names no metric\n  hint: add metric:\n"


# --- schema -----------------------------------------------------------------------------------


def test_schema_prints_json_that_accepts_the_suite(cli: click.Group, tmp_path: Path) -> None:
    result = invoke(cli, "schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(SUITE))


def test_schema_to_file(cli: click.Group, tmp_path: Path) -> None:
    out = tmp_path / "evalkit.schema.json"
    result = invoke(cli, "schema", "-o", str(out))
    assert result.exit_code == 0
    assert json.loads(out.read_text())["title"] == "evalkit suite"


def test_schema_to_unwritable_file(cli: click.Group, tmp_path: Path) -> None:
    result = invoke(cli, "schema", "-o", str(tmp_path / "no" / "such" / "dir.json"))
    assert_user_error(result, "cannot write")


# --- init -------------------------------------------------------------------------------------


def test_init_scaffolds_a_suite_that_validates(cli: click.Group, tmp_path: Path) -> None:
    target = tmp_path / "My Eval"
    result = invoke(cli, "init", str(target))
    assert result.exit_code == 0, result.output
    assert (target / "suite.yaml").is_file()
    assert (target / "data" / "examples.jsonl").is_file()
    assert (target / "prompts" / "friendly.jinja").is_file()
    assert "evalkit validate" in result.output
    check = check_suite(target / "suite.yaml")
    assert check.loaded.suite.name == "my-eval"
    assert check.variant_names == ["terse", "friendly"]
    validated = invoke(cli, "validate", str(target / "suite.yaml"))
    assert validated.exit_code == 0, validated.output


def test_init_with_name_and_refusal_to_overwrite(cli: click.Group, tmp_path: Path) -> None:
    assert invoke(cli, "init", str(tmp_path), "--name", "support bot").exit_code == 0
    assert check_suite(tmp_path / "suite.yaml").loaded.suite.name == "support bot"
    before = (tmp_path / "suite.yaml").read_text()
    result = invoke(cli, "init", str(tmp_path))
    assert_user_error(result, "refusing to overwrite", "suite.yaml")
    assert (tmp_path / "suite.yaml").read_text() == before


def test_init_refuses_when_only_one_file_exists(cli: click.Group, tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "friendly.jinja").write_text("mine")
    assert_user_error(invoke(cli, "init", str(tmp_path)), "friendly.jinja")
    assert not (tmp_path / "suite.yaml").exists()  # nothing half-written


def test_validate_catches_what_the_provider_would_refuse(cli: click.Group, tmp_path: Path) -> None:
    """A misspelt param or local model name fails validate with its line (issue 11)."""
    (tmp_path / "data.jsonl").write_text('{"q": "hi"}\n')
    suite = tmp_path / "suite.yaml"
    base = "name: s\ndataset: data.jsonl\nprompts: {p: '{{ q }}'}\nmodels:\n  - id: local\n"
    suite.write_text(base + "    model: smollm2-135m-instruct\n    params: {max_token: 5}\n")
    result = invoke(cli, "validate", str(suite))
    assert result.exit_code == 2 and "suite.yaml:7" in result.output
    assert "did you mean 'max_tokens'" in result.output
    suite.write_text(base + "    model: smollm2-135m-instruc\n")
    result = invoke(cli, "validate", str(suite))
    assert result.exit_code == 2 and "suite.yaml:6" in result.output
    assert "did you mean 'smollm2-135m-instruct'" in result.output
