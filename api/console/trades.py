"""The enterprise's bilateral trades (协议转让): offer free rights to an enterprise of its own
jurisdiction, signed in custody; the buyer accepts (DvP in one record) or declines; the seller withdraws.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import account_balances, participants
from api.console import forms
from api.console.lists import narrow, read_query
from api.console.proposals import Outcome, take_step
from api.console.web import (
    PREFIX,
    Console,
    ConsoleRoute,
    Done,
    FormDep,
    ReadConsole,
    WriteConsole,
    act,
    page,
)
from ledger.errors import InvalidInput
from ledger.model import Lot
from ledger.service import Balance
from ledger.units import INSTRUMENTS
from market.auctions.model import payment_fen
from market.trades.offers import TRADE_OFFER, OfferStatus, offer_trade, offers_of

_HERE = PREFIX + "/enterprise/trades"
router = APIRouter(prefix=_HERE, route_class=ConsoleRoute, include_in_schema=False)


def _positions(c: Console) -> list[Balance]:
    """Free rights of the enterprise's own jurisdiction: a trade moves units of the seller's city only."""
    return [
        b
        for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, "holding"))
        if INSTRUMENTS[b.instrument].scoped_to_jurisdiction
        and b.available > 0
        and Lot.from_key(b.lot).jurisdiction == c.me.jurisdiction
        and Lot.from_key(b.lot).valid_until is not None
    ]


def _buyers(c: Console) -> list[tuple[str, str]]:
    """The enterprises this one may trade with: the others of its jurisdiction (market.trades.service)."""
    if c.me.jurisdiction is None:  # no filter at all would list every city's enterprises
        return []
    found = participants(c.session, role=Role.ENTERPRISE, jurisdiction=c.me.jurisdiction)
    return [(p.party, p.name) for p in found if p.party != c.me.party]


def _trades_page(c: Console, **extra: object) -> HTMLResponse:
    query = read_query(c.request, ("status",), per_page=1_000)
    offers = narrow(
        offers_of(c.session, actor=c.me),
        query,
        text=lambda o: (o.id, c.names.get(o.seller, o.seller), c.names.get(o.buyer, o.buyer), o.instrument),
        fields={"status": lambda o: o.status.value},
    ).items
    return page(
        c,
        "enterprise_trades.html",
        positions=_positions(c),
        buyers=_buyers(c),
        outgoing=[o for o in offers if o.seller == c.me.party],
        incoming=[o for o in offers if o.buyer == c.me.party],
        totals={o.id: payment_fen(o.quantity_kg, o.price_fen_per_t) for o in offers},
        query=query,
        filters=[("status", "col.status", [(s.value, c.t(f"trade_offer.{s.value}")) for s in OfferStatus])],
        **extra,
    )


def _position(c: Console, form: Mapping[str, str]) -> tuple[str, date]:
    """The chosen ``CODE@lotkey`` as instrument and validity end."""
    code, _, key = forms.text(form, "position").partition("@")
    lot = forms.lot({"position": key}, "position")
    # The service builds the lot from the seller's city and this date alone: a lot of another city
    # would be silently swapped for the seller's own, so it is refused here.
    if lot.valid_until is None or lot.jurisdiction != c.me.jurisdiction:
        raise InvalidInput("position is not a right of your jurisdiction", field="position")
    return code, lot.valid_until


@router.get("", response_class=HTMLResponse)
def trades(c: ReadConsole) -> HTMLResponse:
    """The offer form and this enterprise's outgoing and incoming trade offers."""
    c.need(Role.ENTERPRISE)
    return _trades_page(c)


@router.post("")
def offer(c: WriteConsole, form: FormDep) -> Response:
    """Offer units of one position to a buyer, signed now with the seller's custody key."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        code, valid_until = _position(c, form)
        made = offer_trade(
            c.session,
            actor=c.me,
            buyer=forms.text(form, "buyer"),
            instrument=code,
            valid_until=valid_until,
            quantity_kg=forms.kg(form, "quantity", code),
            price_fen_per_t=forms.yuan_fen(form, "price"),
            signed_by=c.consent(),
            now=c.now,
        )
        return Done(to=_HERE, message="flash.trade_offered", args={"id": made.id})

    return act(c, form, run, lambda exc: _trades_page(c, error=exc, values=form, failed="offer"))


_OUTCOME = Outcome(
    to=_HERE,
    signed="flash.trade_accepted",
    rejected="flash.trade_declined",
    withdrawn="flash.trade_withdrawn",
    kind=TRADE_OFFER,
)


@router.post("/{offer_id}/{step}")
def decide(offer_id: str, step: str, c: WriteConsole, form: FormDep) -> Response:
    """``accept``: the buyer signs with its custody key and the trade is recorded, DvP, in one record;
    ``withdraw``: the seller withdraws a pending offer, or the buyer declines it; nothing moves."""
    c.need(Role.ENTERPRISE)
    close = "close" if step == "withdraw" else step
    on_error = lambda exc: _trades_page(c, error=exc, values=form, failed=offer_id)  # noqa: E731
    return take_step(c, form, proposal_id=offer_id, step=close, outcome=_OUTCOME, on_error=on_error)
