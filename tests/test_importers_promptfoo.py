"""`evalkit import promptfoo`: configs in promptfoo's documented format become suites whose rows
carry their own assertions, scored as promptfoo would (the parity set, through the importer)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import evalkit
from evalkit.cli.main import cli
from evalkit.importers import write_imported
from evalkit.importers.promptfoo import import_promptfoo

PEERS = Path(__file__).parent / "peer_configs" / "promptfoo"
PARITY = Path(__file__).parent / "parity"


@pytest.fixture(autouse=True)
def _fresh_stub_module() -> Any:
    """Each test's generated promptfoo_asserts module is its own (not one imported before)."""
    sys.modules.pop("promptfoo_asserts", None)
    yield
    sys.modules.pop("promptfoo_asserts", None)


def imported_into(tmp_path: Path, config: Path) -> Path:
    write_imported(import_promptfoo(config), tmp_path / "out")
    return tmp_path / "out"


def rows_of(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "dataset.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def with_models(folder: Path, *models: dict[str, Any], **extra: Any) -> Path:
    """The imported suite with its models replaced (the tests never call OpenAI)."""
    path = folder / "suite.yaml"
    suite = yaml.safe_load(path.read_text(encoding="utf-8"))
    suite["models"] = list(models)
    suite.update(extra)
    path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run(path: Path) -> evalkit.RunResult:
    return evalkit.run(path, runs_dir=path.parent / "runs", tracking=False)


def verdicts(result: evalkit.RunResult) -> dict[tuple[str, str], bool | None]:
    return {(r.example_id, r.variant): r.scores["assertions"].passed for r in result.records()}


# --- getting-started -----------------------------------------------------------------------------


def test_getting_started_imports_prompts_providers_and_tests(tmp_path: Path) -> None:
    imported = import_promptfoo(PEERS / "getting-started" / "promptfooconfig.yaml")
    assert imported.notes == []
    suite = imported.suite
    assert suite["name"] == "getting-started" and suite["description"] == "Getting started"
    assert list(suite["prompts"]) == ["prompt-1", "prompt-2"]
    assert [(m["id"], m["provider"], m["model"]) for m in suite["models"]] == [
        ("gpt-4.1-mini", "openai", "gpt-4.1-mini"),
        ("o4-mini", "openai", "o4-mini"),
    ]
    assert imported.rows[0] == {
        "id": "test-1",
        "language": "German",
        "input": "Good morning",
        "assert": [{"type": "contains", "value": "Guten Morgen"}],
    }
    assert imported.rows[1]["assert"] == [{"type": "icontains", "value": "Dove è la stazione"}]
    evalkit.validate(imported_into(tmp_path, PEERS / "getting-started" / "promptfooconfig.yaml") /
                     "suite.yaml")  # fmt: skip


def test_getting_started_runs_end_to_end_with_promptfoos_verdicts(tmp_path: Path) -> None:
    folder = imported_into(tmp_path, PEERS / "getting-started" / "promptfooconfig.yaml")
    answers = {"Good morning": "Guten Morgen!", "station": "Dov'è la stazione?"}
    path = with_models(
        folder, {"id": "mock", "provider": "mock", "options": {"responses": answers}}
    )
    result = run(path)
    # contains is case-sensitive and found; "Dov'è" is not "Dove è" whatever the case
    assert verdicts(result) == {
        ("test-1", "prompt-1"): True,
        ("test-1", "prompt-2"): True,
        ("test-2", "prompt-1"): False,
        ("test-2", "prompt-2"): False,
    }
    for cell in result.summary.cells:
        assert cell.metrics["contains"].n == 1 and cell.metrics["icontains"].n == 1
        assert cell.metrics["assertions"].mean == 0.5


def test_the_cli_writes_lists_and_refuses_to_overwrite(tmp_path: Path) -> None:
    config = PEERS / "simple-test" / "promptfooconfig.yaml"
    out = CliRunner().invoke(cli, ["import", "promptfoo", str(config), "-o", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    assert f"wrote {tmp_path / 'o' / 'suite.yaml'} (5 rows)" in out.output
    assert "promptfooconfig.yaml:34: a python assertion became the custom metric" in out.output
    assert (
        "custom-metric stubs made from code assertions: 1" in out.output
        and "--allow-code" in out.output
    )
    again = CliRunner().invoke(cli, ["import", "promptfoo", str(config), "-o", str(tmp_path / "o")])
    assert again.exit_code == 2 and "already exists" in again.output
    assert "Traceback" not in again.output
    forced = CliRunner().invoke(
        cli, ["import", "promptfoo", str(config), "-o", str(tmp_path / "o"), "--force"]
    )
    assert forced.exit_code == 0


# --- simple-test: prompts file, templates, graders, code ----------------------------------------


def test_simple_test_maps_its_prompts_file_refs_graders_and_code(tmp_path: Path) -> None:
    imported = import_promptfoo(PEERS / "simple-test" / "promptfooconfig.yaml")
    suite = imported.suite
    assert suite["prompts"] == {"prompts": "prompts/prompts.txt"}
    assert suite["assertion_templates"] == {"pirateNoise": {"type": "icontains", "value": "arr"}}
    assert suite["judges"][0]["id"] == "judge"
    rows = {r["id"]: r for r in imported.rows}
    assert rows["check-for-exact-match"]["body"] == "Yes"  # YAML 1.2, as promptfoo reads it
    assert rows["check-for-exact-match"]["assert"] == [
        {"type": "equals", "value": "Aye", "strip": False}
    ]
    similar = rows["check-for-semantic-similarity"]["assert"]
    assert similar[0] == {"type": "starts_with", "value": "Ahoy", "strip": False}  # JS one-liner
    assert similar[1] == {"type": "promptfoo_asserts:python_1", "name": "python"}
    assert similar[2]["type"] == "embedding_similarity" and similar[2]["threshold"] == 0.75
    assert rows["use-an-llm-to-evaluate-the-output"]["assert"] == [
        {"type": "rubric", "judge": "judge", "rubric": "Sounds like a pirate"},
        {"template": "pirateNoise"},
    ]
    assert "return max(0, len(output) - 200)" in imported.files["promptfoo_asserts.py"]


def test_simple_test_runs_its_two_prompts_with_a_judge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = imported_into(tmp_path, PEERS / "simple-test" / "promptfooconfig.yaml")
    monkeypatch.syspath_prepend(str(folder))  # the generated stub module
    rows = [r for r in rows_of(folder) if r["id"] != "check-for-semantic-similarity"]
    (folder / "dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers = {"Yes": "Aye", "thirsty": "Arr, fetch me grog!", "ship": '{"ship": "Pearl"}'}
    answers["calm"] = "Arr, the sea be calm"
    judge = {"id": "judge", "provider": "mock", "options": {"responses": {"": PASS}}}
    path = with_models(
        folder, {"id": "mock", "provider": "mock", "options": {"responses": answers}},
        judges=[judge],
    )  # fmt: skip
    result = run(path)
    assert {c.variant for c in result.summary.cells} == {"prompts-1", "prompts-2"}
    assert set(verdicts(result).values()) == {True}, [
        (r.example_id, r.variant, {k: (v.passed, v.reason) for k, v in r.scores.items()})
        for r in result.records()
    ]
    pirate = result.summary.cells[0].metrics
    assert pirate["rubric"].n == 1 and pirate["pirateNoise"].n == 1 and pirate["equals"].n == 1


PASS = '{"reasoning": "r", "score": "pass"}'


def test_csv_tests_and_javascript_one_liners(tmp_path: Path) -> None:
    imported = import_promptfoo(PEERS / "simple-test" / "promptfooconfig-csv.yaml")
    assert [r["assert"] for r in imported.rows] == [
        [{"type": "icontains", "value": "ahoy"}],
        [{"type": "icontains", "value": "grog"}],
        [{"type": "is_json"}],
    ]
    assert imported.rows[0]["body"] == "Good evening" and imported.notes == []


# --- json-output: transforms and JavaScript stubs -------------------------------------------------


def test_json_output_translates_json_transforms_and_stubs_javascript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported = import_promptfoo(PEERS / "json-output" / "promptfooconfig.yaml")
    second = imported.rows[1]["assert"]
    assert second[2] == {
        "type": "contains_any",
        "values": ["Canada", "Chile", "Peru"],
        "transform": "json:$.countries",
    }
    assert [n.line for n in imported.notes] == [14, 35]  # the two javascript assertions
    folder = imported_into(tmp_path, PEERS / "json-output" / "promptfooconfig.yaml")
    monkeypatch.syspath_prepend(str(folder))
    answers = {
        "Lemon": '{"color": "yellow", "countries": ["Mexico", "India"]}',
        "Blueberry": '{"color": "blue", "countries": ["Canada", "USA"]}',
    }
    result = run(
        with_models(folder, {"id": "mock", "provider": "mock", "options": {"responses": answers}})
    )
    records = {r.example_id: r.scores for r in result.records()}
    assert records["test-1"]["is_json"].passed is True
    assert records["test-2"]["contains_any"].passed is True
    stub = records["test-2"]["javascript"]
    assert stub.value is None and "port this JavaScript assertion" in (stub.reason or "")
    # a stub that cannot run leaves the row unscored: never a silent pass
    assert records["test-1"]["assertions"].value is None


# --- what does not map -------------------------------------------------------------------------


UNMAPPED = """\
description: Odds and ends
prompts: ['{{ q }}']
providers: [anthropic:messages:claude-sonnet-4, openai:chat:gpt-4.1-mini]
defaultTest:
  vars: {tone: dry}
  assert:
    - type: latency
      threshold: 5000
tests:
  - vars: {q: hello}
    threshold: 0.5
    assert:
      - type: webhook
        value: http://localhost/check
      - type: contains
        value: hi
        weight: 2
      - type: contains
        value: hello
      - type: not-llm-rubric
        value: rude
      - type: equals
        value: x
        transform: output.split(',')[0]
  - vars: {q: [one, two]}
scenarios: []
"""


def test_everything_not_mapped_is_listed_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(UNMAPPED, encoding="utf-8")
    imported = import_promptfoo(config)
    found = {n.line: n.message for n in imported.notes}
    assert "'anthropic:messages:claude-sonnet-4' is not imported" in found[3]
    assert "'threshold' is not imported" in found[10]
    assert "webhook" in found[13] and "weight" in found[15]
    assert "not-llm-rubric" in found[20] and "transform" in found[22]
    assert "scenarios" in found[26]
    rows = imported.rows
    assert rows[0]["tone"] == "dry"  # defaultTest vars in every row
    assert [a["value"] for a in rows[0]["assert"]] == ["hi", "hello"]
    assert [a.get("name") for a in rows[0]["assert"]] == [None, "contains_2"]
    assert imported.suite["metrics"] == [{"type": "latency_ms", "max": 5000}]
    # a list var runs once per value, as promptfoo expands it
    assert [(r["id"], r["q"]) for r in rows[1:]] == [("test-2", "one"), ("test-3", "two")]
    assert "assert" not in rows[1]  # only the suite's latency check: a row without its own


# --- the parity set, through the importer and a run ---------------------------------------------


def parity_cases() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    cases = yaml.safe_load((PARITY / "promptfoo_cases.yaml").read_text("utf-8"))
    recorded = json.loads((PARITY / "promptfoo_verdicts.json").read_text("utf-8"))["verdicts"]

    # a list var would be expanded by a promptfoo eval (the recorded verdicts were taken without)
    def expands(case: dict[str, Any]) -> bool:
        return any(isinstance(v, list) for v in (case.get("vars") or {}).values())

    kept = [c for c in cases if not c.get("differs") and not expands(c)]
    return kept, recorded


def test_the_parity_set_imported_and_run_agrees_with_promptfoo(tmp_path: Path) -> None:
    cases, recorded = parity_cases()
    assert len(cases) >= 140
    config = {
        "description": "parity",
        "prompts": ["{{ pf_output }}"],
        "providers": ["echo"],  # the output is the prompt: each case's fixed output
        "tests": [
            {"description": c["id"], "vars": {**(c.get("vars") or {}), "pf_output": c["output"]},
             "assert": [c["assert"]]}
            for c in cases
        ],
    }  # fmt: skip
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    imported = import_promptfoo(path)
    folder = tmp_path / "out"
    write_imported(imported, folder)
    result = run(folder / "suite.yaml")
    by_id = {r.example_id: r for r in result.records()}
    assert len(by_id) == len(cases)
    wrong = []
    for case in cases:
        record = by_id[imported.rows[cases.index(case)]["id"]]
        assert record.output == case["output"]
        score = record.scores["assertions"]
        ours = "error" if score.passed is None else "pass" if score.passed else "fail"
        if ours != recorded[case["id"]]["verdict"]:
            wrong.append((case["id"], ours, recorded[case["id"]]["verdict"]))
    assert wrong == []


def test_a_config_that_is_not_a_mapping_is_one_error(tmp_path: Path) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("- just\n- a list\n")
    out = CliRunner().invoke(cli, ["import", "promptfoo", str(config), "-o", str(tmp_path / "o")])
    assert (
        out.exit_code == 2 and "is a YAML mapping" in out.output and "Traceback" not in out.output
    )
    assert textwrap.dedent(out.output).count("\n") <= 2
