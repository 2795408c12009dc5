"""Charts as inline SVG drawn on the server: labelled series in, markup out.

Pure (no Flask, no database) and deterministic: the same series always give the same
bytes. Every label is escaped. The site's CSP forbids scripts and style attributes, so the
charts need neither: colours and strokes are SVG presentation attributes, and each bar or
point carries a `<title>` the browser shows as a tooltip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

Number = int | float | Decimal

PALETTE = ("#0b5fff", "#e07a00", "#1e7b34", "#b3261e", "#6b3fa0", "#00838f", "#7a5a00")
INK, MUTED, LINE = "#1d2330", "#5d6678", "#d9dee8"
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Series:
    """One named line, or the bars of one colour across the groups."""

    name: str
    values: Sequence[Number]


@dataclass(frozen=True)
class Frame:
    """The drawing's size and the margins kept for axis labels and the legend."""

    width: int = 720
    height: int = 260
    left: int = 60
    right: int = 16
    top: int = 30
    bottom: int = 34

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    decimals: int = 0,
    frame: Frame = Frame(),
) -> Markup:
    """One line per series over the labels, a marker with a tooltip at every point."""
    _check(chart_id, labels, series)
    if not labels or not series:
        return _empty(chart_id, title, frame)
    f, n = frame, len(labels)
    step = f.plot_width / (n - 1) if n > 1 else 0.0
    xs = [f.left + f.plot_width / 2] if n == 1 else [f.left + i * step for i in range(n)]
    y, parts = _axes(chart_id, title, labels, xs, series, decimals, f, "Line")
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{_c(x)},{_c(y(v))}" for x, v in zip(xs, s.values, strict=True))
        parts.append(
            f'<polyline class="line" points="{points}" fill="none" stroke="{colour}" '
            'stroke-width="2" stroke-linejoin="round"/>'
        )
        for x, v, label in zip(xs, s.values, labels, strict=True):
            parts.append(
                f'<circle class="point" cx="{_c(x)}" cy="{_c(y(v))}" r="3" fill="{colour}">'
                f"<title>{escape(label)}, {escape(s.name)}: {_fmt(v, decimals)}</title></circle>"
            )
    return _close(parts)


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    decimals: int = 0,
    frame: Frame = Frame(),
) -> Markup:
    """A group of bars per label, one bar per series; negative values hang below zero."""
    _check(chart_id, labels, series)
    if not labels or not series:
        return _empty(chart_id, title, frame)
    f = frame
    group = f.plot_width / len(labels)
    bar = group * 0.8 / len(series)
    xs = [f.left + (i + 0.5) * group for i in range(len(labels))]
    y, parts = _axes(chart_id, title, labels, xs, series, decimals, f, "Bar")
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        for i, (v, label) in enumerate(zip(s.values, labels, strict=True)):
            x = f.left + i * group + group * 0.1 + k * bar
            top, bottom = sorted((y(v), y(0)))
            parts.append(
                f'<rect class="bar" x="{_c(x)}" y="{_c(top)}" width="{_c(max(bar - 1, 1))}" '
                f'height="{_c(bottom - top)}" fill="{colour}">'
                f"<title>{escape(label)}, {escape(s.name)}: {_fmt(v, decimals)}</title></rect>"
            )
    return _close(parts)


def _check(chart_id: str, labels: Sequence[str], series: Sequence[Series]) -> None:
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"chart id {chart_id!r}: a letter, then letters, digits, - or _")
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels"
            )
        if not all(math.isfinite(float(v)) for v in s.values):
            raise ValueError(f"series {s.name!r} has a value that is not a finite number")


def _open(chart_id: str, title: str, summary: str, f: Frame) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {f.width} {f.height}" width="{f.width}" height="{f.height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
    ]


def _close(parts: list[str]) -> Markup:
    parts.append("</svg>")
    # Every piece above was built from escaped text and our own numbers.
    return Markup("\n".join(parts))


def _empty(chart_id: str, title: str, f: Frame) -> Markup:
    parts = _open(chart_id, title, "No data to draw.", f)
    parts.append(
        f'<text class="empty" x="{_c(f.width / 2)}" y="{_c(f.height / 2)}" '
        f'text-anchor="middle" fill="{MUTED}">No data</text>'
    )
    return _close(parts)


def _axes(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    xs: Sequence[float],
    series: Sequence[Series],
    decimals: int,
    f: Frame,
    kind: str,
) -> tuple[Callable[[Number], float], list[str]]:
    """The opening tags, legend, grid, y ticks and x labels; returns the y scale too."""
    values = [float(v) for s in series for v in s.values]
    ticks = _ticks(min(values + [0.0]), max(values + [0.0]), whole=decimals == 0)
    lo, hi = ticks[0], ticks[-1]

    def y(v: Number) -> float:
        return f.top + f.plot_height * (hi - float(v)) / (hi - lo)

    names = ", ".join(s.name for s in series)
    summary = (
        f"{kind} chart of {names} for {len(labels)} "
        f"{'entry' if len(labels) == 1 else 'entries'}, {labels[0]} to {labels[-1]}; "
        "the numbers are in the table beside it."
    )
    parts = _open(chart_id, title, summary, f)
    x = float(f.left)
    for k, s in enumerate(series):
        parts.append(
            f'<rect class="swatch" x="{_c(x)}" y="8" width="10" height="10" '
            f'fill="{PALETTE[k % len(PALETTE)]}"/>'
        )
        parts.append(
            f'<text class="legend" x="{_c(x + 14)}" y="17" fill="{INK}">{escape(s.name)}</text>'
        )
        x += 30 + 6.5 * len(s.name)
    for t in ticks:
        parts.append(
            f'<line class="grid" x1="{f.left}" x2="{f.width - f.right}" y1="{_c(y(t))}" '
            f'y2="{_c(y(t))}" stroke="{MUTED if t == 0 else LINE}" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="tick" x="{f.left - 6}" y="{_c(y(t) + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{_fmt(t, decimals)}</text>'
        )
    # As many x labels as fit, always including the last (the most recent) one.
    every = max(1, math.ceil(len(labels) / max(1, int(f.plot_width // 64))))
    last = len(labels) - 1
    for i, (label, lx) in enumerate(zip(labels, xs, strict=True)):
        if (last - i) % every == 0:
            parts.append(
                f'<text class="label" x="{_c(lx)}" y="{f.height - f.bottom + 16}" '
                f'text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
            )
    return y, parts


def _ticks(lo: float, hi: float, *, whole: bool, count: int = 4) -> list[float]:
    """Round values from at or below `lo` to at or above `hi` (both include zero)."""
    if hi == lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    if whole:
        step = max(1.0, step)  # counts: no tick between two whole numbers
    start, stop = math.floor(lo / step), math.ceil(hi / step)
    return [i * step for i in range(start, stop + 1)]


def _fmt(v: Number, decimals: int) -> str:
    text = f"{v:,.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0"


def _c(v: float) -> str:
    """A coordinate: one decimal, so the same input always prints the same."""
    return f"{v:.1f}"
