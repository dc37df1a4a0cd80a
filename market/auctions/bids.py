"""Bids (竞价) as journal records: each one signed by its bidder, sealed by a commitment in the sealed
designs, reserving the bidder's need across open auctions; and what each party may see of them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, get_participant
from ledger.auction_book import SALT_BYTES, bid_commitment
from ledger.errors import InsufficientBalance
from ledger.model import HoldPlace, Lot, TxBody
from ledger.service import Registry, journal_lines, lock_head_time, new_nonce
from ledger.timeutil import parse_utc
from market.auctions.errors import AuctionClosed, BidExceedsNeed, BidsSealed
from market.auctions.model import (
    AuctionDesign,
    Bid,
    Need,
    RejectedBid,
    RejectReason,
    check_bid,
    effective_close,
    required_deposit,
)
from market.auctions.needs import need_left
from market.auctions.state import (
    AcceptedBid,
    Auction,
    AuctionStatus,
    auction_bid_list,
    authorize_bureau,
    aware,
    free_units,
    get_auction,
)
from market.auctions.tables import AuctionBidRow
from market.consent import Consent, submit_consented

__all__ = [
    "AuctionLive",
    "auction_bids",
    "auction_live",
    "bidder_need",
    "place_bid",
    "rejections",
    "sealed_now",
]


def sealed_now(auction: Auction) -> bool:
    """A sealed design before its result: no price, no bidder and no count of bids shows to anyone."""
    return auction.terms.design is not AuctionDesign.ASCENDING and auction.result is None


def place_bid(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    price_fen_per_t: int,
    quantity_kg: int,
    now: datetime,
) -> AcceptedBid:
    """An enterprise bids (竞价): one ``auction.bid`` journal record it signs.

    Rules (``market.auctions.model.check_bid``, then the ledger's ``ledger.auction_rules``): an approved need
    (项目需求) for this right in this jurisdiction, within the (possibly extended) window, at or above
    the reserve (or on the ascending ladder), within the bid limit, and for no more than the need left
    for this auction: approved, less the awards of other auctions and what the bidder's bids in the
    other open auctions reserve (``bid_exceeds_need`` otherwise). The bid reserves min(that need, the
    quantity offered) until the result, so no other auction can void it. The record holds the deposit
    (保证金) still due on the bidder's cash (reason ``auction_deposit``, controller the bureau): the
    auction's rule applied to the most the bidder could win. A sealed bid's record holds only a
    commitment (SHA-256 over its terms and a random salt the registry keeps); an ascending bid's its terms.
    """
    now = aware(now)
    authorize(actor, Action.BID, party_target(actor.party, SessionDirectory(session)))
    lock_head_time(session)  # bids are numbered, and needs reserved, against the bids before them
    auction = get_auction(session, auction_id=auction_id)
    if auction.status is not AuctionStatus.OPEN:
        raise AuctionClosed(f"auction {auction_id} is {auction.status.value}", auction_id=auction_id)
    existing = auction_bid_list(session, auction_id)
    approved, left = need_left(session, auction, actor.party)
    terms = auction.terms
    needs = [Need(actor.party, terms.instrument, terms.jurisdiction, approved)] if approved else []
    bid = Bid(actor.party, price_fen_per_t, quantity_kg, len(existing) + 1, now)
    check_bid(terms, bid, needs=needs, existing_bids=[b.bid for b in existing], now=now)
    if quantity_kg > left:  # within the approved need, but other auctions' bids and awards hold the rest
        raise BidExceedsNeed(
            f"{quantity_kg} kg exceeds the {left} kg of need left: other auctions hold the rest",
            field="quantity_kg",
            quantity_kg=quantity_kg,
            need_kg=left,
        )
    mine = [b for b in existing if b.bid.bidder == actor.party]
    most_need = max([left, *(b.need_kg or 0 for b in mine)])
    top_up = max(0, required_deposit(terms, most_need) - sum(b.deposit_fen for b in mine))
    return _record(session, registry, actor, signed_by, auction, bid, left, top_up)


def _record(
    session: Session,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction: Auction,
    bid: Bid,
    need_kg: int,
    deposit_fen: int,
) -> AcceptedBid:
    """Write the bid's record and its row together; the row keeps the salt and the terms it seals."""
    salt = secrets.token_bytes(SALT_BYTES) if auction.terms.design is not AuctionDesign.ASCENDING else None
    body = _bid_body(session, auction, bid, need_kg, deposit_fen, salt)
    with session.begin_nested():
        receipt = submit_consented(
            session, registry=registry, actor=actor, signed_by=signed_by, body=body, signers=()
        )
        row = AuctionBidRow(
            auction_id=auction.auction_id,
            seq=bid.seq,
            bidder=bid.bidder,
            price_fen_per_t=bid.price_fen_per_t,
            quantity_kg=bid.quantity_kg,
            at=receipt.time,  # the record's time: the ledger checks the window and extensions by it
            deposit_fen=deposit_fen,
            deposit_hold=body.holds[0].hold if body.holds else None,
            deposit_seq=receipt.seq if body.holds else None,
            record_seq=receipt.seq,
            need_kg=need_kg,
            commitment=body.meta.get("commitment"),
            salt=None if salt is None else salt.hex(),
        )
        session.add(row)
        session.flush()
    placed = Bid(bid.bidder, bid.price_fen_per_t, bid.quantity_kg, bid.seq, parse_utc(receipt.time))
    return AcceptedBid(
        placed, deposit_fen, row.deposit_hold, row.deposit_seq, receipt.seq, need_kg, row.commitment, row.salt
    )


def _bid_body(
    session: Session, auction: Auction, bid: Bid, need_kg: int, deposit_fen: int, salt: bytes | None
) -> TxBody:
    """The bid record, with the deposit hold still due on the bidder's free cash."""
    meta: dict[str, Any] = {
        "auction_id": auction.auction_id,
        "bidder": bid.bidder,
        "need_kg": need_kg,
        "deposit_fen": deposit_fen,
    }
    if salt is None:  # ascending (增价竞价): an open outcry, its bids public by nature
        meta |= {"price_fen_per_t": bid.price_fen_per_t, "quantity_kg": bid.quantity_kg}
    else:
        meta["commitment"] = bid_commitment(
            auction.auction_id, bid.bidder, bid.price_fen_per_t, bid.quantity_kg, salt
        )
        meta["salt"] = "registry"  # the registry keeps it for its custody bidder: the result must reveal it
    holds: tuple[HoldPlace, ...] = ()
    if deposit_fen:
        cash = account_id(bid.bidder, "cash")
        available = free_units(session, account=cash, instrument="CNY", lot=Lot())
        if available < deposit_fen:
            raise InsufficientBalance(
                f"{bid.bidder} has {available} fen free; the deposit (保证金) is {deposit_fen} fen",
                account=cash,
                instrument="CNY",
                lot="",
                available=available,
                field="deposit",
            )
        # A random hold id: one numbered by the bid would tell a bidder how many bids came before.
        hold = f"{auction.hold}:deposit:{secrets.token_hex(8)}"
        holds = (HoldPlace(hold, cash, "CNY", Lot(), deposit_fen, "auction_deposit", auction.bureau),)
    return TxBody("auction.bid", new_nonce(), holds=holds, signers=(bid.bidder,), meta=meta)


def rejections(session: Session, *, auction_id: str) -> tuple[RejectedBid, ...]:
    """Every bid that won nothing, with its reason, as the signed result record states it (成交公示);
    empty before the result, and for results recorded before bids were journal records."""
    auction = get_auction(session, auction_id=auction_id)
    if auction.result is None:
        return ()
    seq = auction.result.result_seq
    line = next(journal_lines(session, start=seq, stop=seq + 1))
    meta = json.loads(line)["record"]["body"]["meta"]
    return tuple(
        RejectedBid(r["seq"], r["bidder"], RejectReason(r["reason"])) for r in meta.get("rejected", ())
    )


def auction_bids(session: Session, *, actor: Participant, auction_id: str) -> list[AcceptedBid]:
    """The bids of an auction in arrival order: a bidder sees its own; the bureau running it sees them
    all once the result is recorded (or, in an ascending auction, open by nature, at any time). Before
    a sealed auction's result the bureau sees counts only: ``BidsSealed`` carries them."""
    auction = get_auction(session, auction_id=auction_id)
    bids = auction_bid_list(session, auction_id)
    if actor.party == auction.bureau:
        authorize_bureau(actor, auction)
        if sealed_now(auction):
            raise BidsSealed(
                f"the bids of auction {auction_id} stay sealed until its result",
                auction_id=auction_id,
                bids=len(bids),
                bidders=len({b.bid.bidder for b in bids}),
            )
        return bids
    authorize(actor, Action.READ_ACCOUNT, party_target(actor.party, SessionDirectory(session)))
    return [b for b in bids if b.bid.bidder == actor.party]


@dataclass(frozen=True, slots=True)
class AuctionLive:
    """What a participant may watch of an auction while it runs: its (possibly extended) close and, in
    an ascending auction only, the standing price, the next acceptable one and the bid count. Of a
    sealed auction the bureau running it sees how many bids and bidders, nobody sees a price."""

    auction_id: str
    status: AuctionStatus
    closes_at: datetime
    standing_fen_per_t: int | None
    next_fen_per_t: int | None
    bids: int | None
    bidders: int | None = None


def auction_live(session: Session, *, actor: Participant, auction_id: str) -> AuctionLive:
    """The live state of an auction. An ascending auction (增价竞价) is an open outcry: its standing
    price is public, and each bid in the timed stage extends the close (anti-sniping). Sealed designs
    reveal no price before the result, and their bid count to the running bureau alone."""
    get_participant(session, party=actor.party)
    auction = get_auction(session, auction_id=auction_id)
    bids = [b.bid for b in auction_bid_list(session, auction_id)]
    terms = auction.terms
    if terms.design is not AuctionDesign.ASCENDING:
        counts = (len(bids), len({b.bidder for b in bids})) if actor.party == auction.bureau else (None, None)
        return AuctionLive(auction_id, auction.status, terms.closes_at, None, None, *counts)
    assert terms.increment_fen_per_t is not None  # AuctionTerms guarantees it for ascending
    standing = max((b.price_fen_per_t for b in bids), default=None)
    following = terms.start_fen_per_t if standing is None else standing + terms.increment_fen_per_t
    return AuctionLive(
        auction_id,
        auction.status,
        effective_close(terms, bids),
        standing,
        following,
        len(bids),
        len({b.bidder for b in bids}),
    )


def bidder_need(session: Session, *, actor: Participant, auction_id: str) -> int:
    """What the actor may still bid for in this auction (kg): its approved needs (项目需求) for the
    right in the auction's jurisdiction, less the awards of other auctions and what its bids in the
    others still open reserve; 0 if none."""
    authorize(actor, Action.BID, party_target(actor.party, SessionDirectory(session)))
    return need_left(session, get_auction(session, auction_id=auction_id), actor.party)[1]
