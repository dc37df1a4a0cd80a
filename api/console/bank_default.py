"""The bank's end of a default (拍卖处置) in the console: its holdings, enforcement of a pledge, and a
forced auction of the enforced rights whose proceeds pay it first (docs/forced-sale.md)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import account_balances
from api.console import forms
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
)
from ledger.service import find_claim
from market.auctions.forced import forced_auctions_of
from market.auctions.model import AuctionDesign, AuctionTerms, FixedDeposit
from market.pledges import service as pledge
from market.pledges.default import claim_now, start_forced_auction
from market.pledges.service import Pledge, PledgeStatus

router = APIRouter(prefix=PREFIX + "/bank", route_class=ConsoleRoute, include_in_schema=False)

DESIGNS = tuple(d.value for d in AuctionDesign)
_DEFAULTED = (PledgeStatus.ENFORCED, PledgeStatus.FORCED_AUCTION)


def _holdings_page(c: Console, **extra: object) -> HTMLResponse:
    balances = {
        kind: [
            b
            for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, kind))
            if b.total
        ]
        for kind in ("holding", "cash")
    }
    defaulted = [
        p
        for p in pledge.list_pledges(c.session, actor=c.me)
        if p.status in _DEFAULTED and p.bank == c.me.party
    ]
    sales = [
        (p, find_claim(c.session, pledge=p.id), forced_auctions_of(c.session, pledge=p.id)) for p in defaulted
    ]
    return page(c, "bank_holdings.html", balances=balances, sales=sales, **extra)


@router.get("/holdings", response_class=HTMLResponse)
def holdings(c: ReadConsole) -> HTMLResponse:
    """The bank's holdings (rights it enforced, cash) and each defaulted pledge's forced sales."""
    c.need(Role.BANK)
    return _holdings_page(c)


@router.post("/pledges/{pledge_id}/enforce")
def enforce(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Enforcement on default: every held unit of the pledge into the bank's holding (pledge.enforce)."""
    c.need(Role.BANK)

    def run() -> Done:
        pledge.enforce_pledge(
            c.session, registry=c.app.registry, actor=c.me, pledge_id=pledge_id, signed_by=c.consent()
        )
        return Done(to=PREFIX + "/bank/holdings", message="flash.pledge_enforced", args={"id": pledge_id})

    return act(c, form, run, lambda exc: _holdings_page(c, error=exc, values=form, failed=pledge_id))


def _offerable_kg(c: Console, p: Pledge) -> int:
    """What of this pledge's rights the bank's holding still has free to offer."""
    for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, "holding")):
        if b.instrument == p.instrument and b.lot == p.lot.key():
            return min(b.available, p.enforced_kg) if p.enforced_kg else b.available
    return p.held_kg


def _sale_page(c: Console, pledge_id: str, **extra: object) -> HTMLResponse:
    p = pledge.get_pledge(c.session, actor=c.me, pledge_id=pledge_id)
    claim = claim_now(c.session, pledge_id=pledge_id, on=c.now)
    offer_kg = p.held_kg if p.held_kg else _offerable_kg(c, p)
    closes = (c.now + timedelta(hours=2)).astimezone(CST).strftime("%Y-%m-%dT%H:%M")
    return page(
        c,
        "bank_forced_auction.html",
        p=p,
        claim=claim,
        offer_t=f"{offer_kg // 1000}.{offer_kg % 1000:03d}",  # the form's tonnes, exactly
        default_id=f"FS-{p.id[3:11]}-{secrets.token_hex(2)}",
        default_close=closes,
        **extra,
    )


@router.get("/pledges/{pledge_id}/forced-auction", response_class=HTMLResponse)
def forced_auction_form(pledge_id: str, c: ReadConsole) -> HTMLResponse:
    """The form to put a defaulted pledge's rights up for forced auction, with the claim it pays first."""
    c.need(Role.BANK)
    return _sale_page(c, pledge_id)


@router.post("/pledges/{pledge_id}/forced-auction")
def forced_auction(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """拍卖处置: enforce (if still held) and open the forced auction, run by the rights' bureau."""
    c.need(Role.BANK)

    def run() -> Done:
        p = pledge.get_pledge(c.session, actor=c.me, pledge_id=pledge_id)
        assert p.lot.jurisdiction is not None
        terms = AuctionTerms(
            auction_id=forms.text(form, "auction_id"),
            instrument=p.instrument,
            jurisdiction=p.lot.jurisdiction,
            quantity_kg=forms.kg(form, "quantity", p.instrument),
            reserve_price_fen_per_t=forms.yuan_fen(form, "reserve_price"),
            design=AuctionDesign(forms.choice(form, "design", tuple(d for d in DESIGNS if d != "ascending"))),
            opens_at=c.now,
            closes_at=forms.local_instant(form, "closes_at", CST),
            deposit_rule=FixedDeposit(forms.yuan_fen(form, "deposit")),
        )
        opened = start_forced_auction(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            pledge_id=pledge_id,
            terms=terms,
            reason=forms.text(form, "reason"),
            now=c.now,
        )
        return Done(
            to=f"{PREFIX}/auctions/{opened.auction_id}",
            message="flash.forced_auction_opened",
            args={"id": opened.auction_id},
        )

    return act(c, form, run, lambda exc: _sale_page(c, pledge_id, error=exc, values=form))
