"""Project needs, auctions and bids: open, bid (deposits in escrow), close with a signed result,
settle each winner as DvP, forfeit.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.consent import consent_with
from api.deps import ActorDep, CustodyKeyDep, PageDep, ReaderDep
from api.schemas import ErrorOut, Page
from api.schemas.auctions import (
    AuctionIn,
    AuctionOut,
    AwardOut,
    BidIn,
    BidOut,
    NeedIn,
    NeedOut,
    ResultOut,
    SettlementIn,
    WinnerIn,
)
from api.schemas.issuance import BodyOut
from api.write import WriteDep
from market.auctions.bids import rejections
from market.auctions.errors import AuctionStillOpen
from market.auctions.service import (
    AcceptedBid,
    AuctionStatus,
    auction_bids,
    auction_live,
    get_auction,
    list_auctions,
    needs_of,
    open_auction,
    place_bid,
    register_need,
    sealed_now,
)
from market.auctions.settlement import close_auction, forfeit_award, settle_award, settlement_draft
from market.consent import Consent

router = APIRouter(prefix="/v1", tags=["auctions"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}


@router.post("/needs", response_model=NeedOut, responses=ERRORS)
def post_need(payload: NeedIn, w: WriteDep) -> NeedOut:
    """A bureau approves an enterprise's project need (项目需求): what it may bid for."""
    return w.once(
        payload,
        NeedOut,
        lambda: NeedOut.of(
            register_need(
                w.session,
                actor=w.actor,
                enterprise=payload.enterprise,
                instrument=payload.instrument,
                approved_kg=payload.approved_kg,
                project=payload.project,
                now=w.registry.clock(),
            )
        ),
    )


@router.get("/enterprises/{party}/needs", response_model=list[NeedOut], responses=ERRORS)
def get_needs(party: str, actor: ActorDep, session: ReaderDep) -> list[NeedOut]:
    """An enterprise's approved needs (itself and the bureaus over it)."""
    return [NeedOut.of(n) for n in needs_of(session, actor=actor, enterprise=party)]


@router.post("/auctions", response_model=AuctionOut, responses=ERRORS)
def post_auction(payload: AuctionIn, key: CustodyKeyDep, w: WriteDep) -> AuctionOut:
    """A bureau opens an auction of reserve rights; the offered quantity goes on hold."""
    return w.once(
        payload,
        AuctionOut,
        lambda: AuctionOut.of(
            open_auction(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                terms=payload.terms(),
                valid_until=payload.valid_until,
                now=w.registry.clock(),
                payment_window=payload.payment_window,
            )
        ),
    )


@router.get("/auctions", response_model=Page[AuctionOut], responses=ERRORS)
def get_auctions(
    actor: ActorDep,
    session: ReaderDep,
    page: PageDep,
    status: Annotated[AuctionStatus | None, Query()] = None,
    jurisdiction: Annotated[str | None, Query(max_length=6)] = None,
) -> Page[AuctionOut]:
    """Auctions, newest first (terms and results are public: 竞价公告, 成交公示)."""
    found = list_auctions(session, actor=actor, jurisdiction=jurisdiction, status=status)
    return Page[AuctionOut].cut(found, page, AuctionOut.of)


@router.get("/auctions/{auction_id}", response_model=AuctionOut, responses=ERRORS)
def get_auction_route(auction_id: str, actor: ActorDep, session: ReaderDep) -> AuctionOut:
    """An auction's terms, status, live state (ascending: standing price, extended close) and result."""
    live = auction_live(session, actor=actor, auction_id=auction_id)
    return AuctionOut.of(get_auction(session, auction_id=auction_id), live)


