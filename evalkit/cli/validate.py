"""`evalkit validate SUITE`: check everything a run would check, without calling a model."""

from __future__ import annotations

from pathlib import Path

import click

from evalkit.cli.common import handle_errors, suite_argument


@click.command("validate")
@suite_argument
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@handle_errors
def validate_cmd(suite: Path, quiet: bool) -> None:
    """Check SUITE without calling a model: YAML, dataset, prompts, variables, providers, metrics.

    Exits 0 when the suite is valid, 2 with file:line and a hint when it is not.
    """
    from evalkit.api import validate

    plan = validate(suite)
    click.echo(f"OK {plan.summary_line()}")
    if quiet:
        return
    s = plan.suite
    click.echo(f"  dataset   {plan.dataset_info().name} ({len(plan.examples)} rows)")
    click.echo(f"  prompts   {', '.join(plan.variant_names)}")
    models = [f"{m.id} ({m.provider}{':' + m.model if m.model else ''})" for m in s.models]
    click.echo(f"  models    {', '.join(models)}")
    click.echo(f"  metrics   {', '.join(m.display_name for m in s.metrics) or '(none)'}")
    if s.graders:  # which grader asks which judge
        graders = [f"{g.display_name} ({g.type}: {', '.join(g.judge_ids)})" for g in s.graders]
        click.echo(f"  graders   {', '.join(graders)}")
    own = [m.name for m in plan.row_metrics] + [g.name for g in plan.graders if g.examples]
    if own:  # rows' own assertions (tests: or an assert column), scored where they are carried
        click.echo(f"  per row   {', '.join(dict.fromkeys(own))}")
