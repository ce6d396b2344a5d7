"""Gates applied to runs: checked before a run spends anything, decided after it finishes.

    check_gates(suite, file, line_of)         # SuiteError with file:line for a bad reference
    summary = decide_into(summary, gates, records, repeats=3)   # in memory, within a run
    summary = decide_and_store(store, gates, repeats=3)   # `evalkit gate`: from and to disk
    gates, repeats = gates_of_run(store)      # for `evalkit gate RUN_ID`, from the run's copy

Exit codes (DESIGN.md): a complete run exits 0 when every gate passes and 1 when one fails; a run
that did not complete exits 3 whatever its gates say (its numbers cover only part of the
matrix, so neither a pass nor a fail would be trustworthy); gates are still decided and reported
for it, to show where things stand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import EXIT_GATE_FAILED, EXIT_INCOMPLETE, EXIT_OK, SuiteError
from evalkit.gates.baselines import baseline_source
from evalkit.gates.regression import BaselineSource
from evalkit.gates.values import RECORD_FIELDS
from evalkit.results.schema import ResultRecord, RunManifest, RunSummary
from evalkit.results.store import RunStore
from evalkit.suite.gates import AnyGate, FlakyGate, RegressionGate, ThresholdGate, parse_gates

LineOf = Callable[[tuple[Any, ...]], "int | None"]


def check_gates(
    suite: Any,
    file: str | None = None,
    line_of: LineOf | None = None,
    *,
    extra_metrics: Sequence[str] = (),
    variants: Sequence[str] | None = None,
) -> None:
    """Refuse gates that name an unknown metric, variant or model, or need more repeats.

    `extra_metrics`: score names the suite's rows add (their own assertions); `variants`: the
    compiled variant names when a prompt file holds several prompts."""
    metrics = [m.display_name for m in suite.metrics]
    metrics += [_grader_name(g) for g in getattr(suite, "graders", None) or []]
    metrics += [m for m in dict.fromkeys(extra_metrics) if m not in metrics]
    known = {
        "metric": [*metrics, *RECORD_FIELDS],
        "variant": list(variants) if variants is not None else list(suite.prompts),
        "model": [m.id for m in suite.models],
    }
    for index, gate in enumerate(suite.gates):
        problem = _problem(gate, known, int(suite.repeats))
        if problem is not None:
            key, message, hint = problem
            line = line_of(("gates", index, key)) if line_of else None
            raise SuiteError(f"gates[{index}]: {message}", file=file, line=line, hint=hint)


def _grader_name(grader: Any) -> str:
    """The score name a grader writes (its display name: `name:`, else its type)."""
    return str(getattr(grader, "display_name", None) or grader.name or grader.type)


def _problem(
    gate: AnyGate, known: dict[str, list[str]], repeats: int
) -> tuple[str, str, str | None] | None:
    """(key, message, hint) of the first problem with this gate, or None."""
    from evalkit.errors import did_you_mean

    for key, names in known.items():
        value = getattr(gate, key, None)
        if value is not None and value not in names:
            hint = did_you_mean(value, names) or f"known: {', '.join(names)}"
            return key, f"unknown {key} '{value}'", hint
    if isinstance(gate, ThresholdGate) and gate.k is not None and gate.k > repeats:
        hint = f"set repeats: {gate.k} (or more) in the suite"
        return "stat", f"{gate.stat} needs at least {gate.k} repeats, the suite has {repeats}", hint
    if isinstance(gate, FlakyGate) and repeats < 2:
        hint = "set repeats: 3 (or more) in the suite"
        return "max_flaky", "flakiness needs repeats >= 2", hint
    return None


def gates_of_run(store: RunStore) -> tuple[list[AnyGate], int]:
    """The gates and repeats of the suite as it was run (runs/<id>/suite.yaml)."""
    import yaml
    from pydantic import ValidationError

    path = store.dir / "suite.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        gates = parse_gates(data.get("gates"))
    except (OSError, yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise SuiteError(
            f"cannot read the gates of run {store.run_id}: {exc}",
            file=str(path),
            hint="decide with the current suite instead: evalkit gate RUN_ID --suite SUITE",
        ) from None
    return gates, int(store.manifest().repeats or data.get("repeats") or 1)


def decide_into(
    summary: RunSummary,
    gates: Sequence[AnyGate],
    records: list[ResultRecord],
    *,
    repeats: int,
    baselines: BaselineSource | None = None,
    manifest: RunManifest | None = None,
) -> RunSummary:
    """The summary with its verdict (None without gates) and flaky examples decided."""
    from evalkit.gates.evaluate import decide

    verdict = decide(gates, records, repeats=repeats, baselines=baselines, manifest=manifest)
    update = {"verdict": verdict.to_doc() if gates else None, "flaky": verdict.flaky}
    return summary.model_copy(update=update)


def decide_and_store(
    store: RunStore,
    gates: Sequence[AnyGate],
    *,
    repeats: int,
    runs_dir: Path,
    baseline: str | None = None,
    tracking_uri: str | None = None,
    tracking: bool = True,
) -> RunSummary:
    """Decide the gates of a finished run from its files; write the verdict into summary.json.

    A baseline missing from `runs_dir` is looked up in the run's trackers when tracking is on."""
    summary = store.summary() or RunSummary(run_id=store.run_id)
    records = store.records(drop=("messages",))
    source = None
    if any(isinstance(g, RegressionGate) for g in gates):
        source = baseline_source(
            runs_dir,
            override=baseline,
            run_dir=store.dir,
            tracking_uri=tracking_uri,
            tracking=tracking,
        )
    summary = decide_into(
        summary, gates, records, repeats=repeats, baselines=source, manifest=store.manifest()
    )
    store.write_summary(summary)
    return summary


def exit_code(summary: RunSummary) -> int:
    """3 for a run that did not complete (whatever its gates), else 1 if a gate failed, else 0."""
    if summary.status != "complete":
        return EXIT_INCOMPLETE
    if summary.verdict is not None and not summary.verdict.passed:
        return EXIT_GATE_FAILED
    return EXIT_OK
