"""Parity with promptfoo: the same outputs and assertions get the same verdicts.

The cases (tests/parity/promptfoo_cases.yaml) are scored here by evalkit through the mapping an
importer uses (evalkit.metrics.porting) and the normal binding; promptfoo's verdicts were
recorded by running promptfoo itself on the same file (generate_promptfoo_verdicts.mjs). A
case marked `differs: KEY` is a deliberate difference documented in docs/porting.md under
that key; every other case must agree.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.errors import SuiteError
from evalkit.metrics.base import ScoreContext
from evalkit.metrics.bind import bind_metrics
from evalkit.metrics.porting import promptfoo_metric
from evalkit.records import Generation
from evalkit.suite.schema import MetricConfig

PARITY = Path(__file__).parent / "parity"
PORTING_DOC = Path(__file__).parent.parent / "docs" / "porting.md"
CASES: list[dict[str, Any]] = yaml.safe_load((PARITY / "promptfoo_cases.yaml").read_text("utf-8"))
RECORDED = json.loads((PARITY / "promptfoo_verdicts.json").read_text("utf-8"))
REQUIRED_TYPES = {
    "equals", "contains", "icontains", "starts-with", "contains-any", "contains-all", "regex",
    "is-json", "contains-json", "levenshtein", "rouge-n", "bleu",
}  # fmt: skip


def evalkit_verdict(case: dict[str, Any], tmp_path: Path) -> str:
    """pass / fail / error: a config refused at load time or an unscored item is an error."""
    config = MetricConfig.model_validate(promptfoo_metric(case["assert"]))
    try:
        (metric,) = bind_metrics([config], tmp_path)
    except SuiteError:
        return "error"
    output = case["output"]
    ctx = ScoreContext(output=output, row=case.get("vars") or {}, generation=Generation(output))
    score = metric.score(ctx)
    if score.value is None or score.passed is None:
        return "error"
    return "pass" if score.passed else "fail"


def test_the_set_is_large_and_covers_every_required_assertion() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 100
    assert set(ids) == set(RECORDED["verdicts"]), "rerun generate_promptfoo_verdicts.mjs"
    types = Counter(c["assert"]["type"].removeprefix("not-") for c in CASES)
    assert all(types[t] >= 5 for t in REQUIRED_TYPES), types
    assert sum("value" in c["assert"] and c["assert"]["type"].endswith("json") for c in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_verdict_matches_promptfoo(case: dict[str, Any], tmp_path: Path) -> None:
    theirs = RECORDED["verdicts"][case["id"]]["verdict"]
    ours = evalkit_verdict(case, tmp_path)
    if case.get("differs"):
        assert ours != theirs, f"documented as different ({case['differs']}) but both {ours}"
    else:
        assert ours == theirs, RECORDED["verdicts"][case["id"]]


def test_every_difference_is_documented() -> None:
    doc = PORTING_DOC.read_text("utf-8")
    keys = {c["differs"] for c in CASES if c.get("differs")}
    missing = [k for k in sorted(keys) if f"`{k}`" not in doc]
    assert not missing, f"docs/porting.md does not explain: {missing}"
    differing = sum(1 for c in CASES if c.get("differs"))
    assert differing <= 0.2 * len(CASES)  # differences stay the exception
    # the page quotes the counts: keep them true
    assert f"scores {len(CASES)} fixed" in doc and f"except the {differing}" in doc.replace(
        "\n", " "
    )
    assert RECORDED["promptfoo"] in doc
