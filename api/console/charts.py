"""The console's two charts, as inline SVG: cap use per instrument and lot (allocated, in auction or
otherwise held, free in the reserve) and the clearing prices of closed auctions over time."""

from __future__ import annotations

from collections.abc import Sequence

from api.console.i18n import translate
from api.console.svg import Bar, Point, bars, line
from market.auctions.state import Auction
from market.issuance.service import CapPosition

__all__ = ["average_price_fen_per_t", "cap_use", "prices"]


def cap_use(lang: str, positions: Sequence[CapPosition]) -> str:
    """Stacked bars in tonnes: what the cap allocated, what the reserve holds on hold, what is free."""
    items = [
        Bar(
            f"{p.instrument} {p.lot.valid_until:%Y}",
            (
                (p.allocated_kg, translate(lang, "chart.allocated")),
                (p.reserve_held_kg, translate(lang, "chart.held")),
                (p.available_kg, translate(lang, "chart.available")),
            ),
        )
        for p in positions
    ]
    return bars(translate(lang, "chart.cap_use"), items, unit="t/a", scale=1000)


def average_price_fen_per_t(auction: Auction) -> int | None:
    """The clearing price (成交价) of a uniform auction, else revenue per tonne sold, in whole fen."""
    result = auction.result
    if result is None or result.sold_kg == 0:
        return None
    if result.clearing_price_fen_per_t is not None:
        return result.clearing_price_fen_per_t
    return result.revenue_fen * 1000 // result.sold_kg  # integer: a display figure, never posted


def prices(lang: str, auctions: Sequence[Auction]) -> str:
    """Prices per tonne of the closed auctions, oldest first, labelled by auction id."""
    closed = sorted(
        (a for a in auctions if a.result is not None and average_price_fen_per_t(a) is not None),
        key=lambda a: a.result.closed_at if a.result is not None else a.terms.closes_at,
    )
    points = [Point(a.auction_id[-12:], average_price_fen_per_t(a) or 0) for a in closed]
    unit = translate(lang, "unit.yuan") + "/t"
    return line(translate(lang, "chart.prices"), points, unit=unit, scale=100)
