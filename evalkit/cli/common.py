"""Shared pieces of the CLI commands: error handling at the edge and common arguments.

Domain errors (EvalkitError) become one message on stderr and their exit code; nothing else
in evalkit knows about click. `EVALKIT_DEBUG=1` re-raises them so the traceback is visible.

    @click.command("validate")
    @suite_argument
    @handle_errors
    def validate_cmd(suite: Path) -> None: ...
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from evalkit.errors import EvalkitError

P = ParamSpec("P")
R = TypeVar("R")


def debug_enabled() -> bool:
    return os.environ.get("EVALKIT_DEBUG", "").strip().lower() in ("1", "true", "yes")


def print_error(err: EvalkitError) -> None:
    click.echo(f"error: {err.format()}", err=True)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn an EvalkitError into 'error: file:line: message' + hint on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except EvalkitError as err:
            if debug_enabled():
                raise
            print_error(err)
            sys.exit(err.exit_code)

    return wrapper


suite_argument = click.argument(
    "suite",
    metavar="SUITE",
    # no exists=True: load_suite's own message says what to do about a missing file
    type=click.Path(dir_okay=True, path_type=Path),
)
