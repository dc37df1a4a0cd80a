"""A tiny server-side SVG chart helper for the console: bar and line charts with axes and labels,
drawn as inline markup (no JavaScript chart library, nothing fetched from the network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

__all__ = ["Bar", "DaySeries", "Point", "bars", "day_bands", "line"]

_W, _H = 640, 240  # viewBox; the CSS lets it scale to the column's width
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 16, 16, 48
_COLOURS = ("#2f6f6a", "#c98b2b", "#8aa8c8", "#b5564e")


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of stacked segments: ``parts`` are (value, legend label); values share one unit."""

    label: str
    parts: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class DaySeries:
    """One series of daily figures: (day, mean, low, high) in one unit, days ascending."""

    name: str
    days: tuple[tuple[date, int, int, int], ...]


def _label(x: float, y: float, text: str) -> str:
    """An axis label; a newline in ``text`` starts a second line (e.g. city, then instrument)."""
    lines = text.split("\n")
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else 13}">{escape(part)}</tspan>'
        for i, part in enumerate(lines)
    )
    return f'<text x="{x:.1f}" y="{y:.1f}" class="label" text-anchor="middle">{spans}</text>'


def _nice_max(top: int) -> int:
    """The smallest 1-2-5 x 10^n at or above ``top``: round axis ends a person reads at a glance."""
    if top <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= top:
                return m * step
        step *= 10


def _frame(title: str, y_max: int, unit: str, scale: Decimal, y_min: int = 0) -> list[str]:
    plot_h = _H - _TOP - _BOTTOM
    out = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = y_min + (y_max - y_min) * i // 4
        y = _TOP + plot_h - plot_h * i / 4
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        shown = Decimal(value) / scale
        text = f"{shown:,.0f}" if shown == shown.to_integral_value() else f"{shown:,.2f}"
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{text}</text>')
    out.append(f'<text x="4" y="{_TOP + 2}" class="unit">{escape(unit)}</text>')
    out.append(
        f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}" class="axis"/>'
        f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}" class="axis"/>'
    )
    return out


def _legend(labels: Sequence[str]) -> list[str]:
    out: list[str] = []
    x = float(_LEFT)
    for i, label in enumerate(labels):
        colour = _COLOURS[i % len(_COLOURS)]
        out.append(f'<rect x="{x}" y="{_H - 14}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{_H - 5}" class="legend">{escape(label)}</text>')
        x += 24 + 7 * len(label.encode())  # wide enough for CJK, which is 3 bytes a character
    return out


def bars(title: str, items: Sequence[Bar], *, unit: str, scale: int = 1) -> str:
    """Stacked bars, one per item; the y axis shows values divided by ``scale`` (e.g. 1000: kg as t)."""
    if not items:
        return ""
    y_max = _nice_max(max(sum(v for v, _ in b.parts) for b in items))
    out = _frame(title, y_max, unit, Decimal(scale))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / len(items)
    width = min(56.0, slot * 0.6)
    for i, item in enumerate(items):
        x = _LEFT + slot * i + (slot - width) / 2
        base = float(_TOP + plot_h)
        for j, (value, legend) in enumerate(item.parts):
            h = plot_h * value / y_max
            base -= h
            out.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{_COLOURS[j % len(_COLOURS)]}"><title>{escape(legend)}: {value:,}</title></rect>'
            )
        centre = _LEFT + slot * i + slot / 2
        out.append(_label(centre, _TOP + plot_h + 14, item.label))
    out += _legend([legend for _, legend in items[0].parts])
    out.append("</svg>")
    return "".join(out)


def line(title: str, points: Sequence[Point], *, unit: str, scale: int = 1) -> str:
    """A line with a dot per point, in order (e.g. clearing prices per auction over time)."""
    if not points:
        return ""
    y_max = _nice_max(max(p.value for p in points))
    out = _frame(title, y_max, unit, Decimal(scale))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / len(points)
    coords = [
        (_LEFT + step * i + step / 2, _TOP + plot_h - plot_h * p.value / y_max) for i, p in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    out.append(f'<polyline points="{path}" fill="none" stroke="{_COLOURS[0]}" stroke-width="2"/>')
    for (x, y), p in zip(coords, points, strict=True):
        shown = Decimal(p.value) / scale
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{_COLOURS[0]}"><title>{escape(p.label)}: '
            f"{shown:,.2f}</title></circle>"
        )
        out.append(
            f'<text x="{x:.1f}" y="{y - 8:.1f}" class="value" text-anchor="middle">{shown:,.2f}</text>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{_TOP + plot_h + 16}" class="label" text-anchor="middle">'
            f"{escape(p.label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _price_range(low: int, high: int) -> tuple[int, int]:
    """The y axis of a price chart: from 0 when the prices spread over more than half their height,
    else from a round figure below the lowest (the ticks say where), so a day's band is visible."""
    if high <= 0 or low == high or low < high // 2:
        return 0, _nice_max(high)
    step = _nice_max(high - low)
    y_min = low // step * step
    return y_min, y_min + _nice_max(high - y_min)


def day_bands(
    title: str, series: Sequence[DaySeries], *, unit: str, scale: int = 1, legend: tuple[str, str]
) -> str:
    """Per series, a line through each day's mean with a dot, and a box from the day's low to its high:
    one mark per day, however many trades settled that day. Days share one axis, in order."""
    days = sorted({d for s in series for d, *_ in s.days})
    if not days:
        return ""
    y_min, y_max = _price_range(
        min(low for s in series for _, _, low, _ in s.days), max(high for s in series for *_, high in s.days)
    )
    out = _frame(title, y_max, unit, Decimal(scale), y_min)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / len(days)
    box = min(14.0, step * 0.4)

    def x_of(day: date) -> float:
        return _LEFT + step * days.index(day) + step / 2

    def y_of(value: int) -> float:
        return _TOP + plot_h - plot_h * (value - y_min) / (y_max - y_min)

    for k, s in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        for day, _mean, low, high in s.days:
            top, bottom = y_of(high), y_of(low)
            out.append(
                f'<rect x="{x_of(day) - box / 2:.1f}" y="{top:.1f}" width="{box:.1f}" '
                f'height="{max(bottom - top, 1.0):.1f}" fill="{colour}" fill-opacity="0.25" class="band">'
                f"<title>{escape(s.name)} {day:%Y-%m-%d}: {Decimal(low) / scale:,.2f} - "
                f"{Decimal(high) / scale:,.2f}</title></rect>"
            )
        coords = [(x_of(day), y_of(mean)) for day, mean, _, _ in s.days]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), (day, mean, _, _) in zip(coords, s.days, strict=True):
            shown = Decimal(mean) / scale
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" class="mean">'
                f"<title>{escape(s.name)} {day:%Y-%m-%d}: {shown:,.2f}</title></circle>"
            )
            out.append(
                f'<text x="{x:.1f}" y="{y - 8:.1f}" class="value" text-anchor="middle">{shown:,.2f}</text>'
            )
    for day in days:
        out.append(_label(x_of(day), _TOP + plot_h + 14, f"{day:%m-%d}"))
    out += _legend([s.name for s in series])
    out.append(
        f'<text x="{_W - _RIGHT}" y="{_H - 5}" class="legend" text-anchor="end">'
        f"● {escape(legend[0])}　▮ {escape(legend[1])}</text>"
    )
    out.append("</svg>")
    return "".join(out)
