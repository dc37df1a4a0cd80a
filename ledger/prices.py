"""Market prices read from the journal: the volume-weighted mean price of the delivery-versus-payment
records of one right in one jurisdiction over a window (the reference price rule, docs/valuation.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, select
from sqlmodel import Session

from ledger.model import Lot
from ledger.repository import J, P, conn
from ledger.timeutil import format_utc
from ledger.units import CURRENCY, is_money

__all__ = ["PRICED_ACTIONS", "MarketPrice", "market_price"]

#: Records whose CNY legs are a market price for their rights: bilateral trades (协议转让) and each
#: auction winner's settlement (竞价, and 拍卖处置). Allocation fees (有偿使用), buy-backs (收储) and
#: cross-city transfers are priced by rule or across cities, so they are left out.
PRICED_ACTIONS: Final = ("trade", "auction.settle", "auction.settle_forced")

_ROWS = (
    select(J.c.seq, P.c.instrument, P.c.lot, P.c.amount)
    .select_from(J.join(P, P.c.seq == J.c.seq))
    .where(J.c.action.in_(PRICED_ACTIONS), J.c.time >= bindparam("since"), J.c.time <= bindparam("until"))
    .where(P.c.amount > 0, P.c.instrument.in_(bindparam("codes", expanding=True)))
)


@dataclass(frozen=True, slots=True)
class MarketPrice:
    """``amount_fen`` paid for ``volume_kg`` in ``records`` records from ``since`` to ``until``."""

    volume_kg: int
    amount_fen: int
    records: int
    since: datetime
    until: datetime

    @property
    def price_fen_per_tonne(self) -> int:
        """Volume-weighted mean, rounded down to the fen: collateral is never overstated."""
        return self.amount_fen * 1_000 // self.volume_kg


def market_price(
    session: Session, *, instrument: str, jurisdiction: str, until: datetime, days: int = 90
) -> MarketPrice | None:
    """The volume-weighted mean price of ``instrument`` of ``jurisdiction`` in the priced records of
    the ``days`` up to ``until`` (total CNY credited / total units credited, per record); None if none."""
    since = until - timedelta(days=days)
    params = {"since": format_utc(since), "until": format_utc(until), "codes": [instrument, CURRENCY]}
    kg: dict[int, int] = defaultdict(int)
    fen: dict[int, int] = defaultdict(int)
    for row in conn(session).execute(_ROWS, params):
        if is_money(row.instrument):
            fen[row.seq] += row.amount
        elif Lot.from_key(row.lot).jurisdiction == jurisdiction:
            kg[row.seq] += row.amount
    priced = [seq for seq in kg if fen.get(seq)]
    volume = sum(kg[s] for s in priced)
    if not volume:
        return None
    return MarketPrice(volume, sum(fen[s] for s in priced), len(priced), since, until)
