"""Suite loading: strict YAML, file:line in every error, ${ENV} interpolation, secrets, schema."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from evalkit.errors import SuiteError
from evalkit.records import stable_hash
from evalkit.suite.jsonschema import suite_json_schema
from evalkit.suite.loader import load_suite, resolve_path
from evalkit.suite.schema import PromptVariant
from evalkit.suite.yaml_lines import format_loc

VALID = """\
name: demo
dataset: data.jsonl
prompts:
  terse: "{{ question }}"
  polite:
    system: Be polite.
    user: |
      Please answer:
      {{ question }}
models:
  - id: m1
    provider: mock
    params: {temperature: 0}
metrics:
  - contains: "{{ expected }}"
"""


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return info.value


def test_valid_suite_loads_with_lines_and_hash(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    loaded = load_suite(path)
    assert loaded.suite.name == "demo"
    assert loaded.path == path.resolve()
    assert loaded.base_dir == tmp_path.resolve()
    assert loaded.text == VALID
    assert loaded.hash == stable_hash(VALID)
    assert loaded.line_of(("models", 0, "provider")) == 12
    assert loaded.line_of(("models", 0)) == 11
    # a loc that only exists after normalisation falls back to its nearest written parent
    assert loaded.line_of(("prompts", "polite", "messages", 0, "content")) == 5
    assert loaded.line_of(("nowhere",)) is None
    # a block scalar's text starts on the line after `user: |`
    assert loaded.text_line(("prompts", "polite", "user")) == 8
    assert loaded.text_line(("prompts", "terse")) == 4


def test_resolve_path_is_relative_to_the_suite(tmp_path: Path) -> None:
    loaded = load_suite(write(tmp_path, VALID))
    assert resolve_path(loaded, "data/x.jsonl") == (tmp_path / "data/x.jsonl").resolve()
    assert resolve_path(loaded, "/abs/x.jsonl") == Path("/abs/x.jsonl")


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: demo\ndataset: data.jsonl\nprompts:\n  a: x\n   b: y\n")
    err = error_of(path)
    assert err.file == str(path)
    assert err.line == 5
    assert "invalid YAML" in err.message
    assert err.hint and "indentation" in err.hint


def test_unquoted_template_gets_a_quoting_hint(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('terse: "{{ question }}"', "terse: {{ question }}"))
    err = error_of(path)
    assert err.line == 4
    assert err.hint and '"{{ question }}"' in err.hint


def test_tabs_get_a_tab_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "name: demo\nprompts:\n\ta: x\n")
    err = error_of(path)
    assert err.line == 3
    assert err.hint and "tabs" in err.hint


def test_unknown_top_level_key_did_you_mean(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, VALID.replace("prompts:", "promts:")))
    assert err.message.splitlines()[0] == "unknown key 'promts'"
    assert err.line == 3
    assert err.hint == "did you mean 'prompts'?"
    # the typo explains the missing `prompts`: no second, confusing message about it
    assert "missing" not in err.message


def test_unknown_nested_key_names_where(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, VALID.replace("params:", "parms:")))
    assert err.line == 13
    assert "unknown key 'parms' in models[0]" in err.message
    assert err.hint == "did you mean 'params'?"


def test_unknown_key_in_prompt_shorthand_suggests_system(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, VALID.replace("system: Be polite.", "sytem: Be polite.")))
    assert err.line == 6
    assert err.hint == "did you mean 'system'?"


def test_missing_required_key(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, VALID.replace("  - id: m1\n", "  - model: x\n", 1)))
    assert "missing required key 'id' in models[0]" in err.message
    assert err.line == 11


def test_several_errors_in_one_message_in_file_order(tmp_path: Path) -> None:
    text = VALID.replace("params:", "parms:") + "repeats: 0\n"
    err = error_of(write(tmp_path, text.replace("prompts:", "promts:")))
    lines = err.format().splitlines()
    assert lines[0].endswith(":3: unknown key 'promts'")
    assert any(":13: unknown key 'parms'" in line for line in lines)
    assert any(":16: repeats: Input should be greater than or equal to 1" in ln for ln in lines)


def test_value_error_from_a_validator_has_its_line(tmp_path: Path) -> None:
    text = VALID.replace("dataset: data.jsonl", "dataset: {path: a.jsonl, rows: [{a: 1}]}")
    err = error_of(write(tmp_path, text))
    assert err.line == 2
    assert "exactly one of 'path' or 'rows'" in err.message


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, VALID + "name: again\n"))
    assert err.line == 16
    assert "duplicate key 'name' (first on line 1)" in err.message


def test_missing_file_and_folder(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nope.yaml")
    assert "suite file not found" in err.message
    assert err.hint and "evalkit init" in err.hint
    write(tmp_path, VALID, "a.yaml")
    err = error_of(tmp_path)
    assert "is a folder" in err.message
    assert err.hint and "a.yaml" in err.hint


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "must be a YAML mapping" in error_of(write(tmp_path, "- a\n- b\n")).message
    assert "must be a YAML mapping" in error_of(write(tmp_path, "")).message


OPTIONS = """\
name: demo
dataset: data.jsonl
prompts: {a: "{{ q }}"}
models:
  - id: m1
    provider: openai
    options:
      base_url: ${EVALKIT_TEST_URL}
      deployment: ${EVALKIT_TEST_DEPLOYMENT:-default-dep}
      headers:
        - "x-team: ${EVALKIT_TEST_TEAM}"
      literal: "cost $${NOT_A_VAR}"
