"""The verdict as a run decides it (`evalkit run` and `evalkit merge`): the suite's gates on the
run's records, with regression baselines looked up in the runs folder, else through the trackers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
from evalkit.results.store import RunStore

if TYPE_CHECKING:
    from evalkit.api import RunOptions


def decide_gates(
    summary: RunSummary,
    records: list[ResultRecord],
    gates: list[Any],
    repeats: int,
    options: RunOptions,
    run_dir: Path,
) -> RunSummary:
    """The verdict as a run decides it (`evalkit merge` too): regression baselines are found in
    the runs folder, else through the trackers (`--baseline` overrides every gate's)."""
    from evalkit.gates.apply import decide_into
    from evalkit.gates.baselines import baseline_source
    from evalkit.suite.gates import RegressionGate

    if not gates and repeats < 2:
        return summary
    source = None
    if any(isinstance(g, RegressionGate) for g in gates):
        source = baseline_source(
            options.runs_dir,
            override=options.baseline,
            run_dir=run_dir,
            tracking_uri=options.tracking_uri,
            tracking=options.tracking,
        )
    return decide_into(
        summary, gates, records, repeats=repeats, baselines=source, manifest=_manifest(run_dir)
    )


def _manifest(run_dir: Path) -> RunManifest | None:
    """This run's run.json (a judge change since the baseline then says what changed)."""
    try:
        return RunStore(run_dir.parent, run_dir.name).manifest()
    except Exception:  # only costs the explanation of a judge change
        return None
