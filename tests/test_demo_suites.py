"""The demo suites: all valid, and each runs end to end on the real embedded model (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.api import validate as check_suite
from evalkit.cli.main import cli

SUITES = sorted(Path(__file__).resolve().parent.parent.glob("suites/*.yaml"))


@pytest.mark.parametrize("suite", SUITES, ids=lambda p: p.stem)
def test_demo_suite_is_valid(suite: Path) -> None:
    assert check_suite(suite).total > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["capitals", "ticket_triage"])
def test_demo_suite_runs_on_the_real_local_model(name: str, tmp_path: Path) -> None:
    suite = Path(__file__).resolve().parent.parent / "suites" / f"{name}.yaml"
    runs = tmp_path / "runs"
    args = ["run", str(suite), "--limit", "3", "--runs-dir", str(runs), "-q", "--no-tracking"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    run_dir = next(runs.glob("*/results.jsonl")).parent
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3 * 2  # 3 examples x 2 variants x 1 model
    assert all(r["error"] is None and r["output"] for r in records)
    assert all(r["usage"]["output_tokens"] > 0 for r in records)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete"
    for cell in summary["cells"]:
        assert all(stats["n"] == 3 for stats in cell["metrics"].values())
    # the comparison table names both variants
    variants = {r["variant"] for r in records}
    assert all(v in result.output for v in variants)
