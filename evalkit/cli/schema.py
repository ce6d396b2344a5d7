"""`evalkit schema [-o FILE]`: the JSON Schema of the suite format, for editors and CI checks."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evalkit.cli.common import handle_errors
from evalkit.errors import SuiteError


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to FILE instead of stdout.",
)
@handle_errors
def schema_cmd(output: Path | None) -> None:
    """Print the JSON Schema of a suite file.

    \b
    evalkit schema -o evalkit.schema.json
    then start a suite with:  # yaml-language-server: $schema=./evalkit.schema.json
    """
    from evalkit.suite.jsonschema import suite_json_schema

    text = json.dumps(suite_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot write {output}: {exc.strerror}", file=str(output)) from None
    click.echo(f"wrote {output}", err=True)
