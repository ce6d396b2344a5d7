"""`evalkit import promptfoo|openai-evals SOURCE`: another tool's eval as an evalkit suite.

Writes the suite, its dataset and any generated files into a folder, lists with file:line what
could not be mapped, and validates what it wrote.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evalkit.cli.common import handle_errors

if TYPE_CHECKING:
    from evalkit.importers import Imported

out_option = click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write into [default: NAME-evalkit here, NAME from the source's path].",
)
force_option = click.option("--force", is_flag=True, help="Overwrite files that exist.")


@click.group("import")
def import_group() -> None:
    """Turn another tool's eval into an evalkit suite and dataset.

    \b
    evalkit import promptfoo promptfooconfig.yaml -o ported
    evalkit import openai-evals evals/registry/evals/test-basic.yaml -o ported
    """


@import_group.command("promptfoo")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@out_option
@force_option
@handle_errors
def promptfoo_cmd(config: Path, out_dir: Path | None, force: bool) -> None:
    """Import a promptfoo CONFIG: its tests become rows that carry their own assertions."""
    from evalkit.importers import slug
    from evalkit.importers.promptfoo import import_promptfoo

    imported = import_promptfoo(config)
    folder = out_dir or Path(f"{slug(config.resolve().parent.name, 'promptfoo')}-evalkit")
    _write([imported], folder, force)


@import_group.command("openai-evals")
@click.argument("registry", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The registry's data folder [default: REGISTRY/../../data].",
)
@click.option("--eval", "evals", multiple=True, help="Import only this eval (repeatable).")
@click.option(
    "--samples",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Samples (JSONL) for evals without samples_jsonl, whose samples are made in Python.",
)
@click.option(
    "--model",
    default="openai:gpt-4o-mini",
    show_default=True,
    help="The model to evaluate (OpenAI Evals takes it on the command line), provider:model.",
)
@out_option
@force_option
@handle_errors
def openai_evals_cmd(
    registry: Path,
    data_dir: Path | None,
    evals: tuple[str, ...],
    samples: Path | None,
    model: str,
    out_dir: Path | None,
    force: bool,
) -> None:
    """Import the evals of an OpenAI Evals REGISTRY file (evals/registry/evals/NAME.yaml)."""
    from evalkit.importers.openai_evals import import_openai_evals

    imported = import_openai_evals(
        registry, data_dir=data_dir, model=model, evals=list(evals) or None, samples=samples
    )
    _write(imported, out_dir or Path(f"{registry.stem}-evalkit"), force)


def _write(imported: list[Imported], folder: Path, force: bool) -> None:
    from evalkit.importers import write_imported

    for one in imported:
        paths = write_imported(one, folder, force=force)
        rows = f" ({len(one.rows)} rows)" if one.dataset else ""
        click.echo(f"wrote {folder / (one.name + '.yaml')}{rows}: {len(paths)} files")
        _report(one, folder)
    first = folder / f"{imported[0].name}.yaml"
    click.echo(f"next: evalkit run {first}")


def _report(imported: Imported, folder: Path) -> None:
    from evalkit.importers import check_written

    if imported.notes:
        click.echo(f"  notes: {len(imported.notes)} (not imported, or imported with a caveat)")
        for note in imported.notes:
            click.echo(f"    {note}")
    if imported.stubs:
        click.echo(
            f"  custom-metric stubs made from code assertions: {len(imported.stubs)}, in"
            f" {folder / imported.stub_module}: review them; they are user code, run only with"
            f" --allow-code (found beside the suite, no PYTHONPATH needed)"
        )
    problem = _validate(folder / f"{imported.name}.yaml", folder, check_written)
    click.echo(f"  validate: {problem}" if problem else "  validate: OK")


def _validate(path: Path, folder: Path, check: Callable[[Path], str | None]) -> str | None:
    # the generated stub module must be importable to bind its metrics; it only defines functions
    sys.path.insert(0, str(folder.resolve()))
    try:
        return check(path)
    finally:
        sys.path.remove(str(folder.resolve()))
