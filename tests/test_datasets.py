"""Dataset loaders: formats, ids, rename, sample/limit, and bad rows reported with their line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.data.loaders import (
    dataset_digest,
    dataset_name,
    dataset_source,
    load_dataset,
    load_examples,
)
from evalkit.errors import SuiteError
from evalkit.records import stable_hash
from evalkit.suite.loader import load_suite
from evalkit.suite.schema import DatasetConfig

ROWS = [{"id": f"q{i}", "question": f"question {i}", "expected": str(i)} for i in range(1, 11)]


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def load(tmp_path: Path, **config: Any) -> list[Any]:
    return load_examples(DatasetConfig(**config), tmp_path, suite_file="suite.yaml")


def error_of(tmp_path: Path, **config: Any) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load(tmp_path, **config)
    return info.value


def test_jsonl_with_id_field_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n")
    examples = load(tmp_path, path="d.jsonl", id_field="id")
    assert [e.id for e in examples] == ["q1", "q2"]
    assert [e.line for e in examples] == [1, 3]  # the blank line is skipped, lines stay true
    assert examples[0].row == ROWS[0]


def test_csv_lines_include_the_header_and_multiline_cells(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(
        'id,question,expected\nq1,"two\nlines",a\n\nq2,plain,b\n', encoding="utf-8"
    )
    examples = load(tmp_path, path="d.csv", id_field="id")
    assert [(e.id, e.line) for e in examples] == [("q1", 2), ("q2", 5)]
    assert examples[0].row == {"id": "q1", "question": "two\nlines", "expected": "a"}


def test_csv_bom_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("\ufeffid,question\nq1,x\n", encoding="utf-8")
    assert load(tmp_path, path="d.csv")[0].row == {"id": "q1", "question": "x"}
    (tmp_path / "d.tsv").write_text("id\tquestion\nq1\ta, b\n")
    assert load(tmp_path, path="d.tsv")[0].row == {"id": "q1", "question": "a, b"}


def test_csv_row_with_wrong_field_count(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,question\nq1,x\nq2,y,z\n")
    err = error_of(tmp_path, path="d.csv")
    assert err.line == 3
    assert "3 fields, the header has 2" in err.message


def test_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "n": [1, 2],
            "score": [0.5, float("nan")],
            "tags": [["x"], ["y", "z"]],
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    examples = load(tmp_path, path="d.parquet", id_field="id")
    assert [e.line for e in examples] == [1, 2]
    assert examples[0].row == {"id": "a", "n": 1, "score": 0.5, "tags": ["x"]}
    assert examples[1].row["score"] is None
    assert type(examples[0].row["n"]) is int  # plain Python, so rows serialise as JSON
    json.dumps([e.row for e in examples])


def test_inline_rows_and_explicit_format(tmp_path: Path) -> None:
    examples = load(tmp_path, rows=[{"q": "a"}, {"q": "b"}])
    assert [e.line for e in examples] == [1, 2]
    jsonl(tmp_path / "data.txt", ROWS[:2])
    assert len(load(tmp_path, path="data.txt", format="jsonl")) == 2


def test_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    jsonl(tmp_path / "data.txt", ROWS[:2])
    err = error_of(tmp_path, path="data.txt")
    assert "cannot tell the format" in err.message
    assert err.hint and "format:" in err.hint


def test_content_hash_ids_are_stable_and_unique(tmp_path: Path) -> None:
    rows = [{"q": "a"}, {"q": "b"}, {"q": "a"}, {"q": "a"}]
    ids = [e.id for e in load(tmp_path, rows=rows)]
    digest = stable_hash({"q": "a"})
    assert ids == [digest, stable_hash({"q": "b"}), f"{digest}-2", f"{digest}-3"]
    assert ids == [e.id for e in load(tmp_path, rows=rows)]
    # key order does not change a row's id
    assert (
        load(tmp_path, rows=[{"a": 1, "b": 2}])[0].id
        == load(tmp_path, rows=[{"b": 2, "a": 1}])[0].id
    )


def test_rename_columns_and_id_field_before_or_after(tmp_path: Path) -> None:
    jsonl(tmp_path / "d.jsonl", [{"key": "k1", "q": "x"}])
    for id_field in ("key", "uid"):
        (example,) = load(
            tmp_path, path="d.jsonl", rename={"q": "question", "key": "uid"}, id_field=id_field
        )
        assert example.row == {"uid": "k1", "question": "x"}
        assert example.id == "k1"


def test_rename_unknown_column_and_collision(tmp_path: Path) -> None:
    jsonl(tmp_path / "d.jsonl", [{"q": "x", "question": "y"}])
    err = error_of(tmp_path, path="d.jsonl", rename={"qq": "question"})
    assert "no column 'qq'" in err.message
    assert err.hint and "q, question" in err.hint
    err = error_of(tmp_path, path="d.jsonl", rename={"q": "question"})
    assert err.line == 1
    assert "same name" in err.message


def test_missing_and_duplicate_ids_name_the_line(tmp_path: Path) -> None:
    jsonl(tmp_path / "d.jsonl", [ROWS[0], {"question": "no id"}])
    err = error_of(tmp_path, path="d.jsonl", id_field="id")
    assert (err.line, err.message) == (2, "line 2 has no id in 'id'")
    assert err.file and err.file.endswith("d.jsonl")
    jsonl(tmp_path / "d.jsonl", [ROWS[0], ROWS[1], ROWS[0]])
    err = error_of(tmp_path, path="d.jsonl", id_field="id")
    assert err.line == 3
    assert "duplicate id 'q1' on line 3 (first on line 1)" in err.message


def test_inline_duplicate_ids_point_at_the_suite(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        load_examples(
            DatasetConfig(rows=[{"id": 1}, {"id": 1}], id_field="id"),
            tmp_path,
            suite_file="suite.yaml",
            suite_line=4,
        )
    assert (info.value.file, info.value.line) == ("suite.yaml", 4)
    assert "on row 2 (first on row 1)" in info.value.message


def test_sample_is_seeded_keeps_order_and_applies_before_limit(tmp_path: Path) -> None:
    jsonl(tmp_path / "d.jsonl", ROWS)
    first = load(tmp_path, path="d.jsonl", id_field="id", sample=5, seed=1)
    again = load(tmp_path, path="d.jsonl", id_field="id", sample=5, seed=1)
    other = load(tmp_path, path="d.jsonl", id_field="id", sample=5, seed=2)
    assert [e.id for e in first] == [e.id for e in again]
    assert [e.id for e in first] != [e.id for e in other]
    assert [e.line for e in first] == sorted(e.line or 0 for e in first)
    limited = load(tmp_path, path="d.jsonl", id_field="id", sample=5, seed=1, limit=2)
    assert [e.id for e in limited] == [e.id for e in first[:2]]
    assert len(load(tmp_path, path="d.jsonl", sample=50)) == 10
    assert [e.id for e in load(tmp_path, path="d.jsonl", id_field="id", limit=3)] == [
        "q1",
        "q2",
        "q3",
    ]


def test_invalid_json_line(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"a": 1}\n{"a": 2,}\n')
    err = error_of(tmp_path, path="d.jsonl")
    assert err.line == 2
    assert err.file and err.file.endswith("d.jsonl")
    assert "invalid JSON on line 2" in err.message


def test_non_object_json_line(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"a": 1}\n[1, 2]\n')
    err = error_of(tmp_path, path="d.jsonl")
    assert err.line == 2
    assert "a JSON list, not an object" in err.message


@pytest.mark.parametrize(("name", "text"), [("d.jsonl", "\n  \n"), ("d.csv", "a,b\n")])
def test_empty_dataset(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert "has no rows" in error_of(tmp_path, path=name).message


def test_missing_dataset_file_points_at_the_suite(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: x\nprompts: {a: hi}\nmodels: [{id: m, provider: mock}]\n"
        "dataset: data/missing.jsonl\n"
    )
    with pytest.raises(SuiteError) as info:
        load_dataset(load_suite(suite))
    assert info.value.line == 4
    assert "dataset file not found: data/missing.jsonl" in info.value.message
    assert info.value.hint and "relative to the suite" in info.value.hint


def test_digest_name_and_source(tmp_path: Path) -> None:
    jsonl(tmp_path / "faq.jsonl", ROWS[:3])
    examples = load(tmp_path, path="faq.jsonl")
    assert dataset_digest(examples) == dataset_digest(load(tmp_path, path="faq.jsonl"))
    assert dataset_digest(examples) != dataset_digest(examples[:2])
    assert dataset_name(DatasetConfig(path="x/faq.jsonl")) == "faq"
    assert dataset_name(DatasetConfig(path="x/faq.jsonl", name="FAQ")) == "FAQ"
    assert dataset_name(DatasetConfig(rows=[{"a": 1}])) == "inline"
    assert dataset_source(DatasetConfig(rows=[{"a": 1}]), tmp_path) == "inline rows"
    assert dataset_source(DatasetConfig(path="faq.jsonl"), tmp_path).endswith("faq.jsonl")


def test_loading_jsonl_does_not_import_pandas(tmp_path: Path) -> None:
    import subprocess
    import sys

    jsonl(tmp_path / "d.jsonl", ROWS)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from evalkit.data.loaders import load_examples\n"
        "from evalkit.suite.schema import DatasetConfig\n"
        f"load_examples(DatasetConfig(path='d.jsonl'), Path({str(tmp_path)!r}))\n"
        "assert 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_id_column_is_used_without_id_field_when_unique(tmp_path: Path) -> None:
    assert [e.id for e in load(tmp_path, rows=[{"id": "a"}, {"id": 2}])] == ["a", "2"]
    # not unique, or not in every row: content hashes instead (id_field makes it an error)
    rows = [{"id": "a", "q": 1}, {"id": "a", "q": 2}]
    assert [e.id for e in load(tmp_path, rows=rows)] == [stable_hash(r) for r in rows]
    rows = [{"id": "a"}, {"q": 2}]
    assert [e.id for e in load(tmp_path, rows=rows)] == [stable_hash(r) for r in rows]
