"""Every number in a suite has bounds; templates are rendered for every row before a run.

Nonsense that used to validate and then exhaust memory or misbehave (issue 11):
`concurrency: 100000000`, `repeats: 1e12`, `repeats: true`, `max_tokens: -1`,
`temperature: -3`, `timeout: .inf`, NaN anywhere, a sandbox violation in a metric template.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.api import run, validate
from evalkit.cli.main import cli
from evalkit.engine.runner import Engine
from evalkit.errors import SuiteError
from evalkit.suite.schema import MetricConfig, ModelConfig

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
ROWS = [{"id": f"r{i}", "question": f"q{i}", "expected": "x", "n": i} for i in range(4)]


def suite(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        validate(path)
    return info.value


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("concurrency: 100000000", "less than or equal to 1024"),
        ("concurrency: true", "valid integer"),
        ("repeats: 1e12", "valid integer"),  # YAML 1.1 reads 1e12 as a string
        ("repeats: 1.0e+12", "valid integer"),  # a float, even a whole one, is not a count
        ("repeats: 5000", "less than or equal to 1000"),
        ("repeats: true", "valid integer"),
        ("error_budget: 2", "less than or equal to 1"),
        ("max_cost: -1", "greater than 0"),
        ("tracking: {traces: -1}", "greater than or equal to 0"),
        ("dataset: {path: data.jsonl, limit: 2.5}", "valid integer"),
        ("gates: [{metric: contains, min: 1.0e+400}]", "not a finite number"),
        ("gates: [{max_flaky: 1.5, metric: contains}]", "valid integer"),
    ],
)
def test_suite_numbers_are_bounded(tmp_path: Path, extra: str, needle: str) -> None:
    text = (
        BASE + extra + "\n"
        if not extra.startswith("dataset")
        else BASE.replace("dataset: data.jsonl", extra)
    )
    err = error_of(suite(tmp_path, text))
    assert needle in err.message
    assert err.line is not None


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("params: {max_tokens: -1}", "max_tokens must be between 1 and 1e+06, got -1"),
        ("params: {max_tokens: 1.5}", "max_tokens must be a whole number"),
        ("params: {temperature: -3}", "temperature must be between 0 and 2, got -3"),
        ("params: {temperature: hot}", "temperature must be a number"),
        ("params: {top_p: 1.5}", "top_p must be between 0 and 1"),
        ("params: {n: true}", "n must be a whole number"),
        ("timeout: .inf", "not a finite number"),
        ("timeout: 0", "greater than 0"),
        ("timeout: 1000000", "less than or equal to 86400"),
        ("concurrency: 5000", "less than or equal to 1024"),
        ("max_attempts: 1.0", "valid integer"),
        ("rpm: -5", "greater than 0"),
    ],
)
def test_model_numbers_are_bounded(tmp_path: Path, model: str, needle: str) -> None:
    err = error_of(suite(tmp_path, BASE + f"    {model}\n"))
    assert needle in err.message, err.message
    assert err.line in (6, 9)


def test_grader_numbers_are_bounded(tmp_path: Path) -> None:
    graders = "graders: [{type: rubric, rubric: fine, judge: m, samples: true}]\n"
    assert "valid integer" in error_of(suite(tmp_path, BASE + graders)).message
    graders = "graders: [{type: rubric, rubric: fine, judge: m, scale: [1, true]}]\n"
    assert "scale" in error_of(suite(tmp_path, BASE + graders)).message


def test_nan_built_in_python_is_refused_too() -> None:
    with pytest.raises(ValueError, match="NaN or infinite"):
        ModelConfig(id="m", provider="mock", params={"seed": 1, "x": [math.nan]})
    with pytest.raises(ValueError, match="NaN or infinite"):
        MetricConfig(type="equals", args={"value": math.inf})


def test_the_api_and_cli_bound_concurrency(tmp_path: Path) -> None:
    path = suite(tmp_path, BASE)
    with pytest.raises(SuiteError, match="concurrency must be a whole number from 1 to 1024"):
        run(path, concurrency=100_000_000)
    result = CliRunner().invoke(cli, ["run", str(path), "--concurrency", "100000000"])
    assert result.exit_code == 2 and "1024" in result.output


def test_the_engine_starts_no_more_workers_than_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    worker = Engine._worker

    async def counted(self: Engine, items: object) -> None:
        started.append(1)
        await worker(self, items)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "_worker", counted)
    result = run(suite(tmp_path, BASE + "concurrency: 1024\n"), tracking=False)
    assert result.summary.counts.done == 4
    assert len(started) == 4  # one per item, not 1024
    started.clear()
    run(suite(tmp_path, BASE + "concurrency: 3\n"), no_cache=True, tracking=False)
    assert len(started) == 3


def test_a_sandbox_violation_in_a_metric_template_fails_validate(tmp_path: Path) -> None:
    payload = "{{ ''.__class__.__mro__ }}"
    err = error_of(suite(tmp_path, BASE + f'metrics:\n  - contains: "{payload}"\n'))
    assert (err.line, err.message.startswith("metric 'contains': cannot render")) == (10, True)
    assert "SecurityError" in err.message
    err = error_of(suite(tmp_path, BASE.replace('"{{ question }}"', f'"{payload}"')))
    assert err.line == 4 and "prompt 'p'" in err.message and "SecurityError" in err.message


def test_a_value_that_breaks_a_template_fails_validate_at_its_row(tmp_path: Path) -> None:
    # every row has `n` and `question`: only rendering every row finds the type error
    err = error_of(suite(tmp_path, BASE.replace('"{{ question }}"', '"{{ question + n }}"')))
    assert "cannot render the template for row r0" in err.message
    assert err.line == 4


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**9 }}",
        "{{ [0] * 10**8 }}",
        "{{ 'x'|center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'ab'|indent(10**9) }}",
        "{{ [1]|slice(10**8)|list }}",
        "{{ 7 ** 20000000 }}",
        "{{ '%999999999s' % 'a' }}",
        "{{ '%999999999s'|format('a') }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ lipsum(10**6) }}",
    ],
)
def test_a_template_cannot_ask_for_a_billion_of_anything(tmp_path: Path, template: str) -> None:
    err = error_of(suite(tmp_path, BASE.replace('"{{ question }}"', f'"{template}"')))
    assert "the template asks for" in err.message and err.line == 4


def test_ordinary_templates_still_render(tmp_path: Path) -> None:
    template = "{{ 'ab' * 3 }} {{ 2**10 }} {{ '%5s'|format(question) }} {{ '%d'|format(12345678) }}"
    template += " {{ question|center(9) }} {{ '{:>4}'.format(n) }} {{ [1, 2, 3]|slice(2)|list }}"
    path = suite(tmp_path, BASE.replace('"{{ question }}"', f'"{template}"'))
    assert validate(path).summary_line().endswith("= 4 calls")
