"""`evalkit show RUN [EXAMPLE]`: a run's examples with input, expected, every output and score.

The text helpers here are shared with `evalkit compare` (its side-by-side examples). Every text
from the run is printed as plain text (rich markup in a model's output stays literal) and long
outputs are cut with a note; `--json` has them whole.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from evalkit.results.examples import Attempt, ExampleView
    from evalkit.results.schema import RunSummary

MAX_TEXT = 600  # characters of one output, input or reason in the terminal


@click.command("show")
@click.argument("run")
@click.argument("example", required=False)
@runs_dir_option()
@click.option("--failed", is_flag=True, help="Only examples with an error or a failed score.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Examples shown (0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the examples as JSON.")
@handle_errors
def show_cmd(
    run: str,
    example: str | None,
    runs_dir: Path | None,
    failed: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Print the examples of RUN (a run id or folder), or only EXAMPLE: the input, the expected
    value, and per variant x model each output with every score and its reason.

    \b
    evalkit show 20261127-101500-support-faq-1a2b
    evalkit show ci-42 q03
    evalkit show ci-42 --failed --limit 0 --json
    """
    from evalkit.report.html import find_run
    from evalkit.results.examples import example_views
    from evalkit.results.store import default_runs_dir, load_run

    stored = load_run(find_run(run, runs_dir or default_runs_dir()))
    views = example_views(stored.manifest, stored.records())
    if example is not None:
        views = [_one(views, example, stored.run_id)]
    if failed:
        views = [v for v in views if v.failed]
    shown = views if limit == 0 or example is not None else views[:limit]
    if as_json:
        doc = {
            "run_id": stored.run_id,
            "suite": stored.manifest.suite.name,
            "total": len(views),
            "examples": [v.to_json() for v in shown],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    out = console()
    kind = ("failed " if failed else "") + ("example" if len(views) == 1 else "examples")
    out.print(plain(f"run {stored.run_id} · {stored.manifest.suite.name} · {len(views)} {kind}"))
    if example is None:
        _print_slices(out, stored.summary)
    for view in shown:
        print_example(out, view)
    if len(shown) < len(views):
        out.print(f"\n… {len(views) - len(shown)} more (--limit 0 shows all, or name an EXAMPLE)")


def _print_slices(out: Console, summary: RunSummary) -> None:
    """The run's numbers per slice value (`group_by`), before its examples."""
    from evalkit.report.table import slice_tables

    for table in slice_tables(summary):
        out.print(table)


def _one(views: list[ExampleView], example_id: str, run_id: str) -> ExampleView:
    from evalkit.errors import SuiteError, did_you_mean

    for view in views:
        if view.example_id == example_id:
            return view
    ids = [v.example_id for v in views]
    hint = did_you_mean(example_id, ids) or f"its examples: {', '.join(ids[:8])}" + (
        " ..." if len(ids) > 8 else ""
    )
    raise SuiteError(f"no example '{example_id}' in run {run_id}", hint=hint)


def console() -> Console:
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)  # CI logs: room for it


def print_example(out: Console, view: ExampleView) -> None:
    from rich.table import Table

    out.print()
    out.print(plain(view.example_id, style="bold"))
    print_fields(out, view.input, view.expected)
    table = Table(show_lines=True)
    for name in ("variant x model", "output", "scores"):
        table.add_column(name, overflow="fold")
    for (variant, model), attempts in view.outputs.items():
        for attempt in attempts:
            label = f"{variant} x {model}" + (f" #{attempt.repeat}" if len(attempts) > 1 else "")
            table.add_row(plain(label), output_text(attempt), scores_text(attempt))
    out.print(table)


def print_fields(out: Console, inputs: dict[str, Any], expected: dict[str, Any]) -> None:
    from evalkit.results.examples import fields_text

    for label, values in (("input", inputs), ("expected", expected)):
        text = clip(fields_text(values)) if values else "–"
        out.print(plain(f"  {label:<9}", style="dim") + plain(text.replace("\n", "\n" + " " * 11)))


def output_text(attempt: Attempt | None) -> Text:
    if attempt is None:
        return plain("not run", style="dim")
    if attempt.error is not None:
        return plain(f"error: {clip(attempt.error)}", style="red")
    return plain(clip(attempt.output) if attempt.output is not None else "–")


def scores_text(attempt: Attempt | None) -> Text:
    from rich.text import Text

    from evalkit.results.examples import score_text

    text = Text()
    for name, score in (attempt.scores if attempt else {}).items():
        shown = score_text(score)
        style = "green" if score.passed else "red" if score.passed is False else ""
        if text:
            text.append("\n")
        text.append(f"{name} ")
        text.append(shown, style=style)
        if score.reason:
            text.append(f": {clip(score.reason, 300)}", style="dim")
    return text


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters; --json has all)"


def plain(text: str, style: str = "") -> Text:
    """Run text as a rich Text: "[bold]" in a model's output is shown, not interpreted."""
    from rich.text import Text

    return Text(text, style=style)
