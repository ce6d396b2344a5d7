"""`evalkit compare RUN_A RUN_B`: both values, the difference, and the examples that changed,
side by side (input, expected, A's and B's outputs with every score and reason)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from evalkit.cli.common import handle_errors
from evalkit.cli.options import runs_dir_option


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@runs_dir_option("Where runs are")
@click.option(
    "--examples",
    "max_examples",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Changed examples listed per metric and shown side by side per variant x model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@handle_errors
def compare_cmd(
    run_a: str, run_b: str, runs_dir: Path | None, max_examples: int, as_json: bool
) -> None:
    """Compare RUN_A (reference) with RUN_B (candidate), example by example.

    For every variant x model and metric: both values, the difference B - A, a paired p-value
    (McNemar for pass/fail, Wilcoxon for scores) and the examples whose score changed; then
    those examples side by side: input, expected, A's and B's outputs, each score and reason.

    \b
    evalkit compare 20261127-101500-faq-1a2b 20261128-090000-faq-3c4d
    evalkit compare RUN_A RUN_B --examples 0      # the table only
    """
    from evalkit.results.compare import compare_runs
    from evalkit.results.store import default_runs_dir

    comparison = compare_runs(runs_dir or default_runs_dir(), run_a, run_b)
    if as_json:
        click.echo(json.dumps(comparison.to_json(max_examples), indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    out = Console() if sys.stdout.isatty() else Console(width=160)
    print_comparison(out, comparison, max_examples)


def print_comparison(out: Any, comparison: Any, max_examples: int) -> None:
    from rich.table import Table

    out.print(f"A = {comparison.run_a}\nB = {comparison.run_b}")
    for note in comparison.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
    title = "A and B: each run's own value; B - A: paired, over the examples both scored"
    table = Table(title=title, title_justify="left")
    numeric = ("A", "B", "A paired", "B paired", "B - A", "p")
    for name in ("variant", "model", "metric", *numeric, "pairs", "changed"):
        table.add_column(name, justify="right" if name in numeric else "left")
    for diff in comparison.diffs:
        table.add_row(
            diff.variant,
            diff.model,
            diff.metric,
            _fmt(diff.a_mean),
            _fmt(diff.b_mean),
            _fmt(diff.a_paired),
            _fmt(diff.b_paired),
            _delta(diff.diff),
            "-" if diff.p_value is None else f"{diff.p_value:.3g}",
            str(diff.n_pairs),
            _changed_summary(diff),
        )
    out.print(table)
    for a_only, label in ((comparison.cells_only_a, "A"), (comparison.cells_only_b, "B")):
        for variant, model in a_only:
            out.print(f"only in run {label}: {variant} x {model}")
    for diff in comparison.diffs:
        _print_examples(out, diff, max_examples)
    print_side_by_side(out, comparison, max_examples)


def print_side_by_side(out: Any, comparison: Any, max_examples: int) -> None:
    """Each changed example (up to `max_examples` per variant x model): A and B in columns."""
    from rich.table import Table

    from evalkit.cli.show import output_text, plain, print_fields, scores_text

    shown = comparison.shown_examples(max_examples)
    kinds = {(d.variant, d.model, d.metric): d.kind for d in comparison.diffs}
    cell: tuple[str, str] | None = None
    for pair in shown:
        if (pair.variant, pair.model) != cell:
            cell = (pair.variant, pair.model)
            title = f"\n{pair.variant} x {pair.model} · changed examples, side by side"
            out.print(plain(title, style="bold"))
        moved = ", ".join(
            f"{m}: {_value(a, kinds.get((*cell, m), 'mean'))}"
            f" -> {_value(b, kinds.get((*cell, m), 'mean'))}"
            for m, (a, b) in pair.changes.items()
        )
        out.print(plain(f"\n{pair.example_id}", style="bold") + plain(f"  {moved}"))
        print_fields(out, pair.input, pair.expected)
        if pair.input_a is not None:
            print_fields(out, pair.input_a, {})
            out.print(plain("  (run A's dataset row differed: above, its input)", style="yellow"))
        table = Table(show_lines=True)
        table.add_column("")
        table.add_column(f"A {comparison.run_a}", overflow="fold", ratio=1)
        table.add_column(f"B {comparison.run_b}", overflow="fold", ratio=1)
        for i in range(max(len(pair.a), len(pair.b))):
            a = pair.a[i] if i < len(pair.a) else None
            b = pair.b[i] if i < len(pair.b) else None
            label = "output" if max(len(pair.a), len(pair.b)) == 1 else f"repeat {i}"
            table.add_row(label, output_text(a), output_text(b))
            table.add_row("scores", scores_text(a), scores_text(b))
        out.print(table)
    left = len(comparison.examples) - len(shown)
    if left:
        out.print(f"\n… {left} more changed examples (--examples N, or --json)")


def _print_examples(out: Any, diff: Any, max_examples: int) -> None:
    if not (diff.changed or diff.only_a or diff.only_b) or max_examples == 0:
        return
    out.print(f"\n[bold]{diff.variant} x {diff.model} · {diff.metric}[/bold]")
    for change in diff.changed[:max_examples]:
        out.print(
            f"  {change.example_id}: {_value(change.a, diff.kind)} -> {_value(change.b, diff.kind)}"
        )
    if len(diff.changed) > max_examples:
        out.print(f"  ... and {len(diff.changed) - max_examples} more (--examples N)")
    for ids, label in ((diff.only_a, "A"), (diff.only_b, "B")):
        if ids:
            shown = ", ".join(ids[:max_examples]) + (" ..." if len(ids) > max_examples else "")
            out.print(f"  scored only in run {label} ({len(ids)}): {shown}")


def _changed_summary(diff: Any) -> str:
    up = sum(1 for c in diff.changed if c.delta > 0)
    down = len(diff.changed) - up
    text = f"{up} up, {down} down" if diff.changed else "none"
    if diff.only_a or diff.only_b:
        text += f" ({len(diff.only_a)} unpaired in A, {len(diff.only_b)} unpaired in B)"
    return text


def _value(value: float, kind: str) -> str:
    if kind == "pass_rate" and value in (0.0, 1.0):
        return "pass" if value == 1.0 else "fail"
    return f"{value:.3g}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(value: float | None) -> str:
    if value is None:
        return "-"
    color = "green" if value > 0 else "red" if value < 0 else "dim"
    return f"[{color}]{value:+.3f}[/{color}]"
