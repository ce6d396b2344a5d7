"""The sections of the HTML report: header, verdict and gates, the variant x model table with
error bars, slices, examples and the prompts; each returns escaped HTML (see html.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.report import html_examples as ex
from evalkit.report.html_parts import Bar, Scale, badge, errbar, esc, num, tag
from evalkit.report.html_slices import slice_tables

if TYPE_CHECKING:
    from evalkit.results.schema import CellSummary, GateResultDoc, MetricStats
    from evalkit.results.store import StoredRun

SEVERITY = {"fail": 0, "not_comparable": 1, "inconclusive": 1, "skip": 2, "pass": 3}


def metric_names(run: StoredRun) -> list[str]:
    return list(dict.fromkeys(m for c in run.summary.cells for m in c.metrics))


# --- header and verdict -----------------------------------------------------------------------


def header(run: StoredRun, baseline: StoredRun | None) -> str:
    m, s = run.manifest, run.summary
    facts = [
        f"run <code>{esc(run.run_id)}</code>",
        f"status <b>{esc(s.status)}</b>",
        f"{s.counts.done} of {s.counts.total} items",
        f"{s.counts.errors} errors",
        f"{s.counts.cached} cached",
        f"dataset {esc(m.dataset.name or '')} ({m.dataset.rows} rows)",
    ]
    if s.cost:
        facts.append(f"cost ${s.cost:.4f}")
    if m.git_commit:
        facts.append(f"commit <code>{esc(m.git_commit[:12])}</code>")
    if s.finished_at or m.created_at:
        facts.append(esc(s.finished_at or m.created_at))
    text = f"<p>{' · '.join(facts)}</p>"
    if baseline is not None:
        text += f'<p id="baseline">compared with baseline run <code>{esc(baseline.run_id)}</code>'
        if baseline.manifest.suite.name != m.suite.name:
            text += f" (suite {esc(baseline.manifest.suite.name)}: a different suite)"
        text += "</p>"
    return f"<header><h1>{esc(m.suite.name)}</h1>{text}</header>"


def verdict(run: StoredRun) -> str:
    summary, verdict = run.summary, run.summary.verdict
    if summary.status != "complete":
        status = "inconclusive"
        line = f"INCOMPLETE: the run is {summary.status}; its gates are not trusted for release"
        if summary.stopped_reason:
            line += f" ({summary.stopped_reason})"
    elif verdict is None:
        status, line = "skip", "no gates defined"
    elif verdict.passed:
        status, line = "pass", f"PASSED: all {verdict.counts.gates} gate checks passed"
    else:
        status = "fail"
        line = f"FAILED: {verdict.counts.failed} of {verdict.counts.gates} gate checks failed"
    banner = f'<div id="verdict" class="verdict {status}">{esc(line)}</div>'
    gates = sorted(verdict.gates, key=lambda g: SEVERITY.get(g.status, 9)) if verdict else []
    if not gates:
        return f'<section id="gates">{banner}</section>'
    rows = "".join(_gate_row(g) for g in gates)
    head = "".join(
        f"<th>{h}</th>" for h in ("result", "gate", "observed", "threshold", "evidence", "why")
    )
    table = f'<table class="gates"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    return f'<section id="gates">{banner}<h2>Gates</h2>{table}</section>'


def _gate_row(gate: GateResultDoc) -> str:
    observed = num(gate.observed, signed=gate.type == "regression")
    if gate.type == "cost" and gate.observed is not None:
        observed = f"${gate.observed:.4f}"
    cells = [
        badge(gate.status),
        esc(gate.name),
        esc(observed),
        esc(gate.threshold),
        esc(_evidence(gate)),
        esc(gate.message),
    ]
    return tag("tr", "".join(f"<td>{c}</td>" for c in cells), f"gate {gate.status}")


def _evidence(gate: GateResultDoc) -> str:
    """Interval, p-value and n in one line, as the terminal and Markdown reports say it."""
    s: dict[str, Any] = gate.statistics or {}
    parts = []
    if s.get("ci_low") is not None and s.get("ci_high") is not None:
        pct = round(100 * float(s.get("confidence") or 0.95))
        signed = gate.type == "regression"
        parts.append(
            f"{pct}% CI [{num(s['ci_low'], signed=signed)}, {num(s['ci_high'], signed=signed)}]"
        )
    for key, label in (("p_value", "p"), ("p_adjusted", "Holm p")):
        if isinstance(s.get(key), int | float):
            parts.append(f"{label}={num(float(s[key]))}")
    if s.get("n") is not None:
        parts.append(f"n={s['n']}")
    return " · ".join(parts)


# --- the variant x model table ----------------------------------------------------------------


def cells(run: StoredRun, baseline: StoredRun | None) -> str:
    cells = run.summary.cells
    if not cells:
        return ""
    names = metric_names(run)
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    rows = "".join(_cell_row(c, names, run, baseline) for c in cells)
    note = (
        '<p class="note">Dots are the values, lines their confidence intervals'
        + (", grey the baseline's." if baseline is not None else ".")
        + "</p>"
    )
    return (
        f'<section id="results"><h2>Results by variant x model</h2>{note}<table class="cells">'
        f"<thead><tr><th>variant</th><th>model</th><th>items</th><th>errors</th>{head}"
        f"<th>latency p50</th><th>cost</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _cell_row(
    cell: CellSummary, names: list[str], run: StoredRun, baseline: StoredRun | None
) -> str:
    theirs = baseline.summary.cell(cell.variant, cell.model) if baseline is not None else None
    metrics = []
    for name in names:
        scale = _scale(run, baseline, name)
        metrics.append(_metric_cell(cell.metrics.get(name), _stats(theirs, name), scale, name))
    p50 = cell.latency_ms.p50
    latency = f"{p50:.0f} ms" if p50 is not None else "n/a"
    cost = f"${cell.cost.total:.4f}" if cell.cost is not None else "n/a"
    return (
        f"<tr><td>{esc(cell.variant)}</td><td>{esc(cell.model)}</td><td>{cell.items}</td>"
        f"<td>{cell.errors}</td>{''.join(metrics)}<td>{latency}</td><td>{cost}</td></tr>"
    )


def _stats(cell: CellSummary | None, name: str) -> MetricStats | None:
    return cell.metrics.get(name) if cell is not None else None


def _scale(run: StoredRun, baseline: StoredRun | None, name: str) -> Scale:
    """One scale per metric across every cell of both runs, so the bars compare."""
    stats = [
        c.metrics[name] for r in (run, baseline) if r for c in r.summary.cells if name in c.metrics
    ]
    bars = [Bar(s.mean, s.ci_low, s.ci_high) for s in stats]
    return Scale.of(bars, rate=any(s.kind == "pass_rate" for s in stats))


def _metric_cell(
    mine: MetricStats | None, theirs: MetricStats | None, scale: Scale, name: str
) -> str:
    if mine is None or mine.mean is None:
        return '<td><span class="none">–</span></td>'
    pct = mine.kind == "pass_rate"
    text = f"<b>{num(mine.mean, pct)}</b> [{num(mine.ci_low, pct)}, {num(mine.ci_high, pct)}]"
    text += f" <small>n={mine.n}" + (f", {mine.n_unscored} unscored" if mine.n_unscored else "")
    text += "</small>"
    bars = [Bar(mine.mean, mine.ci_low, mine.ci_high)]
    if theirs is not None and theirs.mean is not None:
        bars.insert(0, Bar(theirs.mean, theirs.ci_low, theirs.ci_high, ghost=True))
        text += f'<br><span class="was">baseline {num(theirs.mean, pct)}</span>'
    title = f"{name}: {num(mine.mean, pct)} ({num(mine.ci_low, pct)} to {num(mine.ci_high, pct)})"
    return f'<td class="metric">{text}<br>{errbar(bars, scale, title)}</td>'


# --- slices, examples, variants ---------------------------------------------------------------


def slices(
    examples: list[ex.Example], names: list[str], cols: list[ex.Column], metrics: list[str]
) -> str:
    if not names:
        return ""
    options = "".join(f'<option value="{i}">{esc(n)}</option>' for i, n in enumerate(names))
    return (
        '<section id="slices"><h2>Slices</h2><label>group by <select id="group-by">'
        f'<option value="">(none)</option>{options}</select></label>'
        '<p class="note">Rates over every example of the run; the examples below are grouped'
        f" the same way.</p>{slice_tables(examples, names, cols, metrics)}</section>"
    )


def examples(
    shown: list[ex.Example],
    total: int,
    note: str,
    cols: list[ex.Column],
    expected: list[str],
    slices: list[str],
    with_baseline: bool,
) -> str:
    changed = (
        "differs from the baseline (output or a score)"
        if with_baseline
        else "a pass/fail differs across variants and models"
    )
    filters = "".join(
        f'<label title="{esc(title)}"><input type="checkbox" class="filter" value="{name}"'
        f' id="filter-{name}"> {name} ({sum(1 for e in shown if getattr(e, name))})</label>'
        for name, title in (
            ("changed", changed),
            ("failed", "a call failed or a score did not pass in this run"),
            ("flaky", "repeats of the example disagree in this run"),
        )
    )
    search = '<input type="search" id="search" placeholder="search text">'
    capped = f'<p class="note capped">{esc(note)}</p>' if note else ""
    return (
        f'<section id="per-example"><h2>Examples ({total})</h2>{capped}'
        f'<div class="filters">show only {filters} {search}'
        f' <span id="shown-count">{len(shown)} shown</span></div>'
        f"{ex.examples_table(shown, cols, expected, slices)}</section>"
    )


def variants(run: StoredRun) -> str:
    items = "".join(
        f"<details><summary>{esc(name)} <small>{esc(v.hash)}</small></summary>"
        f"<pre>{esc(v.template)}</pre></details>"
        for name, v in run.manifest.variants.items()
    )
    models = ", ".join(
        f"{esc(m.id)} <small>({esc(m.provider)}{' ' + esc(m.model) if m.model else ''})</small>"
        for m in run.manifest.models
    )
    return (
        f'<section id="variants"><h2>Prompts and models</h2>{items}'
        f"<p>models: {models}</p></section>"
    )