"""


def test_env_interpolation_in_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_TEST_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("EVALKIT_TEST_TEAM", "search")
    monkeypatch.delenv("EVALKIT_TEST_DEPLOYMENT", raising=False)
    loaded = load_suite(write(tmp_path, OPTIONS))
    options = loaded.suite.models[0].options
    assert options["base_url"] == "http://127.0.0.1:8000/v1"
    assert options["deployment"] == "default-dep"
    assert options["headers"] == ["x-team: search"]
    assert options["literal"] == "cost ${NOT_A_VAR}"
    # the raw text (and so the suite hash) keeps the ${...}, never the resolved value
    assert "${EVALKIT_TEST_URL}" in loaded.text


def test_unset_env_variable_names_it_with_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVALKIT_TEST_URL", raising=False)
    monkeypatch.setenv("EVALKIT_TEST_TEAM", "x")
    err = error_of(write(tmp_path, OPTIONS))
    assert "EVALKIT_TEST_URL" in err.message
    assert err.line == 8
    assert err.hint and "${EVALKIT_TEST_URL:-" in err.hint


def test_env_is_not_interpolated_in_prompts(tmp_path: Path) -> None:
    text = VALID.replace('terse: "{{ question }}"', 'terse: "${HOME} {{ question }}"')
    loaded = load_suite(write(tmp_path, text))
    assert loaded.suite.prompts["terse"].messages[0].content.startswith("${HOME}")


@pytest.mark.parametrize(
    ("option", "line"),
    [
        ("api_key: abc123", 8),
        ("nested: {Authorization: Bearer xyz}", 8),
        ("api_key_env: sk-proj-abcdef", 8),
        ("extra:\n        - sk-abcdef", 9),
    ],
)
def test_literal_secrets_are_rejected(tmp_path: Path, option: str, line: int) -> None:
    text = (
        "name: demo\ndataset: data.jsonl\nprompts: {a: hi}\nmodels:\n  - id: m\n"
        f"    provider: openai\n    options:\n      {option}\n"
    )
    err = error_of(write(tmp_path, text))
    assert err.line == line
    assert err.hint == "put the key in an environment variable and name it with api_key_env"


def test_format_loc() -> None:
    assert format_loc(("models", 0, "params")) == "models[0].params"
    assert format_loc(()) == ""


# --- schema.py normalisation fixes ----------------------------------------------------------


def test_one_line_prompt_mentioning_a_file_is_not_a_file() -> None:
    assert PromptVariant.model_validate("prompts/qa.jinja").file == "prompts/qa.jinja"
    assert PromptVariant.model_validate("Summarise README.md").file is None
    assert PromptVariant.model_validate("{{ doc }}.md").file is None


def test_system_first_then_few_shot_then_user() -> None:
    variant = PromptVariant.model_validate(
        {
            "system": "S",
            "user": "{{ q }}",
            "messages": [
                {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4"},
            ],
        }
    )
    assert [m.role for m in variant.messages] == ["system", "user", "assistant", "user"]
    assert variant.messages[-1].content == "{{ q }}"


# --- JSON Schema export ---------------------------------------------------------------------

SHAPES = [
    VALID,
    """\
    name: shapes
    description: every shorthand a PO may write
    dataset:
      path: data.csv
      format: csv
      limit: 10
      sample: 5
      seed: 3
      id_field: id
      rename: {q: question}
    prompts:
      one: "{{ question }}"
      file: prompts/friendly.jinja
      listed:
        - {role: system, content: S}
        - {role: user, content: "2+2?"}
        - {role: assistant, content: "4"}
        - {role: user, content: "{{ question }}"}
      mapping: {system: S, user: "{{ question }}", description: d}
      explicit: {file: prompts/x.yaml}
      messages: {messages: [{role: user, content: hi}]}
    models:
      - {id: a, provider: mock}
      - id: b
        provider: openai
        model: gpt-4o-mini
        params: {max_tokens: 10}
        options: {base_url: "${URL:-http://localhost}", api_key_env: KEY}
        timeout: 30
    metrics:
      - contains: "{{ expected }}"
      - icontains: "{{ expected }}"
        name: loose
      - rouge_l: {reference: "{{ reference }}"}
      - {type: regex, pattern: "\\\\d+"}
      - {type: length, name: short, max_words: 5}
      - json_valid
      - {type: contains, args: {value: x}, name: explicit}
    tags: [smoke, nightly]
    repeats: 2
    concurrency: 4
    """,
    """\
    name: inline
    dataset:
      - {question: a, expected: b}
    prompts: {p: "{{ question }}"}
    models: [{id: m, provider: mock}]
    tags: {team: search}
    """,
]


def _repo_suites() -> list[Path]:
    root = Path(__file__).resolve().parents[1] / "suites"
    return sorted(root.glob("*.yaml")) if root.is_dir() else []


@pytest.mark.parametrize("text", SHAPES)
def test_every_shorthand_passes_the_json_schema(text: str) -> None:
    data = yaml.safe_load(textwrap.dedent(text))
    jsonschema.Draft202012Validator(suite_json_schema()).validate(data)


@pytest.mark.parametrize("path", _repo_suites(), ids=lambda p: p.name)
def test_repo_suites_pass_the_json_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    jsonschema.Draft202012Validator(suite_json_schema()).validate(data)


def test_json_schema_still_rejects_wrong_suites() -> None:
    schema = suite_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["title"] == "evalkit suite"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    base = yaml.safe_load(VALID)
    assert validator.is_valid(base)
    assert not validator.is_valid({**base, "promts": base["prompts"]})
    assert not validator.is_valid({k: v for k, v in base.items() if k != "models"})
    assert not validator.is_valid({**base, "models": [{"id": "m", "modle": "x"}]})
    assert not validator.is_valid({**base, "repeats": 0})
