"""The pytest plugin: evalkit_*.yaml suites become one test per gate; the evalkit_run fixture."""

from __future__ import annotations

import json
import subprocess
import sys

# pytester's in-process runs forget the modules an inner run imported first, and C extensions
# (numpy, scipy) cannot be imported twice in one process: import what a suite run needs here.
import scipy.optimize
import scipy.stats  # noqa: F401

import evalkit.api  # noqa: F401
from evalkit.providers.mock import MockProvider

pytest_plugins = ["pytester"]

DATA = "\n".join(
    json.dumps({"id": f"q{i}", "question": f"Q{i}?", "expected": f"a{i}"}) for i in range(4)
)
SUITE = """\
name: plugin-suite
dataset: data.jsonl
prompts:
  main: "{{ question }} {{ expected }}"
models:
  - id: mock
    provider: mock
    options: {responses: {"Q3?": "no idea"}}
metrics:
  - contains: "{{ expected }}"
gates:
  - metric: contains
    min: 0.7
  - metric: contains
    min: 0.9
  - regression: {baseline: main, metric: contains, if_missing: skip}
"""


def _pytest(pytester, *args: str):
    """An inner pytest run; pytest-asyncio is not needed there (and warns without its ini)."""
    return pytester.runpytest("-p", "no:asyncio", *args)


def _project(pytester) -> None:
    pytester.makefile(".jsonl", data=DATA)
    pytester.makefile(".yaml", evalkit_faq=SUITE)


def test_suite_file_is_collected_as_one_test_per_gate(pytester, tmp_path):
    _project(pytester)
    result = _pytest(pytester, "-v", "--evalkit-runs-dir", str(tmp_path / "plugin-runs"))
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*evalkit_faq.yaml::run complete PASSED*",
            "*evalkit_faq.yaml::contains mean >= 0.7 PASSED*",
            "*evalkit_faq.yaml::contains mean >= 0.9 FAILED*",
            "*evalkit_faq.yaml::contains vs baseline 'main' (max drop 0) SKIPPED*",
        ]
    )
    # the failure is the gate's reason, not a traceback into evalkit
    result.stdout.fnmatch_lines(["*contains mean 0.75 (95% CI*estimate 0.75 is not >= 0.9*"])
    assert "Traceback" not in result.stdout.str()
    assert len(list((tmp_path / "plugin-runs").glob("*/summary.json"))) == 1  # ran once


def test_collect_only_calls_no_model(pytester):
    _project(pytester)
    before = sum(MockProvider.CALLS.values())
    result = _pytest(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*evalkit_faq.yaml::contains mean >= 0.9*"])
    assert sum(MockProvider.CALLS.values()) == before


def test_invalid_suite_is_a_collection_error_with_its_line(pytester):
    pytester.makefile(".jsonl", data=DATA)
    pytester.makefile(".yaml", evalkit_bad=SUITE.replace("min: 0.7", "min: 0.7\n    typo: 1"))
    result = _pytest(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*evalkit_bad.yaml:12: unknown key ?typo?*"])
    assert "Traceback" not in result.stdout.str()


def test_evalkit_run_fixture(pytester):
    _project(pytester)
    pytester.makepyfile(
        test_faq="""
        def test_faq(evalkit_run):
            result = evalkit_run("evalkit_faq.yaml", limit=3)
            assert result.summary.verdict.passed
            assert result.exit_code == 0
        """
    )
    result = _pytest(pytester, "test_faq.py")
    result.assert_outcomes(passed=1)


def test_plugin_is_registered_and_imports_cheaply():
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "eps = entry_points(group='pytest11').select(name='evalkit')\n"
        "assert [e.value for e in eps] == ['evalkit.pytest_plugin'], eps\n"
        "import evalkit.pytest_plugin\n"
        "heavy = ['numpy', 'scipy', 'pydantic', 'mlflow', 'torch', 'pandas', 'evalkit.api']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