@router.post("/auctions/{auction_id}/bids", response_model=BidOut, responses=ERRORS)
def post_bid(auction_id: str, payload: BidIn, key: CustodyKeyDep, w: WriteDep) -> BidOut:
    """An enterprise bids; its first bid places the deposit (保证金) in escrow."""
    return w.once(
        payload,
        BidOut,
        lambda: _placed(
            place_bid(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                auction_id=auction_id,
                price_fen_per_t=payload.price_fen_per_t,
                quantity_kg=payload.quantity_kg,
                now=w.registry.clock(),
            )
        ),
    )


def _placed(bid: AcceptedBid) -> BidOut:
    return BidOut.of(bid, sealed=bid.commitment is not None)  # just placed: a sealed bid is still sealed


@router.get("/auctions/{auction_id}/bids", response_model=list[BidOut], responses=ERRORS)
def get_bids(auction_id: str, actor: ActorDep, session: ReaderDep) -> list[BidOut]:
    """A bidder's own bids; all of them for the bureau running the auction once they are not sealed
    (after a sealed auction's result; an ascending auction's at any time). Before, the bureau gets
    409 ``bids_sealed`` with the number of bids and bidders, never a price."""
    bids = auction_bids(session, actor=actor, auction_id=auction_id)
    sealed = sealed_now(get_auction(session, auction_id=auction_id))
    return [BidOut.of(b, sealed=sealed) for b in bids]


@router.post("/auctions/{auction_id}/close", response_model=AuctionOut, responses=ERRORS)
def post_close(auction_id: str, key: CustodyKeyDep, w: WriteDep) -> AuctionOut:
    """The bureau closes bidding and records the signed result (not before the extended close)."""
    return w.once(
        None,
        AuctionOut,
        lambda: AuctionOut.of(
            close_auction(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                auction_id=auction_id,
                now=w.registry.clock(),
            )
        ),
    )


@router.get("/auctions/{auction_id}/result", response_model=ResultOut, responses=ERRORS)
def get_result(auction_id: str, actor: ActorDep, session: ReaderDep) -> ResultOut:
    """The recorded result (成交公示): clearing price, allocations, each winner's award, and every bid that
    won nothing with its reason, as the signed result record states them."""
    result = ResultOut.of(
        get_auction(session, auction_id=auction_id), rejections(session, auction_id=auction_id)
    )
    if result is None:
        raise AuctionStillOpen(f"auction {auction_id} has no result yet", auction_id=auction_id)
    return result


@router.get("/auctions/{auction_id}/settlements/{bidder}/draft", response_model=BodyOut, responses=ERRORS)
def get_settlement_draft(auction_id: str, bidder: str, actor: ActorDep, session: ReaderDep) -> BodyOut:
    """The settlement record of one winner, for the winner or the bureau to sign (self-custody)."""
    return BodyOut.of(settlement_draft(session, actor=actor, auction_id=auction_id, bidder=bidder))


@router.post("/auctions/{auction_id}/settlements", response_model=AwardOut, responses=ERRORS)
def post_settlement(auction_id: str, payload: SettlementIn, key: CustodyKeyDep, w: WriteDep) -> AwardOut:
    """Settle one winner, delivery versus payment (钱货两清): the bureau's and the winner's signatures."""
    return w.once(
        payload,
        AwardOut,
        lambda: AwardOut.of(
            settle_award(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=consent_with(w.actor.party, key, payload.signatures),
                auction_id=auction_id,
                bidder=payload.bidder,
                now=w.registry.clock(),
            )
        ),
    )


@router.post("/auctions/{auction_id}/forfeitures", response_model=AwardOut, responses=ERRORS)
def post_forfeiture(auction_id: str, payload: WinnerIn, key: CustodyKeyDep, w: WriteDep) -> AwardOut:
    """A winner who did not pay by the deadline forfeits its deposit (保证金没收) to the bureau."""
    return w.once(
        payload,
        AwardOut,
        lambda: AwardOut.of(
            forfeit_award(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                auction_id=auction_id,
                bidder=payload.bidder,
                now=w.registry.clock(),
            )
        ),
    )
