"""pytest plugin: run evalkit suites inside a team's existing pytest run, one test per gate.

Two ways in (the plugin is registered through the `pytest11` entry point when evalkit is
installed; `-p evalkit.pytest_plugin` loads it explicitly):

1. Suite files named `evalkit_*.yaml` (or `.yml`) under the test paths are collected. Each
   becomes one "run complete" test plus one test per gate; the suite runs once, on the first
   of its tests, and the gate tests pass, fail or skip as the verdict says:

       tests/evalkit_support_faq.yaml  ->  tests/evalkit_support_faq.yaml::run complete
                                           tests/evalkit_support_faq.yaml::contains mean >= 0.8

2. The `evalkit_run` fixture runs a suite from a test and returns evalkit.api.RunResult:

       def test_faq(evalkit_run):
           result = evalkit_run("suites/support_faq.yaml", limit=20)
           assert result.passed, result.summary.verdict

Options: --evalkit-runs-dir DIR (default: runs, or $EVALKIT_RUNS_DIR) and --evalkit-baseline
NAME (compare every regression gate with it). The ini option `evalkit_suites` changes the file
patterns. Only pytest and the standard library are imported until a suite actually runs, so the
plugin costs nothing in test runs that do not use it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DEFAULT_PATTERNS = ["evalkit_*.yaml", "evalkit_*.yml"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalkit", "evalkit suites")
    group.addoption("--evalkit-runs-dir", default=None, help="where evalkit writes runs")
    group.addoption(
        "--evalkit-baseline", default=None, help="baseline for every evalkit regression gate"
    )
    parser.addini(
        "evalkit_suites",
        "file name patterns of evalkit suites to collect as tests",
        type="args",
        default=DEFAULT_PATTERNS,
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = parent.config.getini("evalkit_suites") or DEFAULT_PATTERNS
    if any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        suite_file: SuiteFile = SuiteFile.from_parent(parent, path=file_path)
        return suite_file
    return None


def _run_options(config: pytest.Config, **overrides: Any) -> Any:
    from evalkit.api import RunOptions

    options = RunOptions(**overrides)
    runs_dir = config.getoption("--evalkit-runs-dir")
    if runs_dir and "runs_dir" not in overrides:
        options.runs_dir = Path(runs_dir)
    if options.baseline is None:
        options.baseline = config.getoption("--evalkit-baseline")
    return options


class SuiteFile(pytest.File):
    """An evalkit suite file: runs the suite once and hands its verdict to the gate tests."""

    _result: Any = None
    _error: BaseException | None = None

    def collect(self) -> Iterator[pytest.Item]:
        from evalkit.gates.evaluate import default_name
        from evalkit.suite.loader import load_suite

        suite = load_suite(self.path).suite  # a bad suite is a collection error, with file:line
        yield RunItem.from_parent(self, name="run complete")
        seen: set[str] = set()
        for index, gate in enumerate(suite.gates):
            name = default_name(gate)
            if name in seen:  # test ids must be unique
                name = f"{name} #{index}"
            seen.add(name)
            yield GateItem.from_parent(self, name=name, index=index)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        """A bad suite reads as evalkit's one-line message with file:line, not a traceback."""
        from evalkit.errors import EvalkitError

        if isinstance(excinfo.value, EvalkitError):
            return excinfo.value.format()
        return super().repr_failure(excinfo)

    def result(self) -> Any:
        """The RunResult, running the suite on first use (a failure is re-raised to every test)."""
        if self._result is None and self._error is None:
            from evalkit.api import run_suite

            try:
                self._result = run_suite(self.path, _run_options(self.config))
            except Exception as exc:  # every test of this file reports it
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._result


class EvalkitFailure(Exception):
    """A failed gate or run: reported as its message, without a traceback."""


class _SuiteItem(pytest.Item):
    @property
    def suite_file(self) -> SuiteFile:
        assert isinstance(self.parent, SuiteFile)
        return self.parent

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from evalkit.errors import EvalkitError

        if isinstance(excinfo.value, EvalkitFailure):
            return str(excinfo.value)
        if isinstance(excinfo.value, EvalkitError):
            return excinfo.value.format()
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"evalkit: {self.name}"


class RunItem(_SuiteItem):
    def runtest(self) -> None:
        summary = self.suite_file.result().summary
        if summary.status != "complete":
            reason = summary.stopped_reason or "not every item finished"
            raise EvalkitFailure(f"run {summary.run_id} is {summary.status}: {reason}")


class GateItem(_SuiteItem):
    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        verdict = self.suite_file.result().summary.verdict
        results = [g for g in (verdict.gates if verdict else []) if g.index == self.index]
        failed = [g for g in results if not g.passed]
        if failed:
            raise EvalkitFailure("\n".join(f"{g.name}: {g.message}" for g in failed))
        if results and all(g.status == "skip" for g in results):
            pytest.skip(results[0].message)


@pytest.fixture
def evalkit_run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Run a suite: evalkit_run(path, **RunOptions fields) -> evalkit.RunResult."""

    def run(suite: str | Path, **options: Any) -> Any:
        from evalkit.api import run_suite

        return run_suite(suite, _run_options(request.config, **options))

    return run
