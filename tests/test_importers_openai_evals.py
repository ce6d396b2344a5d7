"""`evalkit import openai-evals`: registry files in OpenAI Evals' format become suites whose
prompt is each sample's own chat (`from_row: input`, names kept), scored like the eval class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import evalkit
from evalkit.cli.main import cli
from evalkit.errors import SuiteError
from evalkit.importers import write_imported
from evalkit.importers.openai_evals import import_openai_evals

PEERS = Path(__file__).parent / "peer_configs" / "openai_evals"
REGISTRY = PEERS / "registry"
TEST_MATCH_SAMPLES = PEERS / "test_match_samples.jsonl"


def imported_suites(tmp_path: Path, registry: str, **options: Any) -> dict[str, Path]:
    out = tmp_path / "out"
    found = import_openai_evals(REGISTRY / "evals" / registry, **options)
    for one in found:
        write_imported(one, out, force=True)
    return {one.name: out / f"{one.name}.yaml" for one in found}


def with_models(path: Path, answers: dict[str, str], **extra: Any) -> Path:
    suite = yaml.safe_load(path.read_text(encoding="utf-8"))
    suite["models"] = [{"id": "mock", "provider": "mock", "options": {"responses": answers}}]
    suite.update(extra)
    path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run(path: Path) -> evalkit.RunResult:
    return evalkit.run(path, runs_dir=path.parent / "runs", tracking=False)


def scores(result: evalkit.RunResult, name: str) -> list[float | None]:
    records = sorted(result.records(), key=lambda r: json.dumps(r.inputs, sort_keys=True))
    return [r.scores[name].value for r in records]


def test_test_basic_maps_each_class(tmp_path: Path) -> None:
    found = {
        i.name: i for i in import_openai_evals(REGISTRY / "evals" / "test-basic.yaml",
                                               samples=TEST_MATCH_SAMPLES)
    }  # fmt: skip
    assert list(found) == [
        "test-match",
        "test-fuzzy-match",
        "test-includes",
        "test-includes-ignore-case",
    ]
    match = found["test-match"].suite
    assert match["prompts"] == {"sample": {"from_row": "input"}}
    assert match["metrics"] == [
        {"type": "starts_with", "name": "accuracy", "value": "{{ ideal }}", "strip": False}
    ]
    assert match["models"] == [
        {"id": "gpt-4o-mini", "provider": "openai", "model": "gpt-4o-mini",
         "params": {"temperature": 0.0, "max_tokens": 500}}
    ]  # fmt: skip
    assert [m["type"] for m in found["test-fuzzy-match"].suite["metrics"]] == [
        "fuzzy_match",
        "token_f1",
    ]
    assert found["test-includes-ignore-case"].suite["metrics"][0]["ignore_case"] is True
    assert "ignore_case" not in found["test-includes"].suite["metrics"][0]
    assert all(not i.notes for i in found.values())


def test_test_match_without_samples_says_how_to_give_them(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        import_openai_evals(REGISTRY / "evals" / "test-basic.yaml", evals=["test-match"])
    err = info.value
    assert "made in Python" in err.message and err.line == 7 and "--samples" in (err.hint or "")


FUZZY_ANSWERS = {
    "Frankenstein": "mary shelley.",
    "Berlin Wall": "It fell in 1989",
    "gold": "Ag",
    "deepest": "Pacific",
}


def test_fuzzy_match_and_includes_score_like_openai_evals(tmp_path: Path) -> None:
    suites = imported_suites(tmp_path, "test-basic.yaml", samples=TEST_MATCH_SAMPLES)
    # samples sorted by their ideal: 1989 (Berlin), Au (gold), Mary Shelley, The Pacific Ocean
    fuzzy = run(with_models(suites["test-fuzzy-match"], FUZZY_ANSWERS))
    # normalize() then either contains the other: "pacific" is in "pacific ocean"
    assert scores(fuzzy, "accuracy") == [1.0, 0.0, 1.0, 1.0]
    # f1 against the best reference: "in 1989" gives 2/4 precision, full recall
    assert scores(fuzzy, "f1_score") == pytest.approx([2 / 3, 0.0, 1.0, 2 / 3])
    includes = run(with_models(suites["test-includes"], FUZZY_ANSWERS))
    assert scores(includes, "accuracy") == [1.0, 0.0, 0.0, 0.0]  # case and the article matter
    ignoring = run(with_models(suites["test-includes-ignore-case"], FUZZY_ANSWERS))
    assert scores(ignoring, "accuracy") == [1.0, 0.0, 1.0, 0.0]
    assert fuzzy.summary.cells[0].metrics["accuracy"].mean == 0.75


def test_the_few_shot_names_reach_the_model(tmp_path: Path) -> None:
    suites = imported_suites(tmp_path, "test-basic.yaml", samples=TEST_MATCH_SAMPLES)
    result = run(with_models(suites["test-fuzzy-match"], FUZZY_ANSWERS))
    messages = result.records()[0].messages or []
    assert [m.get("name") for m in messages] == [
        None, "example_user", "example_assistant", "example_user", "example_assistant", None,
    ]  # fmt: skip
    assert messages[-1]["role"] == "user"


def test_match_checks_the_start_without_stripping(tmp_path: Path) -> None:
    suites = imported_suites(tmp_path, "test-basic.yaml", samples=TEST_MATCH_SAMPLES)
    answers = {"late than": "never.", "early bird": " worm", "boils": "C, of course"}
    result = run(with_models(suites["test-match"], answers))
    # sorted: Better late (never.), The early bird (" worm"), Water boils (C)
    assert scores(result, "accuracy") == [1.0, 0.0, 1.0]
    regex = imported_suites(tmp_path, "regex-match.yaml")["regex-match"]
    answers = {"digits": "[0-9]+", "lowercase word": "[a-z]+", "empty line": "^\\s*$"}
    assert run(with_models(regex, answers)).summary.cells[0].metrics["accuracy"].mean == (
        pytest.approx(2 / 3)
    )


def test_logic_fact_is_judged_with_the_samples_question_and_ideal(tmp_path: Path) -> None:
    (suite_path,) = imported_suites(tmp_path, "logic.yaml").values()
    suite = yaml.safe_load(suite_path.read_text())
    (grader,) = suite["graders"]
    assert grader["type"] == "factuality" and grader["judge"] == "gpt-4o-mini"
    assert grader["reference"] == "{{ ideal }}" and "input" in grader
    verdict = '{{"reasoning": "r", "score": "{}"}}'
    judge = {
        "id": "judge",
        "provider": "mock",
        "options": {
            "responses": {
                # the judge sees the puzzle (a system message) and the ideal answer
                "Tom is older than Ann": verdict.format("consistent"),
                "The farmer has 4 sheep.": verdict.format("contradicts"),
                "all bloops are lazzies": verdict.format("subset"),
            }
        },
    }
    grader["judge"] = "judge"
    answers = {"": "An answer"}
    path = with_models(suite_path, answers, judges=[judge], graders=[grader])
    result = run(path)
    by_input = {json.dumps(r.inputs)[:60]: r.scores["fact"] for r in result.records()}
    values = sorted((s.value, s.passed) for s in by_input.values())
    assert values == [(0.0, False), (0.4, True), (1.0, True)]


def test_the_cli_imports_every_eval_of_a_file(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        cli,
        ["import", "openai-evals", str(REGISTRY / "evals" / "test-basic.yaml"),
         "--samples", str(TEST_MATCH_SAMPLES), "-o", str(tmp_path / "o")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.output.count("validate: OK") == 4
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        f"{name}.{ext}"
        for name in ("test-match", "test-fuzzy-match", "test-includes", "test-includes-ignore-case")
        for ext in ("yaml", "jsonl")
    )


def test_a_git_lfs_pointer_is_refused_with_the_fix(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    (registry / "evals").mkdir(parents=True)
    (registry / "data" / "x").mkdir(parents=True)
    (registry / "data" / "x" / "samples.jsonl").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 130\n"
    )
    (registry / "evals" / "x.yaml").write_text(
        "x:\n  id: x.dev.v0\nx.dev.v0:\n  class: evals.elsuite.basic.match:Match\n"
        "  args:\n    samples_jsonl: x/samples.jsonl\n"
    )
    out = CliRunner().invoke(cli, ["import", "openai-evals", str(registry / "evals" / "x.yaml")])
    assert out.exit_code == 2 and "Git LFS pointer" in out.output and "git lfs pull" in out.output


def test_what_does_not_map_is_listed(tmp_path: Path) -> None:
    registry = tmp_path / "evals" / "odd.yaml"
    registry.parent.mkdir()
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"input": "Tell a joke", "ideal": "x"}) + "\n")
    registry.write_text(
        "joke:\n  id: joke.dev.v0\njoke.dev.v0:\n"
        "  class: evals.elsuite.modelgraded.classify:ModelBasedClassify\n"
        "  args:\n    samples_jsonl: samples.jsonl\n    modelgraded_spec: humor\n"
        "    multicomp_n: 4\n"
        "custom:\n  id: custom.dev.v0\ncustom.dev.v0:\n  class: my_evals.thing:Thing\n"
        "  args:\n    samples_jsonl: samples.jsonl\n    depth: 3\n"
    )
    found = {i.name: i for i in import_openai_evals(registry, data_dir=tmp_path)}
    joke = {n.line: n.message for n in found["joke"].notes}
    assert "args.multicomp_n" in joke[8] and "'humor' has no built-in" in joke[7]
    custom = {n.line: n.message for n in found["custom"].notes}
    assert "my_evals.thing:Thing has no evalkit equivalent" in custom[12]
    assert "args.depth" in custom[15]
    assert "metrics" not in found["custom"].suite
