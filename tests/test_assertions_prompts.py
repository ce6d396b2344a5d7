"""Row-level prompts: `from_row` takes a row's own chat messages (with `name`), and a prompts
file with `---` lines makes several variants (promptfoo's prompts file)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_server import FaultServer

import evalkit
from evalkit.errors import SuiteError
from evalkit.prompts.variants import compile_loaded
from evalkit.records import Example

FEW_SHOT = [
    {"role": "system", "content": "Answer as briefly as possible."},
    {"role": "system", "name": "example_user", "content": "Capital of Italy?"},
    {"role": "system", "name": "example_assistant", "content": "Rome"},
    {"role": "user", "content": "Capital of France?"},
]
ROWS = [
    {"id": "fr", "input": FEW_SHOT, "ideal": ["Paris", "paris"]},
    {"id": "es", "input": "Capital of Spain?", "ideal": "Madrid"},
]
SUITE = """\
name: samples
dataset: data.jsonl
prompts:
  sample: {from_row: input}
  framed:
    system: "Reply in one word."
    from_row: input
models:
  - id: mock
    provider: mock
    options: {responses: {"France": "Paris", "Spain": "Madrid"}}
metrics:
  - {type: starts_with, value: "{{ ideal }}", strip: false, name: accuracy}
"""


def write(tmp_path: Path, text: str = SUITE, rows: list[dict[str, Any]] | None = None) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows or ROWS), encoding="utf-8")
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_from_row_sends_the_rows_messages_with_their_names(tmp_path: Path) -> None:
    result = evalkit.run(write(tmp_path), runs_dir=tmp_path / "runs", tracking=False)
    records = {(r.example_id, r.variant): r for r in result.records()}
    assert records[("fr", "sample")].messages == FEW_SHOT
    assert records[("es", "sample")].messages == [{"role": "user", "content": "Capital of Spain?"}]
    framed = records[("fr", "framed")].messages or []
    assert (
        framed[0] == {"role": "system", "content": "Reply in one word."} and framed[1:] == FEW_SHOT
    )
    for cell in result.summary.cells:
        assert cell.metrics["accuracy"].mean == 1.0 and cell.metrics["accuracy"].n == 2


def test_from_row_variants_hash_and_describe_the_column(tmp_path: Path) -> None:
    variants = compile_loaded(evalkit.load_suite(write(tmp_path)))
    assert variants["sample"].template_text == "[from_row: input]"
    assert variants["framed"].template_text.endswith("\n\n[from_row: input]")
    assert variants["sample"].hash != variants["framed"].hash
    other = compile_loaded(evalkit.load_suite(write(tmp_path, SUITE.replace("input}", "ideal}"))))
    assert other["sample"].hash != variants["sample"].hash


def test_a_malformed_row_message_points_at_the_data_line(tmp_path: Path) -> None:
    rows = [ROWS[0], {"id": "x", "input": [{"role": "tool", "content": "hi"}], "ideal": "a"}]
    with pytest.raises(SuiteError) as info:
        evalkit.validate(write(tmp_path, rows=rows))
    err = info.value
    assert "prompt 'sample'" in err.message and "role 'tool'" in err.message
    assert err.file is not None and err.file.endswith("data.jsonl") and err.line == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "a NoneType, not a list of messages"),
        ([{"role": "user"}], "no text content"),
        ([{"role": "user", "content": "a", "speaker": "b"}], "unknown key 'speaker'"),
        ([{"role": "user", "content": [{"type": "text", "text": "a"}]}], "no text content"),
        ([], "not a list of messages"),
    ],
)
def test_row_messages_are_checked_before_any_call(
    tmp_path: Path, value: Any, expected: str
) -> None:
    rows = [{"id": "x", "input": value, "ideal": "a"}]
    with pytest.raises(SuiteError) as info:
        evalkit.validate(write(tmp_path, rows=rows))
    assert expected in info.value.message and info.value.line == 1


def test_a_row_without_the_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        evalkit.validate(write(tmp_path, rows=[{"id": "x", "ideal": "a"}]))
    assert "no column 'input'" in info.value.message and info.value.line == 1


def test_names_in_a_suites_own_messages_reach_the_prompt(tmp_path: Path) -> None:
    text = SUITE.replace(
        "  sample: {from_row: input}\n",
        "  sample:\n"
        '    - {role: system, name: example_user, content: "Capital of Italy?"}\n'
        "    - {role: system, name: example_assistant, content: Rome}\n"
        '    - {role: user, content: "{{ ideal }}"}\n',
    )
    variants = compile_loaded(evalkit.load_suite(write(tmp_path, text)))
    messages = variants["sample"].render(Example("x", {"ideal": "Paris"}))
    assert [m.get("name") for m in messages] == ["example_user", "example_assistant", None]
    assert "[system example_user]\nCapital of Italy?" in variants["sample"].template_text


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    with FaultServer() as running:
        yield running


def test_names_reach_an_openai_compatible_server(tmp_path: Path, server: FaultServer) -> None:
    text = SUITE.replace(
        "  - id: mock\n    provider: mock\n",
        f"  - id: gpt\n    provider: openai\n    model: gpt-4o-mini\n"
        f"    options: {{base_url: '{server.base_url}'}}\n  - id: mock\n    provider: mock\n",
    )
    rows = [ROWS[0]]
    result = evalkit.run(
        write(tmp_path, text, rows), runs_dir=tmp_path / "runs", tracking=False,
        variants=["sample"], models=["gpt"],
    )  # fmt: skip
    assert result.summary.counts.errors == 0
    body = server.stats()["last_request"]["body"]
    assert body["messages"] == FEW_SHOT  # `name` passed through as the API defines it


# --- several prompts in one file ----------------------------------------------------------------

PIRATE = """\
Rephrase this from English to Pirate: {{ body }}
---
Pretend you're a pirate and speak these words: {{ body }}
"""


def pirate_suite(tmp_path: Path, prompt_file: str = "prompts.txt", text: str = PIRATE) -> Path:
    (tmp_path / prompt_file).write_text(text, encoding="utf-8")
    suite = f"""\
        name: pirate
        dataset:
          rows: [{{body: Hello world}}]
        prompts:
          pirate: {prompt_file}
        models: [{{id: mock, provider: mock}}]
        metrics: [{{icontains: pirate}}]
        gates: [{{metric: icontains, min: 1, variant: pirate-2}}]
        """
    return write(tmp_path, suite)


def test_a_prompts_file_with_separators_makes_one_variant_per_prompt(tmp_path: Path) -> None:
    path = pirate_suite(tmp_path)
    plan = evalkit.validate(path)
    assert plan.variant_names == ["pirate-1", "pirate-2"]
    result = evalkit.run(path, runs_dir=tmp_path / "runs", tracking=False)
    outputs = {r.variant: r.output for r in result.records()}
    assert outputs == {
        "pirate-1": "Rephrase this from English to Pirate: Hello world",
        "pirate-2": "Pretend you're a pirate and speak these words: Hello world",
    }
    assert result.exit_code == 0  # the gate on pirate-2 passes
    selected = evalkit.run(path, runs_dir=tmp_path / "runs", tracking=False, variants=["pirate-2"])
    assert [c.variant for c in selected.summary.cells] == ["pirate-2"]


def test_a_syntax_error_after_a_separator_has_the_files_line(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        evalkit.validate(pirate_suite(tmp_path, text=PIRATE + "---\n\nbroken {{ body\n"))
    assert info.value.file is not None and info.value.file.endswith("prompts.txt")
    assert info.value.line == 6


def test_only_txt_files_split_and_blank_prompts_are_dropped(tmp_path: Path) -> None:
    md = pirate_suite(tmp_path, "prompt.md", "# Title\n---\nSay: {{ body }}\n")
    assert [*compile_loaded(evalkit.load_suite(md))] == ["pirate"]  # a Markdown rule stays
    txt = pirate_suite(tmp_path, "one.txt", "---\nSay: {{ body }}\n---\n\n")
    assert [*compile_loaded(evalkit.load_suite(txt))] == ["pirate"]  # one prompt: its name


def test_a_split_name_that_exists_is_refused(tmp_path: Path) -> None:
    path = pirate_suite(tmp_path)
    text = path.read_text().replace(
        "  pirate: prompts.txt\n", "  pirate: prompts.txt\n  pirate-2: x\n"
    )
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        evalkit.validate(path)
    assert "'pirate-2', which the suite already has" in info.value.message
    assert info.value.line == 5
