"""Hostile suites and data: every problem is one SuiteError with file:line, never a traceback.

The cases are the ones a mutation run found (issue 11): alias bombs, deep nesting, recursive
aliases, NUL bytes, bad tags, NaN, huge values, bad paths, regexes and schemas that break the
compilers, JSONL rows nested 100,000 deep, duplicate CSV headers.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.api import validate
from evalkit.cli.main import cli
from evalkit.errors import SuiteError
from evalkit.suite.limits import LIMITS
from evalkit.suite.loader import load_suite

BASE = """\
name: t
dataset: data.jsonl
prompts:
  p: "{{ question }}"
models:
  - id: m
    provider: mock
    options: {response: "x"}
"""


def suite(tmp_path: Path, text: str, rows: list[dict] | None = None) -> Path:
    rows = rows or [{"id": "a", "question": "q1", "expected": "x"}]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        validate(path)
    return info.value


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    names = [f"l{i}" for i in range(levels)]
    text = f"{names[0]}: &{names[0]} [" + ", ".join(["lol"] * width) + "]\n"
    for prev, name in itertools.pairwise(names):
        text += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * width) + "]\n"
    return text


def test_an_alias_bomb_is_refused_with_one_line(tmp_path: Path) -> None:
    path = suite(tmp_path, "name: t\n" + alias_bomb())
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"error: {path}:")
    assert "expands to more than 200,000 values (an alias bomb?)" in first
    assert len(result.output.splitlines()) == 2  # the message and its hint


@pytest.mark.parametrize(
    "text",
    [
        "name: t\nx: " + "[" * 1000 + "]" * 1000 + "\n",
        "name: t\nx: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n",
        "name: t\n" + "".join(f"{' ' * (2 * i)}k{i}:\n" for i in range(1000)) + " " * 2000 + "v\n",
    ],
    ids=["flow-lists", "flow-maps", "block"],
)
def test_a_thousand_deep_document_is_refused_at_its_line(tmp_path: Path, text: str) -> None:
    err = error_of(suite(tmp_path, text))
    assert f"nests deeper than {LIMITS.depth} levels" in err.message
    assert err.line is not None and err.line >= 2


def test_aliases_cannot_nest_past_the_depth_limit(tmp_path: Path) -> None:
    text = "name: t\na0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 80))
    err = error_of(suite(tmp_path, text))
    assert "aliases nest the YAML deeper" in err.message


@pytest.mark.parametrize("text", ["name: &a [*a]\n", "name: t\nx: &a {b: *a}\n"])
def test_a_self_referencing_alias_is_refused(tmp_path: Path, text: str) -> None:
    err = error_of(suite(tmp_path, text))
    assert "inside the node it names" in err.message
    assert err.line is not None


def test_a_nul_byte_is_reported_at_its_line(tmp_path: Path) -> None:
    err = error_of(suite(tmp_path, BASE + "description: x\x00y\n"))
    assert err.line == 9
    assert "#x0000 (NUL)" in err.message


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = suite(tmp_path, BASE)
    path.write_bytes(BASE.encode() + b"description: caf\xe9\n")
    err = error_of(path)
    assert "not UTF-8" in err.message
    assert err.line == 9


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("!!float x", "cannot read x as float"),
        ("!!int 1.5", "cannot read 1.5 as int"),
        ("!!timestamp x", "as timestamp"),
        ("!!bool maybe", "as bool"),
        ("!!python/object:os.system x", "could not determine a constructor"),
        (".nan", "is not a finite number"),
        ("-.inf", "is not a finite number"),
        ("!!int " + "9" * 5000, "as int"),
    ],
)
def test_values_a_tag_or_number_cannot_hold(tmp_path: Path, value: str, needle: str) -> None:
    err = error_of(suite(tmp_path, BASE + f"repeats: {value}\n"))
    assert err.line == 9
    assert needle in err.message


def test_nan_is_refused_anywhere(tmp_path: Path) -> None:
    text = BASE.replace('options: {response: "x"}', "params: {temperature: .NaN}")
    assert error_of(suite(tmp_path, text)).line == 8


def test_sizes_are_bounded(tmp_path: Path) -> None:
    long = "x" * (LIMITS.string_chars + 1)
    err = error_of(suite(tmp_path, BASE + f"description: {long}\n"))
    assert "the limit is 1,000,000" in err.message and err.line == 9
    path = suite(tmp_path, BASE + "#" * LIMITS.yaml_chars + "\n")
    assert "larger than 4,000,000 bytes" in error_of(path).message


def test_a_huge_value_is_never_repeated_in_full(tmp_path: Path) -> None:
    path = suite(tmp_path, BASE.replace("provider: mock", "provider: " + "k" * 500_000))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert "unknown provider 'kkkk" in result.output
    assert "characters)" in result.output and len(result.output) < 1000


@pytest.mark.parametrize(
    ("dataset", "needle"),
    [
        ("x" * 5000 + ".jsonl", "cannot be read"),
        ('"a\\0b.jsonl"', "invalid name (a NUL character)"),
        ("~no_such_user_xyz/data.jsonl", "not found"),
        (".", "is a folder"),
        ("/dev/null", "not a regular file"),
    ],
)
def test_bad_dataset_paths(tmp_path: Path, dataset: str, needle: str) -> None:
    err = error_of(suite(tmp_path, BASE.replace("data.jsonl", dataset)))
    assert err.line == 2
    assert needle in err.message


def test_bad_suite_paths(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "x" * 5000])
    assert result.exit_code == 2, result.output
    assert "cannot be read" in result.output and "Traceback" not in result.output
    # a shell cannot pass a NUL in an argument; the API can
    assert "NUL" in error_of(Path("a\0b.yaml")).message
    assert "not a regular file" in error_of(Path("/dev/null")).message


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        ("a{4294967296}", "too large to compile"),
        ("(" * 1000 + ")" * 1000, "too large to compile"),
        ("(unclosed", "invalid regular expression"),
    ],
)
def test_regexes_that_break_the_compiler(tmp_path: Path, pattern: str, needle: str) -> None:
    err = error_of(suite(tmp_path, BASE + f"metrics:\n  - regex: '{pattern}'\n"))
    assert err.line == 10
    assert needle in err.message


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ('{"items":' * 50_000 + "{}" + "}" * 50_000, "not valid JSON"),
        ("[1]", "invalid JSON Schema"),
        ('{"$ref": "#/definitions/nope"}', "cannot be used"),
        ('{"$ref": "http://127.0.0.1:9/remote.json"}', "cannot be used"),
    ],
    ids=["deep", "not-an-object", "dangling-ref", "remote-ref"],
)
def test_schemas_that_cannot_be_used(tmp_path: Path, schema: str, needle: str) -> None:
    (tmp_path / "schema.json").write_text(schema)
    err = error_of(suite(tmp_path, BASE + "metrics:\n  - json_schema: schema.json\n"))
    assert err.line == 10
    assert needle in err.message


def test_a_nul_in_a_schema_path(tmp_path: Path) -> None:
    err = error_of(suite(tmp_path, BASE + 'metrics:\n  - json_schema: "a\\0b.json"\n'))
    assert "invalid name (a NUL character)" in err.message


def test_a_jsonl_row_nested_100000_deep(tmp_path: Path) -> None:
    path = suite(tmp_path, BASE)
    (tmp_path / "data.jsonl").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    err = error_of(path)
    assert (err.file, err.line) == ("data.jsonl", 1) or err.line == 1
    assert "nests too deep" in err.message


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ('{"a": ' + "[" * 70 + "]" * 70 + "}", "nests deeper than 64 levels"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
        ('{"a": ' + "9" * 5000 + "}", "invalid JSON on line 2"),
    ],
)
def test_bad_jsonl_rows(tmp_path: Path, line: str, needle: str) -> None:
    path = suite(tmp_path, BASE)
    (tmp_path / "data.jsonl").write_text('{"question": "ok"}\n' + line + "\n")
    err = error_of(path)
    assert err.line == 2
    assert needle in err.message


def test_duplicate_csv_header_names_are_an_error(tmp_path: Path) -> None:
    path = suite(tmp_path, BASE.replace("data.jsonl", "data.csv"))
    (tmp_path / "data.csv").write_text("question,expected,question\nq,x,y\n")
    err = error_of(path)
    assert (err.line, "the column 'question' twice (column 3)" in err.message) == (1, True)


def test_a_csv_field_over_the_size_limit(tmp_path: Path) -> None:
    path = suite(tmp_path, BASE.replace("data.jsonl", "data.csv"))
    (tmp_path / "data.csv").write_text("question\n" + "x" * 200_000 + "\n")
    err = error_of(path)
    assert "field larger than field limit" in err.message and err.line == 2


def test_merge_keys_in_a_valid_suite(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: t
        dataset: data.jsonl
        prompts:
          p: "{{ question }}"
        models:
          - &mock {id: m, provider: mock, options: {response: "X"}}
          - {<<: *mock, id: m2}
        metrics:
          - &check {type: contains, value: "{{ expected }}", ignore_case: true, name: loose}
          - {<<: *check, name: strict, ignore_case: false}
        """
    )
    plan = validate(suite(tmp_path, text))
    assert [m.id for m in plan.suite.models] == ["m", "m2"]
    assert plan.suite.models[1].options == {"response": "X"}
    strict = plan.suite.metrics[1]
    assert (strict.display_name, strict.args["ignore_case"]) == ("strict", False)
    assert strict.args["value"] == "{{ expected }}"
    loaded = load_suite(tmp_path / "suite.yaml")
    assert loaded.line_of(("metrics", 1, "name")) == 10  # its own key
    assert loaded.line_of(("metrics", 1, "value")) == 9  # merged: where it is written
    assert loaded.line_of(("models", 1, "provider")) == 6


def test_merge_key_errors_point_at_the_merged_line(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: t
        dataset: data.jsonl
        prompts:
          p: "{{ question }}"
        models:
          - &mock {id: m, provider: mock, options: {response: "X"}, concurrency: 0}
          - {<<: *mock, id: m2}
        """
    )
    err = error_of(suite(tmp_path, text))
    assert err.line == 6
    text = text.replace(", concurrency: 0", "").replace("id: m2}", "id: m2, id: m3}")
    err = error_of(suite(tmp_path, text))
    assert "duplicate key 'id'" in err.message and err.line == 7


def test_brackets_inside_a_quoted_string_are_text(tmp_path: Path) -> None:
    plan = validate(suite(tmp_path, BASE + 'description: "' + "[" * 100 + '"\n'))
    assert plan.suite.description == "[" * 100
