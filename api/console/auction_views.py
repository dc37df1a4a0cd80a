"""Auction pages every role may open: the list with its price chart, one auction's terms, live state
and result; enterprises bid there, the running bureau closes and settles there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.responses import Response

from accounts.custody import custody_key
from accounts.errors import NoCustodyKey
from accounts.model import Role
from accounts.service import find_participant
from api.console import charts, forms
from api.console.lists import narrow, read_query
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
    per_tonne,
    when,
    yuan,
)
from ledger.errors import DomainError
from market.auctions import service as auctions
from market.auctions import settlement as auction_settlement
from market.auctions.model import AuctionDesign
from market.auctions.state import Auction, AuctionStatus, AwardStatus
from market.consent import Consent

router = APIRouter(prefix=PREFIX + "/auctions", route_class=ConsoleRoute, include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def auction_list(c: ReadConsole) -> HTMLResponse:
    """Every auction (public notices and results), newest first, with the price chart."""
    found = auctions.list_auctions(c.session, actor=c.me)
    query = read_query(c.request, ("status", "design", "instrument"))
    paged = narrow(
        found,
        query,
        text=lambda a: (a.auction_id, c.names.get(a.bureau, a.bureau), a.terms.instrument),
        fields={
            "status": lambda a: a.status.value,
            "design": lambda a: a.terms.design.value,
            "instrument": lambda a: a.terms.instrument,
        },
    )
    return page(
        c,
        "auctions.html",
        auctions=paged.items,
        paged=paged,
        filters=_auction_filters(c, found),
        price_chart=charts.prices(c.lang, found),
    )


def _auction_filters(c: Console, found: list[Auction]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The list's filters: status, design and the instruments auctioned, labelled in the language."""
    return [
        ("status", "col.status", [(s.value, c.t(f"status.{s.value}")) for s in AuctionStatus]),
        ("design", "col.design", [(d.value, c.t(f"design.{d.value}")) for d in AuctionDesign]),
        ("instrument", "col.instrument", sorted({(a.terms.instrument, a.terms.instrument) for a in found})),
    ]


def _detail(c: Console, auction_id: str, **extra: object) -> HTMLResponse:
    auction = auctions.get_auction(c.session, auction_id=auction_id)
    runs = c.me.party == auction.bureau
    sealed = auctions.sealed_now(auction)
    # Sealed bids stay sealed from the bureau too until the result: it sees the counts (``live``) only.
    shown = _bidder(c) or (runs and not sealed)
    bids = auctions.auction_bids(c.session, actor=c.me, auction_id=auction_id) if shown else []
    live = auctions.auction_live(c.session, actor=c.me, auction_id=auction_id)
    need = None
    if _bidder(c) and auction.status is AuctionStatus.OPEN:
        need = auctions.bidder_need(c.session, actor=c.me, auction_id=auction_id)
    pending = auction.result is not None and any(
        a.status is AwardStatus.PENDING for a in auction.result.awards
    )
    mine = None if auction.result is None or not _bidder(c) else auction.result.award(c.me.party)
    return page(
        c,
        "auction.html",
        a=auction,
        runs=runs,
        sealed=sealed,
        bids=bids,
        live=live,
        need_kg=need,
        can_close=runs and auction.status is AuctionStatus.OPEN and c.now >= live.closes_at,
        can_settle=runs and pending,
        to_pay=mine if mine is not None and mine.status is AwardStatus.PENDING else None,
        average=charts.average_price_fen_per_t(auction),
        **extra,
    )


def _bidder(c: Console) -> bool:
    return c.me.role is Role.ENTERPRISE


@router.get("/{auction_id}", response_class=HTMLResponse)
def auction_detail(auction_id: str, c: ReadConsole) -> HTMLResponse:
    """One auction: terms, live state, bids (the bureau's view: all; a bidder's: its own), result."""
    return _detail(c, auction_id)


