"""`evalkit runs list`: recent local runs with their headline metrics and gate verdicts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option


@click.group("runs")
def runs_group() -> None:
    """Browse the local run history (runs/ or $EVALKIT_RUNS_DIR)."""


@runs_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--suite", help="Only runs of this suite.")
@runs_dir_option("Where runs are")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handle_errors
def list_cmd(limit: int, suite: str | None, runs_dir: Path | None, as_json: bool) -> None:
    """List recent runs, newest first: status, items, each metric's best cell, verdict.

    \b
    evalkit runs list
    evalkit runs list --suite support-faq --limit 5
    """
    from evalkit.results.history import recent_runs
    from evalkit.results.store import default_runs_dir

    folder = runs_dir or default_runs_dir()
    infos = recent_runs(folder, limit=limit, suite=suite)
    if as_json:
        click.echo(json.dumps([i.to_json() for i in infos], indent=2))
        return
    if not infos:
        click.echo(f"no runs in {folder}/ yet: evalkit run suites/<name>.yaml")
        return
    from rich.console import Console

    out = Console() if sys.stdout.isatty() else Console(width=160)
    out.print(_table(infos))


def _table(infos: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title="recent runs (headline: each metric's best variant x model)")
    for name in ("run id", "suite", "date (UTC)", "status", "items", "headline metrics", "verdict"):
        table.add_column(name, overflow="fold")
    for info in infos:
        table.add_row(
            info.run_id,
            info.suite,
            info.created_at.replace("T", " ").removesuffix("Z"),
            _status(info.status),
            _items(info),
            "\n".join(f"{m} {v:.3f} ({cell})" for m, (v, cell) in info.headline.items()) or "-",
            {None: "-", True: "[green]passed[/green]", False: "[red]failed[/red]"}[info.verdict],
        )
    return table


def _status(status: str) -> str:
    color = {"complete": "green", "interrupted": "yellow"}.get(status, "red")
    return f"[{color}]{status}[/{color}]"


def _items(info: Any) -> str:
    if info.done is None:
        return "-"
    text = f"{info.done}/{info.total}"
    return text + (f", {info.errors} errors" if info.errors else "")
