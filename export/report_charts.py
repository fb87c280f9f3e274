"""Inline SVG charts for the report: drawn here, so the report needs no script, no font and no network."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np

AXIS = "#9aa1ad"
GRID = "#e6e8ec"
TEXT = "#4a505c"
# styles written on the elements, not in the page's CSS: a chart renders the same wherever the SVG goes (the PDF)
FONT = 'font-family="DejaVu Sans, sans-serif"'
TICK = f'{FONT} font-size="11" fill="{TEXT}"'
MARK = f'{FONT} font-size="11" font-weight="bold" fill="#1f232b"'
BARLABEL = f'{FONT} font-size="12" fill="#1f232b"'


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    x: np.ndarray
    y: np.ndarray
    width: float = 1.6


def thin(x: np.ndarray, y: np.ndarray, x_range: tuple[float, float], buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """One point per horizontal pixel at most (the mean of the samples that fall in it): an hour-long session
    draws as small a chart as a minute-long one and reads the same. `x` must be ascending."""
    if len(x) <= buckets:
        return x, y
    x0, x1 = x_range
    index = np.clip(((x - x0) / max(x1 - x0, 1e-9) * buckets).astype(int), 0, buckets - 1)
    _, starts = np.unique(index, return_index=True)
    counts = np.diff(np.append(starts, len(x)))
    return np.add.reduceat(x, starts) / counts, np.add.reduceat(y, starts) / counts


def line_chart(
    series: list[Series],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    *,
    width: int = 900,
    height: int = 220,
    y_ticks: tuple[float, ...] = (0.0, 0.5, 1.0),
    y_label: str = "",
    shaded: list[tuple[float, float]] = (),
    marks: list[tuple[float, str]] = (),
    gap_s: float = 1.0,
) -> str:
    """Lines over time (seconds). `shaded`: spans drawn grey behind; `marks`: dotted verticals with a label.
    A line breaks where its samples are more than `gap_s` apart (the face was out of view)."""
    left, right, top, bottom = 44, 12, 16 if marks else 8, 24
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = x_range
    y0, y1 = y_range
    sx = pw / max(x1 - x0, 1e-9)
    sy = ph / max(y1 - y0, 1e-9)

    def px(x: float) -> float:
        return left + (x - x0) * sx

    def py(y: float) -> float:
        return top + ph - (min(max(y, y0), y1) - y0) * sy

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="img">']
    for a, b in shaded:
        out.append(
            f'<rect x="{px(a):.1f}" y="{top}" width="{max(px(b) - px(a), 1.0):.1f}" height="{ph}" fill="#eceef2"/>'
        )
    for t in y_ticks:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" {TICK}>{t:g}</text>')
    for t in _time_ticks(x0, x1):
        out.append(f'<text x="{px(t):.1f}" y="{height - 6}" text-anchor="middle" {TICK}>{_clock(t)}</text>')
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="{AXIS}"/>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{AXIS}"/>')
    if y_label:
        out.append(f'<text x="4" y="{top + 10}" {TICK}>{escape(y_label)}</text>')
    for s in series:
        xs_all, ys_all = thin(s.x, s.y, x_range, pw)
        for xs, ys in _segments(xs_all, ys_all, max(gap_s, 1.5 / sx)):
            pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, ys, strict=True))
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{s.color}" stroke-width="{s.width}" '
                f'stroke-linejoin="round"><title>{escape(s.name)}</title></polyline>'
            )
    for t, label in marks:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#333" stroke-dasharray="2,3"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 4}" text-anchor="middle" {MARK}>{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def share_bar(shares: list[tuple[str, float, str]], width: int = 900, height: int = 26) -> str:
    """One stacked bar: (name, share 0-1, colour); a share wide enough gets its name and per cent written in."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="bar" role="img">']
    x = 0.0
    for name, share, color in shares:
        w = share * width
        if w <= 0:
            continue
        out.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{color}">'
            f"<title>{escape(name)} {share:.0%}</title></rect>"
        )
        if w > 70:
            out.append(f'<text x="{x + 6:.1f}" y="{height / 2 + 4:.1f}" {BARLABEL}>{escape(name)} {share:.0%}</text>')
        x += w
    out.append("</svg>")
    return "".join(out)


def sparkline(
    series: list[Series], x_range: tuple[float, float], y_range: tuple[float, float], width: int = 160, height: int = 28
) -> str:
    """Lines only, no axes: a small picture of a short stretch (a person seen for under a second), drawn over
    its own time span so that it is never mostly empty."""
    x0, x1 = x_range[0], max(x_range[1], x_range[0] + 1e-3)
    y0, y1 = y_range
    sx, sy = (width - 2) / (x1 - x0), (height - 2) / max(y1 - y0, 1e-9)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="spark" role="img">']
    out.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f6f7f9"/>')
    for s in series:
        if len(s.x) == 0:
            continue
        xs, ys = thin(s.x, s.y, (x0, x1), width)
        if len(xs) == 1:  # one sighting: its level, across
            xs, ys = np.array([x0, x1]), np.array([ys[0], ys[0]])
        pts = " ".join(
            f"{1 + (a - x0) * sx:.1f},{height - 1 - (min(max(b, y0), y1) - y0) * sy:.1f}"
            for a, b in zip(xs, ys, strict=True)
        )
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{s.color}" stroke-width="1.4" stroke-linejoin="round">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
    out.append("</svg>")
    return "".join(out)


def _segments(x: np.ndarray, y: np.ndarray, gap_s: float):
    if len(x) == 0:
        return
    breaks = np.flatnonzero(np.diff(x) > gap_s) + 1
    for a, b in zip([0, *breaks], [*breaks, len(x)], strict=True):
        if b - a >= 1:
            yield x[a:b], y[a:b]


def _time_ticks(x0: float, x1: float) -> list[float]:
    span = max(x1 - x0, 1e-9)
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if span / s <= 10), 7200)
    first = np.ceil(x0 / step) * step
    return [float(t) for t in np.arange(first, x1 + 1e-9, step)]


def _clock(t: float) -> str:
    t = int(round(t))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60}:{t % 60:02d}"