@router.get("/{auction_id}/live.json")
def auction_live(auction_id: str, c: ReadConsole) -> JSONResponse:
    """What the auction page polls: status, the (extended) close and, if ascending, the best price."""
    live = auctions.auction_live(c.session, actor=c.me, auction_id=auction_id)
    body: dict[str, Any] = {
        "status": live.status.value,
        "closes_at": when(live.closes_at),
        "open": live.status is AuctionStatus.OPEN and c.now < live.closes_at,
        "bids": live.bids,
        "standing": None if live.standing_fen_per_t is None else per_tonne(live.standing_fen_per_t, c.lang),
        "next": None if live.next_fen_per_t is None else per_tonne(live.next_fen_per_t, c.lang),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/{auction_id}/bids")
def bid(auction_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Place a bid; the first one places the deposit (保证金) in escrow, signed in custody."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        auction = auctions.get_auction(c.session, auction_id=auction_id)
        accepted = auctions.place_bid(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            auction_id=auction_id,
            price_fen_per_t=forms.yuan_fen(form, "price"),
            quantity_kg=forms.kg(form, "quantity", auction.terms.instrument),
            now=c.now,
        )
        if accepted.commitment is not None:  # its number in the auction would tell how many came before
            return Done(
                to=f"{PREFIX}/auctions/{auction_id}",
                message="flash.bid_sealed",
                args={"seq": str(accepted.record_seq)},
            )
        return Done(
            to=f"{PREFIX}/auctions/{auction_id}",
            message="flash.bid_placed",
            args={"seq": str(accepted.bid.seq)},
        )

    return act(c, form, run, lambda exc: _detail(c, auction_id, error=exc, values=form))


@router.post("/{auction_id}/close")
def close(auction_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The running bureau closes bidding, clears and records the signed result."""
    c.need(Role.BUREAU)

    def run() -> Done:
        auction_settlement.close_auction(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            auction_id=auction_id,
            now=c.now,
        )
        return Done(to=f"{PREFIX}/auctions/{auction_id}", message="flash.auction_closed")

    return act(c, form, run, lambda exc: _detail(c, auction_id, error=exc, values=form))


def _settlement_consent(c: Console, auction_id: str) -> Consent:
    """The bureau's key, and each pending winner's key in custody. Settlement (钱货两清) needs both
    signatures; a winner who bid through the console, keys in custody, consented to the auction's rules,
    under which the recorded result obliges it to pay. A winner signing for itself is left out: its
    award stays pending for it to settle through the API."""
    keys = dict(c.consent().keys)
    auction = auctions.get_auction(c.session, auction_id=auction_id)
    vault = c.app.vault
    if auction.result is None or vault is None:
        return Consent(keys)
    for award in auction.result.awards:
        if award.status is AwardStatus.PENDING and find_participant(c.session, party=award.bidder):
            try:
                keys[award.bidder] = custody_key(c.session, vault=vault, party=award.bidder, at=c.now)
            except NoCustodyKey:
                continue
    return Consent(keys)


@router.post("/{auction_id}/settle")
def settle(auction_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Settle every pending award as delivery versus payment, one record per winner."""
    c.need(Role.BUREAU)

    def run() -> Done:
        outcome = auction_settlement.settle_auction(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=_settlement_consent(c, auction_id),
            auction_id=auction_id,
            now=c.now,
        )
        failed = [b for b, r in outcome.items() if isinstance(r, DomainError)]
        return Done(
            to=f"{PREFIX}/auctions/{auction_id}",
            message="flash.auction_settled",
            args={"settled": str(len(outcome) - len(failed)), "pending": str(len(failed))},
        )

    return act(c, form, run, lambda exc: _detail(c, auction_id, error=exc, values=form))


@router.post("/{auction_id}/pay")
def pay(auction_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The winner pays its award (支付成交价款) alone: its custody key signs the payment proposal the
    bureau signed at the close, and that last signature records the settlement."""
    c.need(Role.ENTERPRISE)

    def run() -> Done:
        award = auction_settlement.settle_award(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            signed_by=c.consent(),
            auction_id=auction_id,
            bidder=c.me.party,
            now=c.now,
        )
        return Done(
            to=f"{PREFIX}/auctions/{auction_id}",
            message="flash.award_paid",
            args={"amount": yuan(award.amount_fen, c.lang), "seq": str(award.done_seq)},
        )

    return act(c, form, run, lambda exc: _detail(c, auction_id, error=exc, values=form))
