"""The end of a default (拍卖处置) in the console: the bank's holdings and enforcement of a pledge, and
the forced auction of the enforced rights, started by the bank or, once the bank enforced, by the
bureau, whose proceeds pay the bank first (docs/forced-sale.md)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
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
from ledger.forced_sale import ForcedClaim
from ledger.service import find_claim
from market.auctions.forced import forced_auctions_of
from market.auctions.model import AuctionDesign, AuctionTerms, FixedDeposit
from market.auctions.state import Auction, AuctionStatus, AwardStatus, free_units
from market.pledges import service as pledge
from market.pledges.default import claim_now, start_forced_auction
from market.pledges.service import Pledge, PledgeStatus

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

DESIGNS = tuple(d.value for d in AuctionDesign)
_DEFAULTED = (PledgeStatus.ENFORCED, PledgeStatus.FORCED_AUCTION)
_STARTERS = {Role.BANK: "bank", Role.BUREAU: "bureau"}  # who may start one, and its pages' path


def _holdings_page(c: Console, **extra: object) -> HTMLResponse:
    balances = {
        kind: [
            b
            for b in account_balances(c.session, actor=c.me, account=account_id(c.me.party, kind))
            if b.total
        ]
        for kind in ("holding", "cash")
    }
    return page(c, "bank_holdings.html", balances=balances, sales=_sales(c, c.me.party), **extra)


@dataclass(frozen=True, slots=True)
class Sale:
    """A defaulted pledge as its pages show it: the claim, the forced auctions and where the money
    went, the bank first (``recovered``), the rest to the enterprise."""

    pledge: Pledge
    claim: ForcedClaim | None
    auctions: list[Auction]
    offerable_kg: int  # still held by the pledge, or enforced and free in the bank's holding

    @property
    def paid_fen(self) -> int:
        """What the winners of its forced auctions paid (settled awards)."""
        return sum(
            a.amount_fen
            for auction in self.auctions
            if auction.result is not None
            for a in auction.result.awards
            if a.status is AwardStatus.SETTLED
        )

    @property
    def to_enterprise_fen(self) -> int:
        return self.paid_fen - (self.claim.recovered_fen if self.claim else 0)

    @property
    def stage(self) -> str:
        """What the pages say of the default: ``disposed`` once nothing is left to offer and every
        forced auction is settled (the pledge's own status stays ``forced_auction`` on the journal),
        otherwise the pledge's status."""
        if (
            self.auctions
            and not self.offerable_kg
            and all(a.status is AuctionStatus.SETTLED for a in self.auctions)
        ):
            return "disposed"
        return self.pledge.status.value


def _sales(c: Console, party: str) -> list[Sale]:
    """The defaulted pledges ``party`` (the bank, or the bureau) is party to, each with its claim and
    forced auctions."""
    defaulted = [
        p
        for p in pledge.list_pledges(c.session, actor=c.me)
        if p.status in _DEFAULTED and party in (p.bank, p.bureau)
    ]
    return [
        Sale(
            p,
            find_claim(c.session, pledge=p.id),
            forced_auctions_of(c.session, pledge=p.id),
            p.held_kg or _offerable_kg(c, p),
        )
        for p in defaulted
    ]


@router.get("/bureau/defaults", response_class=HTMLResponse)
def bureau_defaults(c: ReadConsole) -> HTMLResponse:
    """The bureau's defaulted pledges: what the bank enforced, the claim, and the forced auctions."""
    c.need(Role.BUREAU)
    return page(c, "bureau_defaults.html", sales=_sales(c, c.me.party))


@router.get("/bank/holdings", response_class=HTMLResponse)
def holdings(c: ReadConsole) -> HTMLResponse:
    """The bank's holdings (rights it enforced, cash) and each defaulted pledge's forced sales."""
    c.need(Role.BANK)
    return _holdings_page(c)


@router.post("/bank/pledges/{pledge_id}/enforce")
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
    """What of this pledge's enforced rights is not yet on offer or sold, and still free in the bank's
    holding (another pledge of the same lot may share that holding: never more than this one enforced)."""
    committed = 0
    for auction in forced_auctions_of(c.session, pledge=p.id):
        if auction.result is None:  # open: all of it on offer
            committed += auction.terms.quantity_kg
        else:  # closed: what its winners took or still owe; the unsold and the forfeited came back
            committed += sum(
                a.quantity_kg for a in auction.result.awards if a.status is not AwardStatus.FORFEITED
            )
    free = free_units(c.session, account=account_id(p.bank, "holding"), instrument=p.instrument, lot=p.lot)
    return max(0, min(free, p.enforced_kg - committed))


def _starter(c: Console) -> str:
    """The path of the role starting the sale (``bank`` or ``bureau``); other roles are refused."""
    c.need(Role.BANK, Role.BUREAU)
    return _STARTERS[c.me.role]


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
        starter=_starter(c),
        designs=DESIGNS,
        offer_t=f"{offer_kg // 1000}.{offer_kg % 1000:03d}",  # the form's tonnes, exactly
        default_id=f"FS-{p.id[3:11]}-{secrets.token_hex(2)}",
        default_close=closes,
        **extra,
    )


