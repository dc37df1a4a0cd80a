"""The bureau's reserve pages: buy-back offers (收储: offer to buy an enterprise's rights back into the
reserve, the offers and their state) and rights expiring soon or expired, per city (有效期届满)."""

from __future__ import annotations

from datetime import timedelta

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
    CST,
    PREFIX,
    Console,
    ConsoleRoute,
    Done,
    FormDep,
    ReadConsole,
    WriteConsole,
    act,
    page,
    qty,
)
from ledger.errors import InvalidInput
from ledger.model import Lot
from ledger.units import INSTRUMENTS
from market.expiry.watch import expiry_watch
from market.reserve.offers import BUY_BACK_OFFER, buy_back_offers_of, offer_buy_back
from market.trades.offers import OfferStatus

router = APIRouter(prefix=PREFIX + "/bureau", route_class=ConsoleRoute, include_in_schema=False)

_HERE = PREFIX + "/bureau/buy-back"


def _positions(c: Console) -> list[tuple[str, str]]:
    """Every free position of rights its enterprises hold in the jurisdiction, as form options:
    ``party|CODE@lotkey`` and a label with the name, right, validity and what is free."""
    out = []
    for ent in participants(c.session, role=Role.ENTERPRISE, jurisdiction=c.me.jurisdiction):
        for b in account_balances(c.session, actor=c.me, account=account_id(ent.party, "holding")):
            lot = Lot.from_key(b.lot)
            if (
                INSTRUMENTS[b.instrument].has_validity
                and lot.jurisdiction == c.me.jurisdiction
                and b.available > 0
            ):
                until = f"{c.t('lot.until')} {lot.valid_until}"
                label = f"{ent.name} · {b.instrument} · {until} · {qty(b.available, b.instrument)}"
                out.append((f"{ent.party}|{b.instrument}@{b.lot}", label))
    return out


def _buy_back_page(c: Console, **extra: object) -> HTMLResponse:
    query = read_query(c.request, ("status",))
    offers = narrow(
        buy_back_offers_of(c.session, actor=c.me),
        query,
        text=lambda o: (o.id, c.names.get(o.enterprise, o.enterprise), o.instrument, o.basis or ""),
        fields={"status": lambda o: o.status.value},
    )
    statuses = [(s.value, c.t(f"buyback.{s.value}")) for s in OfferStatus]
    return page(
        c,
        "bureau_buyback.html",
        positions=_positions(c),
        paged=offers,
        filters=[("status", "col.status", statuses)],
        **extra,
    )


@router.get("/buy-back", response_class=HTMLResponse)
def buy_back_form(c: ReadConsole) -> HTMLResponse:
    """Offer to buy rights back into the reserve (收储); the offers made and their state."""
    c.need(Role.BUREAU)
    return _buy_back_page(c)


@router.post("/buy-back")
def offer(c: WriteConsole, form: FormDep) -> Response:
    """Sign a buy-back offer for one enterprise position; it waits for the enterprise's consent."""
    c.need(Role.BUREAU)

    def run() -> Done:
        enterprise, _, position = forms.text(form, "position").partition("|")
        code, _, key = position.partition("@")
        lot = forms.lot({"position": key}, "position")
        if code not in INSTRUMENTS or lot.valid_until is None:
            raise InvalidInput("position is not a right with a validity end", field="position")
        made = offer_buy_back(
            c.session,
            actor=c.me,
            enterprise=enterprise,
            instrument=code,
            quantity_kg=forms.kg(form, "quantity", code),
            valid_until=lot.valid_until,
            amount_fen=forms.yuan_fen(form, "amount"),
            basis=forms.text(form, "basis", optional=True) or None,
            signed_by=c.consent(),
            now=c.now,
        )
        return Done(to=_HERE, message="flash.buyback_offered", args={"id": made.id})

    return act(c, form, run, lambda exc: _buy_back_page(c, error=exc, values=form, failed="offer"))


@router.post("/buy-back/{offer_id}/withdraw")
def withdraw(offer_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Withdraw a buy-back offer the enterprise has not accepted; its signature is never used."""
    c.need(Role.BUREAU)

    return take_step(
        c,
        form,
        proposal_id=offer_id,
        step="withdraw",
        outcome=Outcome(to=_HERE, withdrawn="flash.buyback_withdrawn", kind=BUY_BACK_OFFER),
        on_error=lambda exc: _buy_back_page(c, error=exc, values=form, failed=offer_id),
    )


@router.get("/expiry", response_class=HTMLResponse)
def expiry(c: ReadConsole) -> HTMLResponse:
    """Rights of the jurisdiction expiring within the chosen days, and those expired, per city."""
    c.need(Role.BUREAU)
    query = read_query(c.request, ("days", "state", "instrument"), per_page=50)
    days = int(query.get("days")) if query.get("days").isdigit() else 90
    today = c.now.astimezone(CST).date()
    found = expiry_watch(c.session, actor=c.me, on=today, within_days=min(days, 3650))
    paged = narrow(
        found,
        query,
        text=lambda x: (x.account, c.names.get(x.account.rsplit(".", 1)[0], ""), x.instrument),
        fields={
            "state": lambda x: "expired" if x.expired else "expiring",
            "instrument": lambda x: x.instrument,
            "days": lambda _x: query.get("days"),  # the horizon, applied above: every line matches
        },
    )
    by_city: dict[str, list[object]] = {}
    for line in paged.items:
        by_city.setdefault(line.jurisdiction, []).append(line)
    return page(
        c,
        "bureau_expiry.html",
        paged=paged,
        by_city=by_city,
        days=days,
        today=today,
        horizon=today + timedelta(days=days),
        expired_n=sum(1 for x in found if x.expired),
        expiring_n=sum(1 for x in found if not x.expired),
        filters=[
            (
                "state",
                "expiry.state",
                [("expiring", c.t("expiry.expiring")), ("expired", c.t("expiry.expired"))],
            ),
            ("instrument", "col.instrument", sorted({(x.instrument, x.instrument) for x in found})),
        ],
    )
