"""`evalkit export RUN... -o PATH`: runs as one CSV or Parquet table for a BI tool."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option


@click.command("export")
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    help="File format [default: parquet for a .parquet/.pq file name, else csv].",
)
@click.option(
    "--wide", is_flag=True, help="One row per item, a column per score (default: one per metric)."
)
@runs_dir_option()
@handle_errors
def export_cmd(
    runs: tuple[str, ...], output: Path, fmt: str | None, wide: bool, runs_dir: Path | None
) -> None:
    """Write RUN... (run ids or run folders) as one table: CSV or Parquet.

    Long (default): one row per example x variant x model x repeat x metric, with the run id,
    suite, suite hash, prompt version, timestamps and tags, and the score's value, passed and
    reason; a failed call keeps its rows (status "error"). --wide: one row per item.

    \b
    evalkit export ci-41 ci-42 -o evalkit.parquet
    evalkit export ci-42 --wide -o items.csv
    """
    from evalkit.report.html import find_run
    from evalkit.results.export import export_frame, infer_format, write_export
    from evalkit.results.redaction import Redactor
    from evalkit.results.store import default_runs_dir, load_run

    folder = runs_dir or default_runs_dir()
    stored = [load_run(find_run(ref, folder)) for ref in dict.fromkeys(runs)]
    frame = export_frame(stored, wide=wide, redactor=Redactor.from_env())
    path = write_export(frame, output, infer_format(output, fmt))
    shape = "one row per item" if wide else "one row per item x metric"
    click.echo(
        f"export: {path} ({len(frame)} rows, {shape}; {len(stored)} run"
        f"{'s' if len(stored) != 1 else ''})"
    )
