"""The table `evalkit run --dry-run` prints: per model, calls, estimated tokens and cost."""

from __future__ import annotations

from rich.table import Table

from evalkit.api.forecast import Forecast


def forecast_table(forecast: Forecast) -> Table:
    """One row per model or judge, then the total."""
    table = Table(title=f"{forecast.suite} · dry run (nothing was called)", header_style="bold")
    for header in ("model", "role", "provider/model", "calls", "cached"):
        table.add_column(header, justify="right" if header in ("calls", "cached") else "left")
    table.add_column("est. tokens in", justify="right")
    table.add_column("est. tokens out", justify="right")
    table.add_column("est. cost", justify="right")
    for row in forecast.rows:
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
    total = f"${forecast.cost:,.4f}" + (" + unpriced" if forecast.unpriced else "")
    if forecast.free:
        total = "free"
    table.add_section()
    table.add_row("total", "", "", f"{forecast.calls:,}", "", "", "", total)
    return table


def forecast_notes(forecast: Forecast) -> list[str]:
    """What the numbers mean, and whether the run fits its budget."""
    lines = [
        f"{forecast.items:,} items to run; output tokens are each call's max_tokens (an upper"
        " bound); retries and only_if skips are not counted",
    ]
    for row in forecast.rows:
        lines.extend(f"{row.model_id}: {note}" for note in row.notes)
    if forecast.unpriced:
        lines.append(
            f"no price for {', '.join(forecast.unpriced)}: add it under `prices:` in the suite,"
            " e.g. prices: {my-model: {input: 0.15, output: 0.6}} (USD per 1M tokens)"
        )
    if forecast.max_cost is not None:
        verdict = "fits within" if forecast.cost <= forecast.max_cost else "exceeds"
        lines.append(
            f"max_cost ${forecast.max_cost:g}: the estimate (${forecast.cost:,.4f}) {verdict} it"
            + ("; the run stops starting items once it is spent" if verdict == "exceeds" else "")
        )
    return lines
