"""A self-contained HTML report of a run, to open offline or attach to a ticket.

One file, no network (inline CSS and JS, and a Content-Security-Policy that forbids fetching
anything): the verdict and its gates first, then each variant x model with every metric's value
and interval drawn as error bars, per-slice rates, and every example side by side across
variants (and against a baseline run), with filters for changed, failed and flaky examples.
Everything from the run is escaped: outputs are untrusted model text.

    from evalkit.report.html import render_html, write_html_report
    page = render_html(run, baseline)                      # StoredRun objects
    write_html_report(Path("runs/ci-42"), Path("report.html"), baseline="main")

`evalkit report RUN --baseline main -o report.html` is the command line; as a reporter it is
`--report html=report.html` (options: baseline, max_examples, if_missing: skip).
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SuiteError
from evalkit.report import html_examples as ex
from evalkit.report import html_sections as sections
from evalkit.report.html_parts import esc
from evalkit.report.html_slice_stats import slice_stats
from evalkit.report.html_slices import slice_columns

if TYPE_CHECKING:
    from evalkit.results.store import StoredRun

MAX_EXAMPLES = ex.MAX_EXAMPLES
# Nothing may be fetched: a report opened from a ticket must not call out or load anything.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline';"
    " img-src data:; form-action 'none'; base-uri 'none'"
)


def render_html(
    run: StoredRun, baseline: StoredRun | None = None, *, max_examples: int = MAX_EXAMPLES
) -> str:
    """The whole report as one HTML document (`max_examples` caps the per-example table)."""
    examples = ex.build_examples(run, baseline)
    cols = ex.columns(run, baseline)
    names = ex.column_names(examples)
    expected = ex.expected_columns(run, names)
    slices = slice_columns(examples, [n for n in names if n not in expected and n != "id"])
    shown, note = ex.select(examples, max_examples)
    body = "".join(
        [
            sections.header(run, baseline),
            sections.verdict(run),
            sections.cells(run, baseline),
            slice_stats(run.summary),  # group_by: the summary's slices, with intervals
            sections.slices(examples, slices, cols, sections.metric_names(run)),
            sections.examples(
                shown, len(examples), note, cols, expected, slices, baseline is not None
            ),
            sections.variants(run),
            f"<footer>evalkit {esc(run.manifest.evalkit_version)} · report written"
            f" {esc(time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))}</footer>",
        ]
    )
    title = f"evalkit · {run.manifest.suite.name} · {run.run_id}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_asset('report.css')}</style></head>"
        f"<body>{body}<script>{_asset('report.js')}</script></body></html>\n"
    )


def _asset(name: str) -> str:
    return resources.files("evalkit.report").joinpath("html_assets", name).read_text("utf-8")


def write_html_report(
    run_dir: Path,
    path: Path,
    *,
    baseline: str | None = None,
    runs_dir: Path | None = None,
    max_examples: int = MAX_EXAMPLES,
) -> Path:
    """Read runs/<id>/ (and the baseline: a name, a run id or a run folder), write `path`."""
    run = _load_run(run_dir)
    other = load_baseline(baseline, runs_dir or run_dir.parent) if baseline else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(run, other, max_examples=max_examples), encoding="utf-8")
    return path


class HtmlReporter:
    """The "html" reporter: `--report html=report.html`, or `reports: [{type: html, ...}]`."""

    name = "html"

    def write(self, run: StoredRun, path: Path, options: dict[str, Any]) -> None:
        ref = options.get("baseline")
        other = None
        try:
            other = load_baseline(str(ref), run.run_dir.parent) if ref else None
        except SuiteError:
            # `if_missing: skip` (what --html asks): a run whose baseline is not set yet
            # still gets its report, as its regression gates are skipped rather than failed
            if options.get("if_missing") != "skip":
                raise
        limit = int(options.get("max_examples") or MAX_EXAMPLES)
        path.write_text(render_html(run, other, max_examples=limit), encoding="utf-8")


# --- finding and reading runs -----------------------------------------------------------------


def find_run(ref: str, runs_dir: Path) -> Path:
    """A run folder from a run id in `runs_dir`, or a path to a run folder."""
    for candidate in (Path(ref), runs_dir / ref):
        if (candidate / "run.json").is_file():
            return candidate
    known = sorted(p.parent.name for p in runs_dir.glob("*/run.json"))[-5:]
    raise SuiteError(
        f"no run '{ref}' in {runs_dir}/",
        hint=f"recent runs: {', '.join(known)}" if known else "run `evalkit runs list`",
    )


def load_baseline(ref: str, runs_dir: Path) -> StoredRun:
    """The baseline run: a run folder, a run id in `runs_dir`, or a name set with
    `evalkit baseline set` (looked up in <runs_dir>/baselines.json)."""
    from evalkit.gates.baselines import resolve_baseline

    if (Path(ref) / "run.json").is_file():
        return _load_run(Path(ref))
    run_id = resolve_baseline(ref, runs_dir)
    if run_id is None or not (runs_dir / run_id / "run.json").is_file():
        missing = f" (run {run_id} is not in {runs_dir}/)" if run_id else ""
        raise SuiteError(
            f"no baseline or run named '{ref}' in {runs_dir}/{missing}",
            hint="name one with `evalkit baseline set RUN_ID --name NAME`, or give a run id",
        )
    return _load_run(runs_dir / run_id)


def _load_run(run_dir: Path) -> StoredRun:
    """The run with its records read (the report lists every example)."""
    from evalkit.results.store import load_run

    run = load_run(run_dir)
    run.records()
    return run
