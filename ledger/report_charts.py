"""The charts of the as-of reports: auction price history and cap use, as PNG via matplotlib.

Floats appear here only, on the way to pixels: a plotted point is a picture, not an amount.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

__all__ = ["charts"]


def charts(tables: dict[str, pd.DataFrame], out_dir: Path, label: str) -> list[Path]:
    """Draw every chart of the report into ``out_dir`` (Agg, no display needed)."""
    return [
        _save(price_history(tables["auctions"], label), out_dir / "price_history.png"),
        _save(cap_use(tables["cap_usage"], label), out_dir / "cap_use.png"),
    ]


def price_history(auctions: pd.DataFrame, label: str) -> Figure:
    """Each auction's (average) price per tonne over time, one line per instrument."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if auctions.empty:
        ax.text(0.5, 0.5, "no auction results", ha="center", va="center", transform=ax.transAxes)
    else:
        for code, group in auctions.groupby("instrument", sort=True):
            when = pd.to_datetime(group["time"], utc=True)
            cny = [float(p) / 100 for p in group["average_price_fen_per_t"]]
            ax.plot(when, cny, marker="o", label=str(code))
        ax.legend(title="instrument")
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set(title=f"Auction prices as of {label}", ylabel="CNY per tonne", xlabel="record time (UTC)")
    return fig


def cap_use(caps: pd.DataFrame, label: str) -> Figure:
    """Per jurisdiction and instrument: units held or retired, and the reserve, against the cap."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    labels = [f"{j} {c}" for j, c in zip(caps["jurisdiction"], caps["instrument"], strict=True)]
    used = [float(v) / 1000 for v in caps["used_kg"]]
    reserve = [float(v) / 1000 for v in caps["reserve_kg"]]
    ax.barh(labels, used, label="held or retired")
    ax.barh(labels, reserve, left=used, label="bureau reserve")
    for y, pct in enumerate(caps["used_pct"]):
        if pct is not None:
            ax.annotate(f"{pct}%", (used[y], y), xytext=(3, 0), textcoords="offset points", va="center")
    if caps.empty:
        ax.text(0.5, 0.5, "no capped instruments", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend()
    ax.set(title=f"Cap use by jurisdiction as of {label}", xlabel="tonnes per year")
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path
