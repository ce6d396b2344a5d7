"""Option groups shared by several commands, as decorators.

@click.command("gate")
@runs_dir_option()
@with_tracking_options
@with_report_options
def gate_cmd(...): ...
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

P = ParamSpec("P")
R = TypeVar("R")


def runs_dir_option(help_text: str = "Where runs are kept") -> Callable[[Callable[P, R]], Any]:
    """`--runs-dir`, shared by every command that reads or writes runs/."""
    return click.option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"{help_text} [default: runs, or $EVALKIT_RUNS_DIR].",
    )


report_options = [
    click.option(
        "--junit",
        "junit",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write JUnit XML: one test case per gate check.",
    ),
    click.option(
        "--junit-examples",
        is_flag=True,
        help="Also add one failing JUnit test case per failed example.",
    ),
    click.option(
        "--markdown",
        "markdown",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set).",
    ),
    click.option(
        "--html",
        "html",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the HTML report (one offline file; vs --baseline when given).",
    ),
    click.option(
        "--report",
        "report",
        multiple=True,
        metavar="NAME=PATH",
        help="Write a report with a registered reporter (repeatable), e.g. junit=out.xml.",
    ),
    click.option(
        "--baseline",
        metavar="NAME_OR_RUN_ID",
        help="Compare every regression gate with this baseline instead of the suite's.",
    ),
]


tracking_options = [
    click.option(
        "--tracking-uri",
        metavar="URI",
        help="MLflow server or store [default: $MLFLOW_TRACKING_URI, the suite's tracking.uri,"
        " else <runs-dir>/mlflow.db].",
    ),
    click.option("--no-tracking", is_flag=True, help="Do not use any tracker (MLflow)."),
]


def with_tracking_options(fn: Any) -> Any:
    """--tracking-uri and --no-tracking."""
    for option in reversed(tracking_options):
        fn = option(fn)
    return fn


def with_report_options(fn: Any) -> Any:
    """--junit, --junit-examples, --markdown, --html, --report and --baseline (`run`, `gate`)."""
    for option in reversed(report_options):
        fn = option(fn)
    return fn


def report_requests(options: dict[str, Any]) -> list[tuple[str, Path, dict[str, Any]]]:
    """The reports the options ask for, as (reporter name, path, reporter options)."""
    from evalkit.errors import SuiteError

    requests: list[tuple[str, Path, dict[str, Any]]] = []
    if options.get("junit") is not None:
        requests.append(("junit", options["junit"], {"examples": options.get("junit_examples")}))
    if options.get("markdown") is not None:
        requests.append(("markdown", options["markdown"], {}))
    if options.get("html") is not None:
        # the run's own --baseline; a first run, whose baseline is not set yet, still gets
        # its report (without the comparison), as its regression gates are skipped
        html_options = {"baseline": options.get("baseline"), "if_missing": "skip"}
        requests.append(("html", options["html"], html_options))
    for spec in options.get("report") or ():
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SuiteError(
                f"--report {spec!r}: expected NAME=PATH", hint="e.g. --report junit=out.xml"
            )
        requests.append((name.strip(), Path(path), {}))
    return requests


def check_reporters(requests: list[tuple[str, Path, dict[str, Any]]]) -> None:
    """Unknown reporter names fail before the run, not after it."""
    from evalkit.plugins.registry import registry

    for name, _, _ in requests:
        if not registry().has("reporter", name):
            raise registry().unknown("reporter", name)


shard_options = [
    click.option(
        "--shard",
        metavar="I/N",
        help="Run shard I of N (1-based): a fixed slice of the examples by id. Gates are decided"
        " on the merged run (evalkit merge); see docs/ci.md.",
    ),
    click.option(
        "--group",
        metavar="NAME",
        help="What this sharded evaluation's shards share [default: $EVALKIT_GROUP, else the CI"
        " run id, else the suite and data alone].",
    ),
]


def with_shard_options(fn: Any) -> Any:
    """--shard and --group (`run`)."""
    for option in reversed(shard_options):
        fn = option(fn)
    return fn


executor_options = [
    click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where in-process models (transformers, function, mock) run: here, or on a Ray"
        " actor pool (pip install 'evalkit[ray]'; docs/team.md).",
    ),
    click.option(
        "--ray-address",
        metavar="ADDRESS",
        help="The Ray cluster, e.g. auto or 10.0.0.5:6379 [default: $RAY_ADDRESS, else a new"
        " local instance].",
    ),
    click.option(
        "--ray-actors",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="Ray actors (model replicas) per model.",
    ),
]


def with_executor_options(fn: Any) -> Any:
    """--executor, --ray-address and --ray-actors (`run`)."""
    for option in reversed(executor_options):
        fn = option(fn)
    return fn
