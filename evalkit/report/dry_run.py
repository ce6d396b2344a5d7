"""The table `evalkit run --dry-run` prints: per model, calls, estimated tokens and cost."""

from __future__ import annotations

from rich.table import Table

from evalkit.engine.dry_run import Estimate


def estimate_table(estimate: Estimate) -> Table:
    """One row per model or judge, then the total."""
    table = Table(title=f"{estimate.suite} · dry run (nothing was called)", header_style="bold")
    for header in ("model", "role", "provider/model", "calls", "cached"):
        table.add_column(header, justify="right" if header in ("calls", "cached") else "left")
    table.add_column("est. tokens in", justify="right")
    table.add_column("est. tokens out", justify="right")
    table.add_column("est. cost", justify="right")
    for row in estimate.rows:
        table.add_row(
            row.model_id,
            row.role,
            f"{row.provider}/{row.model}" if row.model else row.provider,
            f"{row.calls:,}",
            f"{row.cached:,}" if row.cached else "–",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            row.cost_label,
        )
    total = f"${estimate.cost:,.4f}" + (" + unpriced" if estimate.unpriced else "")
    if estimate.free:
        total = "free"
    table.add_section()
    table.add_row("total", "", "", f"{estimate.calls:,}", "", "", "", total)
    return table


def estimate_notes(estimate: Estimate) -> list[str]:
    """What the numbers mean, and whether the run fits its budget."""
    lines = [
        f"{estimate.items:,} items to run; output tokens are each call's max_tokens (an upper"
        " bound); retries and only_if skips are not counted",
    ]
    for row in estimate.rows:
        lines.extend(f"{row.model_id}: {note}" for note in row.notes)
    if estimate.unpriced:
        lines.append(
            f"no price for {', '.join(estimate.unpriced)}: add it under `prices:` in the suite,"
            " e.g. prices: {my-model: {input: 0.15, output: 0.6}} (USD per 1M tokens)"
        )
    if estimate.max_cost is not None:
        verdict = "fits within" if estimate.cost <= estimate.max_cost else "exceeds"
        lines.append(
            f"max_cost ${estimate.max_cost:g}: the estimate (${estimate.cost:,.4f}) {verdict} it"
            + ("; the run stops starting items once it is spent" if verdict == "exceeds" else "")
        )
    return lines
