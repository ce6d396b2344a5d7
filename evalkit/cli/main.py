"""`evalkit` entry point: a click group that imports each command's module only when it runs.

Lazy loading keeps `evalkit --help` fast: listing commands must not import pandas, numpy,
mlflow or torch.
"""

from __future__ import annotations

import importlib

import click

from evalkit import __version__

# name -> (module, attribute, one-line help shown by `evalkit --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "evalkit.cli.run",
        "run_cmd",
        "Run a suite: the matrix, scores and a comparison table.",
    ),
    "validate": ("evalkit.cli.validate", "validate_cmd", "Check a suite without calling a model."),
    "schema": ("evalkit.cli.schema", "schema_cmd", "Print the JSON Schema of the suite format."),
    "init": ("evalkit.cli.init", "init_cmd", "Scaffold a new suite."),
    "gate": (
        "evalkit.cli.gate",
        "gate_cmd",
        "Decide the gates of a finished run again (exit 0/1).",
    ),
    "baseline": ("evalkit.cli.baseline", "baseline_group", "Name a run as a regression baseline."),
    "ui": ("evalkit.cli.ui", "ui_cmd", "Browse and compare runs in the MLflow UI."),
    "runs": ("evalkit.cli.runs", "runs_group", "List recent runs with headline metrics."),
    "compare": ("evalkit.cli.compare", "compare_cmd", "Compare two runs example by example."),
    "log": ("evalkit.cli.log", "log_cmd", "Upload a run to MLflow (again, or later)."),
    "report": ("evalkit.cli.report", "report_cmd", "Write a run as one offline HTML report."),
    "merge": ("evalkit.cli.merge", "merge_cmd", "Join shard runs into one run; decide its gates."),
    "show": ("evalkit.cli.show", "show_cmd", "Print a run's examples: input, outputs, scores."),
    "export": ("evalkit.cli.export", "export_cmd", "Write runs as a CSV or Parquet table."),
    "import": ("evalkit.cli.import_cmd", "import_group", "Import promptfoo or OpenAI Evals evals."),
}


def register_command(name: str, module: str, attr: str, short_help: str) -> None:
    COMMANDS[name] = (module, attr, short_help)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attr, _ = entry
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evalkit")
def cli() -> None:
    """Evaluate prompts and models as YAML suites, and gate releases on the results.

    \b
    evalkit init my-suite            scaffold a suite
    evalkit validate suites/x.yaml   check it without calling a model
    evalkit run suites/x.yaml        run it and compare variants and models
    """


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
