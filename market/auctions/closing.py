"""The close of an auction (排污权竞价): its result, signed by the bureau, that the ledger re-clears from
the revealed bids; the award holds placed on the reserve for the winners; the stored awards."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session

from accounts.model import Participant
from ledger.auction_book import BookBid, award_hold_id, result_meta, revealed_bid
from ledger.model import HoldPlace, HoldSettle, TxBody
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_utc
from market.auctions.errors import (
    AuctionClosed,
    AuctionStillOpen,
)
from market.auctions.model import ClearingResult, clear_with_caps, effective_close, eligible_needs
from market.auctions.needs import open_needs
from market.auctions.payment import open_payments
from market.auctions.state import (
    AcceptedBid,
    Auction,
    AuctionStatus,
    AwardStatus,
    auction_bid_list,
    authorize_bureau,
    aware,
    get_auction,
    held_amount,
)
from market.auctions.tables import AuctionAllocationRow, AuctionAwardRow, AuctionRow
from market.consent import Consent, submit_consented

__all__ = ["award_hold", "close_auction"]


def close_auction(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    now: datetime,
) -> Auction:
    """The bureau closes bidding, clears the auction and records the signed result (``auction.result``).

    Rules: not before the (extended) close; clearing by the auction's design (``market.auctions.model.clear``:
    price then arrival order, so at equal prices the earlier bid wins; the uniform design's clearing
    price, 成交价, is the lowest accepted bid, or the reserve if undersold). The same record, signed by
    the bureau, releases the auction's hold on the reserve and holds each winner's rights under an
    award hold (reason ``auction_award``), so the unsold part is free again; it releases the losers'
    deposits (保证金), while winners' stay in escrow toward payment. Winners pay before
    ``now + payment_window``, each by signing its payment proposal (``market.auctions.payment``),
    which the bureau signs here with the key it closes with.
    """
    now = aware(now)
    lock_head_time(session)
    auction = get_auction(session, auction_id=auction_id)
    authorize_bureau(actor, auction)
    if auction.status is not AuctionStatus.OPEN:
        raise AuctionClosed(f"auction {auction_id} is already {auction.status.value}", auction_id=auction_id)
    accepted = auction_bid_list(session, auction_id)
    bids = [b.bid for b in accepted]
    close = effective_close(auction.terms, bids)
    if now < close:
        raise AuctionStillOpen(
            f"bidding runs until {close.isoformat()}", auction_id=auction_id, closes_at=format_utc(close)
        )
    result = clear_with_caps(auction.terms, bids, _caps(session, auction, accepted))
    body = _result_body(session, auction, accepted, result)
    with session.begin_nested():
        receipt = submit_consented(
            session, registry=registry, actor=actor, signed_by=signed_by, body=body, signers=()
        )
        _store_result(session, auction, accepted, result, receipt.seq, now + auction.payment_window)
        # each award a payment proposal, the bureau consenting now: the winner's signature settles it
        open_payments(session, actor=actor, signed_by=signed_by, auction_id=auction_id, now=now)
    return get_auction(session, auction_id=auction_id)


def award_hold(auction: Auction, bidder: str) -> str:
    """The hold on the reserve that keeps a winner's rights from the close until it settles or forfeits."""
    return award_hold_id(auction.hold, bidder)


def _caps(session: Session, auction: Auction, accepted: list[AcceptedBid]) -> dict[str, int]:
    """Each bidder's need for the clearing: the largest need its bids reserved when they were accepted,
    exactly what the ledger re-runs the clearing with, so no accepted bid is voided by another auction.
    Bids placed before reservations existed clear against the needs left now, as they did then."""
    if any(b.need_kg is None for b in accepted):
        return eligible_needs(auction.terms, open_needs(session, auction))
    caps: dict[str, int] = {}
    for b in accepted:
        assert b.need_kg is not None
        caps[b.bid.bidder] = max(caps.get(b.bid.bidder, 0), b.need_kg)
    return caps


def _revealed(auction: Auction, accepted: list[AcceptedBid]) -> list[dict[str, Any]]:
    """Every bid as the result reveals it: its terms and, sealed, the salt that opens its commitment."""
    out = []
    for b in accepted:
        book = BookBid(b.bid.seq, b.bid.bidder, b.bid.at, b.need_kg or 0, b.deposit_fen, b.deposit_hold)
        salt = None if b.salt is None else bytes.fromhex(b.salt)
        out.append(revealed_bid(book, b.bid.price_fen_per_t, b.bid.quantity_kg, salt))
    return out


def _result_body(
    session: Session, auction: Auction, accepted: list[AcceptedBid], result: ClearingResult
) -> TxBody:
    winners = result.winners()
    reserve = auction.source_account  # the reserve, or a forced auction's bank holding
    ops: list[HoldSettle | HoldPlace] = [
        HoldSettle("release", auction.hold, held_amount(session, auction.hold))
    ]
    ops += [
        HoldPlace(
            award_hold(auction, bidder),
            reserve,
            auction.terms.instrument,
            auction.lot,
            result.awarded_kg(bidder),
            "auction_award",
            auction.bureau,
        )
        for bidder in winners
    ]
    ops += [
        HoldSettle("release", b.deposit_hold, held_amount(session, b.deposit_hold))
        for b in accepted
        if b.deposit_hold is not None and b.bid.bidder not in winners
    ]
    meta = result_meta(auction.auction_id, result, _revealed(auction, accepted), [])
    return TxBody("auction.result", new_nonce(), holds=tuple(ops), signers=(auction.bureau,), meta=meta)


def _store_result(
    session: Session,
    auction: Auction,
    accepted: list[AcceptedBid],
    result: ClearingResult,
    seq: int,
    payment_due: datetime,
) -> None:
    row = session.get(AuctionRow, auction.auction_id)
    assert row is not None  # read above under the sequencer lock
    row.status = (AuctionStatus.CLOSED if result.allocations else AuctionStatus.SETTLED).value
    row.result_seq = seq
    row.closed_at = format_utc(result.closed_at)
    row.payment_due = format_utc(payment_due)
    row.clearing_price_fen_per_t = result.clearing_price_fen_per_t
    row.winning_share = result.winning_share
    row.sold_kg, row.unsold_kg, row.revenue_fen = result.sold_kg, result.unsold_kg, result.revenue_fen
    session.add(row)
    for idx, a in enumerate(result.allocations):
        session.add(
            AuctionAllocationRow(
                auction_id=auction.auction_id,
                idx=idx,
                bidder=a.bidder,
                quantity_kg=a.quantity_kg,
                price_fen_per_t=a.price_fen_per_t,
                amount_fen=a.amount_fen,
                bid_seqs=",".join(map(str, a.bid_seqs)),
            )
        )
    deposits: dict[str, int] = defaultdict(int)
    for b in accepted:
        deposits[b.bid.bidder] += b.deposit_fen
    for bidder, due in result.amounts_due_fen().items():
        session.add(
            AuctionAwardRow(
                auction_id=auction.auction_id,
                bidder=bidder,
                quantity_kg=result.awarded_kg(bidder),
                amount_fen=due,
                deposit_fen=deposits[bidder],
                hold=award_hold(auction, bidder),
                status=AwardStatus.PENDING.value,
            )
        )
    session.flush()
