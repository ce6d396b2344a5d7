"""Prompt rendering: sandboxed strict templates, message lists, prompt files, variable checks."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from evalkit.errors import SuiteError
from evalkit.prompts.render import compile_template, render, template_variables
from evalkit.prompts.variants import check_variables, compile_loaded, compile_variants
from evalkit.records import Example
from evalkit.suite.loader import load_suite
from evalkit.suite.schema import Suite

ROW = {"question": "What is 2+2?", "expected": "4", "tags": ["a", "b"], "meta": {"k": "é<"}}


def make_suite(prompts: dict[str, object]) -> Suite:
    return Suite.model_validate(
        {
            "name": "t",
            "dataset": {"rows": [ROW]},
            "prompts": prompts,
            "models": [{"id": "m", "provider": "mock"}],
        }
    )


def write_suite(tmp_path: Path, prompts_yaml: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: t\n"
        "dataset: {rows: [{question: q}]}\n"
        "models: [{id: m, provider: mock}]\n"
        "prompts:\n" + textwrap.indent(textwrap.dedent(prompts_yaml), "  ")
    )
    return path


# --- render.py --------------------------------------------------------------------------------


def test_render_and_filters() -> None:
    source = "Q: {{ question }}\n{{ tags | bullets }}\n{{ tags | numbered }}\n{{ meta | tojson }}\n"
    text = render(compile_template(source, "t"), ROW, example_id="e1", origin="t")
    assert text == 'Q: What is 2+2?\n- a\n- b\n1. a\n2. b\n{"k": "é<"}'  # no trailing newline


def test_template_variables_excludes_loops_and_globals() -> None:
    source = "{% for t in tags %}{{ t }}{% endfor %}{{ range(2) | list }}{{ row.x }}{{ q }}"
    assert template_variables(source) == {"tags", "row", "q"}


def test_missing_variable_names_row_line_and_columns() -> None:
    template = compile_template("{{ question }} {{ context }}", "prompts/qa.jinja")
    with pytest.raises(SuiteError) as info:
        render(
            template, {"question": "x", "id": 1}, example_id="q7", origin="prompts/qa.jinja", line=7
        )
    err = info.value
    assert err.message == "row q7 (line 7) has no variable 'context'"
    assert err.file == "prompts/qa.jinja"
    assert err.hint == "the row has: id, question"


def test_syntax_error_line_is_offset_by_the_template_start() -> None:
    with pytest.raises(SuiteError) as info:
        compile_template("line one\n{{ oops ", "suite.yaml", line=10)
    assert (info.value.file, info.value.line) == ("suite.yaml", 11)
    with pytest.raises(SuiteError) as info:
        compile_template("{% if %}", "metric contains")
    assert info.value.line is None
    assert "(template line 1)" in info.value.message


def test_sandbox_blocks_python_internals() -> None:
    template = compile_template("{{ question.__class__.__mro__ }}", "t")
    with pytest.raises(SuiteError):
        render(template, ROW, example_id="e", origin="t")


def test_render_type_errors_become_suite_errors() -> None:
    template = compile_template("{{ question + 1 }}", "t")
    with pytest.raises(SuiteError, match="cannot render the template for row e"):
        render(template, ROW, example_id="e", origin="t")


# --- variants ---------------------------------------------------------------------------------


def test_inline_variants_render_messages() -> None:
    suite = make_suite(
        {
            "plain": "{{ question }}",
            "chat": {"system": "Be brief.", "user": "Q: {{ question }}"},
            "fewshot": [
                {"role": "system", "content": "Answer with a number."},
                {"role": "user", "content": "1+1?"},
                {"role": "assistant", "content": "2"},
                {"role": "user", "content": "{{ question }}"},
            ],
        }
    )
    variants = compile_variants(suite, Path("."))
    example = Example(id="e1", row=ROW, line=1)
    assert variants["plain"].render(example) == [{"role": "user", "content": "What is 2+2?"}]
    assert variants["chat"].render(example) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: What is 2+2?"},
    ]
    fewshot = variants["fewshot"].render(example)
    assert [m["role"] for m in fewshot] == ["system", "user", "assistant", "user"]
    assert fewshot[-1]["content"] == "What is 2+2?"
    assert variants["fewshot"].variables == {"question"}
    assert variants["chat"].template_text == "[system]\nBe brief.\n\n[user]\nQ: {{ question }}"
    assert variants["plain"].hash != variants["chat"].hash
    assert variants["plain"].hash == compile_variants(suite, Path("."))["plain"].hash


def test_text_file_with_role_markers(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "friendly.jinja").write_text(
        "\n{# system #}\nBe friendly.\n\n{#- user -#}\nA customer asks: {{ question }}\n"
    )
    (tmp_path / "prompts" / "plain.md").write_text("Answer: {{ question }}\n")
    suite = make_suite(
        {"friendly": "prompts/friendly.jinja", "plain": {"file": "prompts/plain.md"}}
    )
    variants = compile_variants(suite, tmp_path)
    example = Example(id="e1", row=ROW)
    assert variants["friendly"].render(example) == [
        {"role": "system", "content": "Be friendly."},
        {"role": "user", "content": "A customer asks: What is 2+2?"},
    ]
    assert variants["plain"].render(example) == [
        {"role": "user", "content": "Answer: What is 2+2?"}
    ]


def test_text_file_syntax_error_has_the_file_line(tmp_path: Path) -> None:
    (tmp_path / "p.jinja").write_text("{# system #}\nS\n{# user #}\n\nfirst\n{{ question \n")
    with pytest.raises(SuiteError) as info:
        compile_variants(make_suite({"p": "p.jinja"}), tmp_path)
    assert info.value.file and info.value.file.endswith("p.jinja")
    assert info.value.line == 6


def test_text_before_the_first_marker_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "p.jinja").write_text("\nstray\n{# user #}\n{{ question }}\n")
    with pytest.raises(SuiteError, match="before the first") as info:
        compile_variants(make_suite({"p": "p.jinja"}), tmp_path)
    assert info.value.line == 2


def test_yaml_file_variant_list_and_mapping(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text(
        "- role: system\n  content: |\n    Use the facts.\n"
        "- role: user\n  content: '{{ question }}'\n"
    )
    (tmp_path / "map.yml").write_text("system: S\nuser: 'Q: {{ question }}'\n")
    suite = make_suite({"a": "list.yaml", "b": "map.yml", "c": {"system": "X", "file": "map.yml"}})
    variants = compile_variants(suite, tmp_path)
    example = Example(id="e1", row=ROW)
    assert variants["a"].render(example) == [
        {"role": "system", "content": "Use the facts."},  # keep_trailing_newline=False
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert [m["content"] for m in variants["b"].render(example)] == ["S", "Q: What is 2+2?"]
    # inline messages come first, then the file's
    assert [m["content"] for m in variants["c"].render(example)] == ["X", "S", "Q: What is 2+2?"]


def test_yaml_file_errors_point_into_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("- role: system\n  content: S\n- role: usr\n  content: x\n")
    with pytest.raises(SuiteError) as info:
        compile_variants(make_suite({"a": "bad.yaml"}), tmp_path)
    assert info.value.file and info.value.file.endswith("bad.yaml")
    assert info.value.line == 3
    (tmp_path / "syntax.yaml").write_text("system: S\nuser: |\n  a\n  {{ q\n")
    with pytest.raises(SuiteError) as info:
        compile_variants(make_suite({"a": "syntax.yaml"}), tmp_path)
    assert info.value.line == 4


def test_missing_prompt_file_points_at_the_suite_line(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "a: '{{ question }}'\nb: prompts/missing.jinja\n")
    with pytest.raises(SuiteError) as info:
        compile_loaded(load_suite(path))
    assert info.value.line == 6
    assert "prompt file not found: prompts/missing.jinja" in info.value.message


def test_inline_syntax_error_points_at_the_suite_line(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "a:\n  system: ok\n  user: |\n    line\n    {{ question\n")
    with pytest.raises(SuiteError) as info:
        compile_loaded(load_suite(path))
    assert info.value.line == 9


# --- check_variables --------------------------------------------------------------------------


def test_check_variables_names_prompt_row_file_line_and_columns() -> None:
    variants = compile_variants(make_suite({"terse": "{{ question }} {{ context }}"}), Path("."))
    examples = [
        Example(id="ok", row={"question": "a", "context": "c"}, line=1),
        Example(id="q7", row={"question": "b", "answer": "x"}, line=7),
    ]
    with pytest.raises(SuiteError) as info:
        check_variables(variants, examples, source="datasets/x.jsonl")
    assert info.value.message == (
        "prompt 'terse' uses {{ context }} but row q7 (datasets/x.jsonl line 7) has no 'context'"
    )
    assert info.value.hint and info.value.hint.startswith("the row has: answer, question")


def test_check_variables_accepts_guarded_optional_columns() -> None:
    source = (
        "{{ question }}{% if hint is defined %} ({{ hint }}){% endif %}{{ note | default('') }}"
    )
    variants = compile_variants(make_suite({"p": source}), Path("."))
    check_variables(variants, [Example(id="e", row={"question": "q"}, line=1)])


def test_check_variables_is_fast_for_20000_rows() -> None:
    variants = compile_variants(
        make_suite({f"v{i}": "{{ question }} {{ expected }}" for i in range(3)}), Path(".")
    )
    examples = [
        Example(id=str(i), row={"question": "q", "expected": "e", "x": i}, line=i)
        for i in range(20_000)
    ]
    start = time.perf_counter()
    check_variables(variants, examples)
    assert time.perf_counter() - start < 0.5