@router.get("/bank/pledges/{pledge_id}/forced-auction", response_class=HTMLResponse)
@router.get("/bureau/pledges/{pledge_id}/forced-auction", response_class=HTMLResponse)
def forced_auction_form(pledge_id: str, c: ReadConsole) -> HTMLResponse:
    """The form to put a defaulted pledge's rights up for forced auction, with the claim it pays first."""
    _starter(c)
    return _sale_page(c, pledge_id)


def _forced_terms(c: Console, form: dict[str, str], p: Pledge) -> AuctionTerms:
    assert p.lot.jurisdiction is not None  # a pledged right belongs to a jurisdiction
    design = AuctionDesign(forms.choice(form, "design", DESIGNS))
    ascending = design is AuctionDesign.ASCENDING
    return AuctionTerms(
        auction_id=forms.text(form, "auction_id"),
        instrument=p.instrument,
        jurisdiction=p.lot.jurisdiction,
        quantity_kg=forms.kg(form, "quantity", p.instrument),
        reserve_price_fen_per_t=forms.yuan_fen(form, "reserve_price"),
        design=design,
        opens_at=c.now,
        closes_at=forms.local_instant(form, "closes_at", CST),
        deposit_rule=FixedDeposit(forms.yuan_fen(form, "deposit")),
        max_bids_per_bidder=None if ascending else 10,  # 网络竞价's limit; none in an open outcry
        start_price_fen_per_t=forms.yuan_fen(form, "start_price") if ascending else None,
        increment_fen_per_t=forms.yuan_fen(form, "increment") if ascending else None,
        extension=timedelta(minutes=forms.whole(form, "extension_min", low=1, high=60))
        if ascending
        else timedelta(minutes=4),
    )


@router.post("/bank/pledges/{pledge_id}/forced-auction")
@router.post("/bureau/pledges/{pledge_id}/forced-auction")
def forced_auction(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """拍卖处置: the bank enforces (if still held) and opens the forced auction, or the bureau opens it
    once the bank enforced; the rights' bureau runs it."""
    _starter(c)

    def run() -> Done:
        p = pledge.get_pledge(c.session, actor=c.me, pledge_id=pledge_id)
        opened = start_forced_auction(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            pledge_id=pledge_id,
            terms=_forced_terms(c, form, p),
            reason=forms.text(form, "reason"),
            now=c.now,
        )
        return Done(
            to=f"{PREFIX}/auctions/{opened.auction_id}",
            message="flash.forced_auction_opened",
            args={"id": opened.auction_id},
        )

    return act(c, form, run, lambda exc: _sale_page(c, pledge_id, error=exc, values=form))
