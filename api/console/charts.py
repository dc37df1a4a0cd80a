"""The console's and the public registry's charts, as inline SVG: cap use per instrument and lot (allocated,
on hold, free in the reserve), one panel per display unit, and clearing prices aggregated per day.

A panel never mixes units: t/a of discharge rights and VOCs quotas and tCO2e of blue carbon get their own
axes. Prices are one series per instrument; auctions settled on the same day (Beijing time) become one
point, the volume-weighted mean, with the day's lowest and highest price as a band around it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone

from accounts.identifiers import DIVISIONS
from api.console.i18n import translate
from api.console.svg import Bar, DaySeries, bars, day_bands
from ledger.units import INSTRUMENTS
from market.auctions.state import Auction
from market.issuance.service import CapPosition

__all__ = ["average_price_fen_per_t", "cap_use", "cap_use_panels", "daily_prices", "daily_series", "prices"]

_CST = timezone(timedelta(hours=8))  # a trading day is a day in Beijing
_UNIT_KEYS = {"t/a": "unit.t_a", "tCO2e": "unit.tco2e"}


def _city(code: str, lang: str) -> str:
    found = DIVISIONS.get(code)
    if found is None:
        return code
    return found.name_zh if lang == "zh" else found.name


def _unit(lang: str, display_unit: str) -> str:
    key = _UNIT_KEYS.get(display_unit)
    return translate(lang, key) if key else display_unit


def _year(p: CapPosition) -> str:
    """The lot's year: when a right's term ends, or a credit's vintage."""
    if p.lot.valid_until is not None:
        return f"{p.lot.valid_until:%Y}"
    return str(p.lot.vintage or "")


def cap_use_panels(lang: str, positions: Sequence[CapPosition]) -> list[str]:
    """One stacked-bar chart per display unit; bars are labelled with the city's name (when the
    positions span more than one city), the instrument and the lot's last year."""
    by_unit: dict[str, list[CapPosition]] = defaultdict(list)
    for p in positions:
        by_unit[INSTRUMENTS[p.instrument].display_unit].append(p)
    several = len({p.jurisdiction for p in positions}) > 1
    out = []
    for unit, group in sorted(by_unit.items()):
        items = [
            Bar(
                (f"{_city(p.jurisdiction, lang)}\n" if several else "") + f"{p.instrument} {_year(p)}",
                (
                    (p.allocated_kg, translate(lang, "chart.allocated")),
                    (p.reserve_held_kg, translate(lang, "chart.held")),
                    (p.available_kg, translate(lang, "chart.available")),
                ),
            )
            for p in group
        ]
        shown = _unit(lang, unit)
        scale = INSTRUMENTS[group[0].instrument].minor_per_display
        out.append(bars(translate(lang, "chart.cap_use_in", unit=shown), items, unit=shown, scale=scale))
    return out


def cap_use(lang: str, positions: Sequence[CapPosition]) -> str:
    """Every panel of ``cap_use_panels``, one after the other."""
    return "".join(cap_use_panels(lang, positions))


def average_price_fen_per_t(auction: Auction) -> int | None:
    """The clearing price (成交价) of a uniform auction, else revenue per tonne sold, in whole fen."""
    result = auction.result
    if result is None or result.sold_kg == 0:
        return None
    if result.clearing_price_fen_per_t is not None:
        return result.clearing_price_fen_per_t
    return result.revenue_fen * 1000 // result.sold_kg  # integer: a display figure, never posted


def daily_series(fills: Iterable[tuple[str, datetime, int, int]]) -> list[DaySeries]:
    """Fills (instrument, closed at, price fen/t, kg) as one series per instrument and day of close
    (Beijing time): the volume-weighted mean price (sum of price x kg over kg, in whole fen per tonne,
    a display figure), and the lowest and highest price paid that day."""
    days: dict[str, dict[date, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for code, closed_at, price, kg in fills:
        days[code][closed_at.astimezone(_CST).date()].append((price, kg))
    out = []
    for code, per_day in sorted(days.items()):
        points = []
        for day, fills_of_day in sorted(per_day.items()):
            kg = sum(q for _, q in fills_of_day)
            mean = sum(p * q for p, q in fills_of_day) // kg if kg else 0
            points.append((day, mean, min(p for p, _ in fills_of_day), max(p for p, _ in fills_of_day)))
        out.append(DaySeries(code, tuple(points)))
    return out


def daily_prices(auctions: Sequence[Auction]) -> list[DaySeries]:
    """Every allocation of every closed auction, per instrument and day (``daily_series``)."""
    return daily_series(
        (a.terms.instrument, a.result.closed_at, alloc.price_fen_per_t, alloc.quantity_kg)
        for a in auctions
        if a.result is not None
        for alloc in a.result.allocations
    )


def prices(lang: str, auctions: Sequence[Auction]) -> str:
    """Clearing prices per day and instrument: the day's volume-weighted mean, with a low-high band."""
    series = daily_prices(auctions)
    unit = translate(lang, "unit.yuan") + "/t"
    legend = (translate(lang, "chart.day_mean"), translate(lang, "chart.day_range"))
    return day_bands(translate(lang, "chart.prices"), series, unit=unit, scale=100, legend=legend)
