"""Delivery versus payment (钱货两清) of one award: the settlement record's body, fixed by the result, and
the write that records an award's settlement or forfeiture. Used by ``payment`` and ``settlement``."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session, col, func, select

from accounts.identifiers import account_id
from accounts.model import Participant
from ledger.forced_sale import FORCED_SETTLE, forced_split
from ledger.model import HoldSettle, Lot, Posting, TxBody
from ledger.service import Registry, find_claim
from market.auctions.errors import AwardNotPending, UnknownAward
from market.auctions.model import Allocation
from market.auctions.state import (
    AcceptedBid,
    Auction,
    AuctionStatus,
    Award,
    AwardStatus,
    auction_bid_list,
    get_auction,
    held_amount,
)
from market.auctions.tables import AuctionAwardRow, AuctionRow
from market.consent import Consent, submit_consented

__all__ = ["average_price", "deposit_ops", "pending_award", "record_award", "settlement_body"]


def settlement_body(session: Session, auction: Auction, award: Award) -> TxBody:
    """The record that settles ``award``: the rights from its award hold to the winner's holding, the
    price from its deposit (then free cash) to the bureau, or in a forced auction to the bank up to
    its claim and the rest to the enterprise. Fixed by the result while the award is pending."""
    assert auction.result is not None
    auction_id, bidder = auction.auction_id, award.bidder
    terms, lot = auction.terms, auction.lot
    ops = [HoldSettle("capture", award.hold, award.quantity_kg)]
    ops += deposit_ops(session, auction_id, bidder, capture_fen=award.amount_fen)
    postings = [
        Posting(auction.source_account, terms.instrument, lot, -award.quantity_kg),
        Posting(account_id(bidder, "holding"), terms.instrument, lot, award.quantity_kg),
    ]
    meta: dict[str, Any] = {
        "auction_id": auction_id,
        "bidder": bidder,
        "quantity_kg": award.quantity_kg,
        "price_fen_per_t": average_price(auction.result.allocations, bidder),
        "amount_fen": award.amount_fen,
    }
    action = "auction.settle"
    if award.amount_fen:
        postings.append(Posting(account_id(bidder, "cash"), "CNY", Lot(), -award.amount_fen))
    if auction.pledge is not None:  # 拍卖处置: the bank first, up to its claim; the rest to the enterprise
        action = FORCED_SETTLE
        claim = find_claim(session, pledge=auction.pledge)
        assert claim is not None  # the forced auction's open record fixed it
        to_bank, to_owner = forced_split(paid_fen=award.amount_fen, outstanding_fen=claim.outstanding_fen)
        postings += [
            Posting(account_id(party, "cash"), "CNY", Lot(), amount)
            for party, amount in ((claim.bank, to_bank), (claim.enterprise, to_owner))
            if amount
        ]
        meta.update(pledge=auction.pledge, to_bank_fen=to_bank, to_enterprise_fen=to_owner)
    elif award.amount_fen:
        postings.append(Posting(account_id(auction.bureau, "cash"), "CNY", Lot(), award.amount_fen))
    # A nonce derived from the auction and the winner, so both parties can sign the same body apart;
    # the award settles once, so the body is applied at most once.
    nonce = "settle." + hashlib.sha256(f"{auction_id}\x00{bidder}".encode()).hexdigest()[:40]
    return TxBody(
        action,
        nonce,
        tuple(postings),
        holds=tuple(ops),
        signers=(auction.bureau, bidder),
        meta=meta,
    )


def average_price(allocations: tuple[Allocation, ...], bidder: str) -> int:
    """The winner's price in fen/t: its one price, or the quantity-weighted mean of several (pay-as-bid
    and 网络竞价 fill each bid at its own price), rounded half up. The amount stays the exact sum."""
    mine = [a for a in allocations if a.bidder == bidder]
    kg = sum(a.quantity_kg for a in mine)
    return (sum(a.quantity_kg * a.price_fen_per_t for a in mine) + kg // 2) // kg


def pending_award(session: Session, auction_id: str, bidder: str) -> tuple[Auction, Award]:
    """The auction and ``bidder``'s award in it, refused unless the award is still pending."""
    auction = get_auction(session, auction_id=auction_id)
    award = None if auction.result is None else auction.result.award(bidder)
    if award is None:
        raise UnknownAward(
            f"{bidder} won nothing in auction {auction_id}", auction_id=auction_id, field="bidder"
        )
    if award.status is not AwardStatus.PENDING:
        raise AwardNotPending(
            f"{bidder}'s award in auction {auction_id} is already {award.status.value}",
            auction_id=auction_id,
            bidder=bidder,
        )
    return auction, award


def deposit_ops(
    session: Session, auction_id: str, bidder: str, *, capture_fen: int | None
) -> list[HoldSettle]:
    """Capture up to ``capture_fen`` of the bidder's deposit holds, in bid order, and release the rest;
    ``None`` captures them whole (forfeiture)."""
    ops: list[HoldSettle] = []
    left_to_capture = capture_fen
    deposits: list[AcceptedBid] = [
        b for b in auction_bid_list(session, auction_id, bidder=bidder) if b.deposit_hold
    ]
    for b in deposits:
        assert b.deposit_hold is not None
        held = held_amount(session, b.deposit_hold)
        take = held if left_to_capture is None else min(held, left_to_capture)
        if take:
            ops.append(HoldSettle("capture", b.deposit_hold, take))
        if held - take:
            ops.append(HoldSettle("release", b.deposit_hold, held - take))
        if left_to_capture is not None:
            left_to_capture -= take
    return ops


def record_award(
    session: Session,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    bidder: str,
    body: TxBody,
    status: AwardStatus,
) -> Award:
    """Submit an award's record and mark the award done; the auction is settled with its last award."""
    with session.begin_nested():
        receipt = submit_consented(
            session, registry=registry, actor=actor, signed_by=signed_by, body=body, signers=body.signers
        )
        row = session.get(AuctionAwardRow, (auction_id, bidder))
        assert row is not None
        row.status, row.done_seq = status.value, receipt.seq
        session.add(row)
        others_pending = session.exec(
            select(func.count())
            .select_from(AuctionAwardRow)
            .where(
                col(AuctionAwardRow.auction_id) == auction_id,
                col(AuctionAwardRow.bidder) != bidder,
                col(AuctionAwardRow.status) == AwardStatus.PENDING.value,
            )
        ).one()
        if others_pending == 0:
            auction_row = session.get(AuctionRow, auction_id)
            assert auction_row is not None
            auction_row.status = AuctionStatus.SETTLED.value
            session.add(auction_row)
        session.flush()
    return Award(
        bidder,
        row.quantity_kg,
        row.amount_fen,
        row.deposit_fen,
        row.hold,
        AwardStatus(row.status),
        row.done_seq,
    )
