"""`evalkit export`: long and wide tables that round-trip through pandas (CSV and Parquet)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MOCK_SUITE, ROWS

from evalkit.api import RunOptions, run_suite
from evalkit.cli.main import cli
from evalkit.results.export import export_frame, unique_columns
from evalkit.results.redaction import Redactor
from evalkit.results.store import load_run

# 4 examples x 2 variants x 2 repeats = 16 items; "sky" (q3) fails every call (4 items);
# two metrics (contains, length) and tags for the BI tool.
SUITE = (
    MOCK_SUITE.replace("      responses:", "      fail_on: sky\n      responses:")
    + "repeats: 2\ntags: {team: support, release: '2.1'}\nerror_budget: 1.0\n"
)
ITEMS, ERRORED, METRICS = 16, 4, 2


@pytest.fixture
def runs(write_suite: Callable[..., Path], tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "runs"
    suite = write_suite(SUITE)
    ids = []
    for run_id in ("exp-a", "exp-b"):
        result = run_suite(suite, RunOptions(runs_dir=folder, run_id=run_id, tracking=False))
        ids.append(result.run_id)
    return folder, ids


def test_long_export_round_trips_through_pandas_csv_and_parquet(
    runs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder, ids = runs
    records = load_run(folder / ids[0]).records()
    assert len(records) == ITEMS and sum(1 for r in records if r.error) == ERRORED
    for name in ("long.csv", "long.parquet"):
        path = tmp_path / name
        result = CliRunner().invoke(
            cli, ["export", *ids, "--runs-dir", str(folder), "-o", str(path)]
        )
        assert result.exit_code == 0, result.output
        assert f"({2 * ITEMS * METRICS} rows" in result.output
        frame = pd.read_csv(path) if name.endswith("csv") else pd.read_parquet(path)
        # items x metrics per run, errored items included (one row per metric each)
        assert len(frame) == 2 * ITEMS * METRICS
        assert frame.groupby("run_id").size().to_dict() == {"exp-a": 32, "exp-b": 32}
        assert not any("." in c for c in frame.columns)
        one = frame[frame.run_id == "exp-a"]
        assert set(one.metric) == {"contains", "length"}
        assert one.groupby(["example_id", "variant", "model", "repeat", "metric"]).size().max() == 1
        errors = one[one.status == "error"]
        assert len(errors) == ERRORED * METRICS  # q3 x 2 variants x 2 repeats, per metric
        assert set(errors.example_id) == {"q3"} and errors.value.isna().all()
        assert errors.error.str.contains("mock failure on 'sky'").all()
        scored = one[(one.metric == "contains") & (one.status == "scored")]
        assert scored.passed.astype(bool).sum() == 8  # q1 and q2, both variants, 2 repeats
        assert set(one.tag_team) == {"support"} and set(one.tag_release.astype(str)) == {"2.1"}
        assert one.suite.iloc[0] == "mock-suite" and one.suite_hash.notna().all()
        versions = one.groupby("variant").prompt_version.unique().map(len).to_dict()
        assert versions == {"plain": 1, "polite": 1}
        assert pd.to_datetime(one.run_started_at).notna().all()


def test_wide_export_has_one_row_per_item_with_inputs_prompt_and_scores(
    runs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder, ids = runs
    path = tmp_path / "wide.parquet"
    args = ["export", ids[0], "--wide", "--runs-dir", str(folder), "-o", str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(path)
    assert len(frame) == ITEMS
    assert {"input_question", "input_expected", "prompt", "output"} <= set(frame.columns)
    assert {"score_contains_value", "score_contains_passed", "score_length_reason"} <= set(
        frame.columns
    )
    polite = frame[(frame.variant == "polite") & (frame.example_id == "q2")].iloc[0]
    assert polite.prompt == "[system]\nBe polite.\n\n[user]\nPlease answer: Capital of France?"
    assert polite.output == "Paris" and bool(polite.score_contains_passed)
    failed = frame[frame.status == "error"]
    assert len(failed) == ERRORED and failed.score_contains_value.isna().all()
    assert set(frame.input_expected) == {r["expected"] for r in ROWS}


def test_export_column_names_mixed_kinds_and_secrets(runs: tuple[Path, list[str]]) -> None:
    folder, ids = runs
    run = load_run(folder / ids[0])
    for record in run.records():  # a dataset column with numbers and text, a list, a secret
        record.inputs = {**(record.inputs or {}), "n.o": 3 if record.repeat else "three"}
        record.output = f"{record.output} sk-live-123456"
    frame = export_frame([run], wide=True, redactor=Redactor(("sk-live-123456",)))
    assert "input_n_o" in frame.columns
    assert set(frame.input_n_o) == {"3", "three"}  # one type per column, as text
    assert not frame.output.dropna().str.contains("sk-live").any()
    assert unique_columns("score_", ["a.b", "a_b", "a b"], set()) == {
        "a.b": "score_a_b",
        "a_b": "score_a_b_2",
        "a b": "score_a_b_3",
    }


def test_export_format_from_suffix_and_clean_errors(
    runs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder, ids = runs
    path = tmp_path / "out" / "t.pq"
    result = CliRunner().invoke(cli, ["export", ids[0], "--runs-dir", str(folder), "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(path)) == ITEMS * METRICS
    by_folder = tmp_path / "f.csv"
    result = CliRunner().invoke(cli, ["export", str(folder / ids[1]), "-o", str(by_folder)])
    assert result.exit_code == 0 and len(pd.read_csv(by_folder)) == ITEMS * METRICS
    missing = CliRunner().invoke(cli, ["export", "nope", "--runs-dir", str(folder), "-o", "x.csv"])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output
    assert "Traceback" not in missing.output
