"""Small building blocks of the HTML report: escaping, number formats and SVG error bars.

Everything that reaches the page goes through `esc` (model outputs are untrusted text), and
numbers are formatted here once so every table reads the same.

    errbar(Bar(0.75, 0.30, 0.95), Scale(0.0, 1.0))   # '<svg class="errbar" ...>'
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 2000  # characters of one output or input shown; the rest is cut with a note
BAR_W, BAR_H = 150, 16


def esc(value: Any) -> str:
    """Text safe as element content and inside a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    """Escaped text, cut at `limit` characters with a note of how much was left out."""
    if text is None:
        return '<span class="none">–</span>'
    text = str(text)
    if len(text) <= limit:
        return esc(text)
    more = len(text) - limit
    return f'{esc(text[:limit])}<span class="cut">… ({more} more characters)</span>'


def num(value: float | None, pct: bool = False, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if pct:
        return f"{value:+.0%}" if signed else f"{value:.0%}"
    return f"{value:+.3g}" if signed else f"{value:.3g}"


def tag(name: str, body: str, cls: str = "", **attrs: Any) -> str:
    """An element; `body` is already HTML, attribute values are escaped here."""
    parts = [name] + ([f'class="{esc(cls)}"'] if cls else [])
    parts += [f'{k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items()]
    return f"<{' '.join(parts)}>{body}</{name}>"


@dataclass(frozen=True)
class Bar:
    mean: float | None
    low: float | None
    high: float | None
    ghost: bool = False  # the baseline's value, drawn grey behind the run's own


@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float

    @classmethod
    def of(cls, bars: list[Bar], rate: bool) -> Scale:
        """0..1 for rates and scores within it, else the bars' own range (with 0 when near)."""
        values = [v for b in bars for v in (b.mean, b.low, b.high) if v is not None]
        if rate or not values or (min(values) >= 0 and max(values) <= 1):
            return cls(0.0, 1.0)
        lo, hi = min(0.0, min(values)), max(values)
        return cls(lo, hi if hi > lo else lo + 1)

    def x(self, value: float) -> float:
        frac = (value - self.lo) / (self.hi - self.lo)
        return 4 + max(0.0, min(1.0, frac)) * (BAR_W - 8)


def errbar(bars: list[Bar], scale: Scale, title: str) -> str:
    """An inline SVG: each bar's interval as a line with caps and its value as a dot."""
    rows = [b for b in bars if b.mean is not None]
    if not rows:
        return ""
    height = BAR_H * len(rows)
    shapes = [f'<line class="axis" x1="4" x2="{BAR_W - 4}" y1="{height - 1}" y2="{height - 1}"/>']
    for i, bar in enumerate(rows):
        shapes.append(_bar_shapes(bar, scale, BAR_H * i + BAR_H / 2))
    return (
        f'<svg class="errbar" width="{BAR_W}" height="{height}" viewBox="0 0 {BAR_W} {height}"'
        f' role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>'
        + "".join(shapes)
        + "</svg>"
    )


def _bar_shapes(bar: Bar, scale: Scale, y: float) -> str:
    assert bar.mean is not None
    cls = "ghost" if bar.ghost else "ci"
    out = []
    if bar.low is not None and bar.high is not None:
        x1, x2 = scale.x(bar.low), scale.x(bar.high)
        out.append(f'<line class="{cls}" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y}" y2="{y}"/>')
        for x in (x1, x2):
            out.append(f'<line class="{cls}" x1="{x:.1f}" x2="{x:.1f}" y1="{y - 4}" y2="{y + 4}"/>')
    out.append(f'<circle class="{cls}" cx="{scale.x(bar.mean):.1f}" cy="{y}" r="3.5"/>')
    return "".join(out)


def badge(status: str) -> str:
    """A coloured status word: pass, fail, skip, inconclusive, changed, flaky, error, ..."""
    return f'<span class="badge {esc(status)}">{esc(status)}</span>'
