"""After the bidding (排污权竞价): delivery-versus-payment settlement (钱货两清) of each winner in one ledger
record, and forfeiture of the deposit (保证金) of a winner who does not pay in time; the close is ``closing``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session, col, func, select

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory
from ledger.errors import DomainError
from ledger.model import HoldSettle, Lot, Posting, TxBody
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_utc
from market.auctions.closing import award_hold, close_auction
from market.auctions.errors import (
    AwardNotPending,
    PaymentOverdue,
    PaymentWindowOpen,
    UnknownAward,
)
from market.auctions.model import Allocation
from market.auctions.state import (
    AcceptedBid,
    Auction,
    AuctionStatus,
    Award,
    AwardStatus,
    auction_bid_list,
    authorize_bureau,
    aware,
    get_auction,
    held_amount,
)
from market.auctions.tables import AuctionAwardRow, AuctionRow
from market.consent import Consent, submit_consented

__all__ = [
    "average_price",
    "award_hold",
    "close_auction",
    "forfeit_award",
    "settle_auction",
    "settle_award",
    "settlement_draft",
]


# -- settlement: delivery versus payment, one record per winner ---------------------------------


def settle_award(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    bidder: str,
    now: datetime,
) -> Award:
    """Delivery versus payment (钱货两清) for one winner, in one ledger record (``auction.settle``).

    The rights leave the reserve by capturing the winner's award hold (placed at the close) and enter its
    holding account; the price (成交价 x quantity) leaves its cash, first by capturing its deposit
    (保证金) and then from free cash, into the bureau's cash; any deposit beyond the price is
    released. Both the bureau (the holds' controller) and the winner sign: all of it moves, or
    nothing. Rules: a pending award, before the payment deadline (afterwards the deposit is forfeit).
    One record per winner, so one winner who cannot pay blocks nobody else. Either party may submit;
    the other's consent may be its own signatures over the body ``settlement_draft`` shows (the body
    is fixed by the result, its nonce derived from the auction and the winner).
    """
    now = aware(now)
    lock_head_time(session)
    auction, award = _pending(session, auction_id, bidder)
    return _settle(session, registry, actor, signed_by, auction, award, now)


def _settle(
    session: Session,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction: Auction,
    award: Award,
    now: datetime,
) -> Award:
    auction_id, bidder = auction.auction_id, award.bidder
    if actor.party == bidder:
        authorize(actor, Action.BID, party_target(bidder, SessionDirectory(session)))
    else:
        authorize_bureau(actor, auction)
    assert auction.result is not None  # an award exists only once the result is recorded
    if now >= auction.result.payment_due:
        raise PaymentOverdue(
            f"payment was due before {format_utc(auction.result.payment_due)}; the deposit is forfeit",
            auction_id=auction_id,
            bidder=bidder,
        )
    body = _settlement_body(session, auction, award)
    return _record(session, registry, actor, signed_by, auction, bidder, body, AwardStatus.SETTLED)


def settlement_draft(session: Session, *, actor: Participant, auction_id: str, bidder: str) -> TxBody:
    """The record that would settle ``bidder``'s pending award, for the winner or the bureau to sign
    (self-custody clients). Shown to those two only; writes nothing."""
    auction, award = _pending(session, auction_id, bidder)
    if actor.party != bidder:
        authorize_bureau(actor, auction)
    return _settlement_body(session, auction, award)


def _settlement_body(session: Session, auction: Auction, award: Award) -> TxBody:
    assert auction.result is not None
    auction_id, bidder = auction.auction_id, award.bidder
    terms, lot = auction.terms, auction.lot
    ops = [HoldSettle("capture", award.hold, award.quantity_kg)]
    ops += _deposit_ops(session, auction_id, bidder, capture_fen=award.amount_fen)
    postings = [
        Posting(account_id(auction.bureau, "reserve"), terms.instrument, lot, -award.quantity_kg),
        Posting(account_id(bidder, "holding"), terms.instrument, lot, award.quantity_kg),
    ]
    if award.amount_fen:
        postings += [
            Posting(account_id(bidder, "cash"), "CNY", Lot(), -award.amount_fen),
            Posting(account_id(auction.bureau, "cash"), "CNY", Lot(), award.amount_fen),
        ]
    meta = {
        "auction_id": auction_id,
        "bidder": bidder,
        "quantity_kg": award.quantity_kg,
        "price_fen_per_t": average_price(auction.result.allocations, bidder),
        "amount_fen": award.amount_fen,
    }
    # A nonce derived from the auction and the winner, so both parties can sign the same body apart;
    # the award settles once, so the body is applied at most once.
    nonce = "settle." + hashlib.sha256(f"{auction_id}\x00{bidder}".encode()).hexdigest()[:40]
    return TxBody(
        "auction.settle",
        nonce,
        tuple(postings),
        holds=tuple(ops),
        signers=(auction.bureau, bidder),
        meta=meta,
    )


def settle_auction(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    now: datetime,
) -> dict[str, Award | DomainError]:
    """The bureau settles every pending award, each in its own record and savepoint.

    A winner whose settlement is refused (it cannot pay the balance, or its key is not in ``keys``)
    is reported with the refusal and stays pending, to pay later or to forfeit after the deadline;
    the others settle regardless.
    """
    now = aware(now)
    lock_head_time(session)
    # One read of the auction for the whole run: each award is settled once, so the snapshot's
    # pending awards stay the ones to settle (re-reading it per winner made the run quadratic).
    auction = get_auction(session, auction_id=auction_id)
    authorize_bureau(actor, auction)
    pending = [] if auction.result is None else auction.result.awards
    out: dict[str, Award | DomainError] = {}
    for award in pending:
        if award.status is not AwardStatus.PENDING:
            continue
        try:
            out[award.bidder] = _settle(session, registry, actor, signed_by, auction, award, now)
        except DomainError as exc:
            out[award.bidder] = exc
    return out


def forfeit_award(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    bidder: str,
    now: datetime,
) -> Award:
    """A winner who did not pay by the deadline forfeits its whole deposit (保证金没收) to the bureau.

    One record (``auction.forfeit``, signed by the bureau, the controller of both holds): the
    deposit holds are captured into the bureau's cash and the award hold on its rights is
    released, so those rights stay in the reserve, free for another sale. Rules: the bureau running
    the auction; a pending award; on or after the payment deadline.
    """
    now = aware(now)
    lock_head_time(session)
    auction, award = _pending(session, auction_id, bidder)
    authorize_bureau(actor, auction)
    assert auction.result is not None
    if now < auction.result.payment_due:
        raise PaymentWindowOpen(
            f"{bidder} may pay until {format_utc(auction.result.payment_due)}",
            auction_id=auction_id,
            bidder=bidder,
        )
    ops = [HoldSettle("release", award.hold, award.quantity_kg)]
    deposit_ops = _deposit_ops(session, auction_id, bidder, capture_fen=None)
    forfeited = sum(op.amount for op in deposit_ops)
    postings: tuple[Posting, ...] = ()
    if forfeited:
        postings = (
            Posting(account_id(bidder, "cash"), "CNY", Lot(), -forfeited),
            Posting(account_id(auction.bureau, "cash"), "CNY", Lot(), forfeited),
        )
    meta = {
        "auction_id": auction_id,
        "bidder": bidder,
        "quantity_kg": award.quantity_kg,
        "forfeited_fen": forfeited,
    }
    body = TxBody(
        "auction.forfeit",
        new_nonce(),
        postings,
        holds=(*ops, *deposit_ops),
        signers=(auction.bureau,),
        meta=meta,
    )
    return _record(session, registry, actor, signed_by, auction, bidder, body, AwardStatus.FORFEITED)


def average_price(allocations: tuple[Allocation, ...], bidder: str) -> int:
    """The winner's price in fen/t: its one price, or the quantity-weighted mean of several (pay-as-bid
    and 网络竞价 fill each bid at its own price), rounded half up. The amount stays the exact sum."""
    mine = [a for a in allocations if a.bidder == bidder]
    kg = sum(a.quantity_kg for a in mine)
    return (sum(a.quantity_kg * a.price_fen_per_t for a in mine) + kg // 2) // kg


def _pending(session: Session, auction_id: str, bidder: str) -> tuple[Auction, Award]:
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


def _deposit_ops(
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


def _record(
    session: Session,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction: Auction,
    bidder: str,
    body: TxBody,
    status: AwardStatus,
) -> Award:
    """Submit an award's record and mark the award done; the auction is settled with its last award."""
    with session.begin_nested():
        receipt = submit_consented(
            session, registry=registry, actor=actor, signed_by=signed_by, body=body, signers=body.signers
        )
        row = session.get(AuctionAwardRow, (auction.auction_id, bidder))
        assert row is not None
        row.status, row.done_seq = status.value, receipt.seq
        session.add(row)
        others_pending = session.exec(
            select(func.count())
            .select_from(AuctionAwardRow)
            .where(
                col(AuctionAwardRow.auction_id) == auction.auction_id,
                col(AuctionAwardRow.bidder) != bidder,
                col(AuctionAwardRow.status) == AwardStatus.PENDING.value,
            )
        ).one()
        if others_pending == 0:
            auction_row = session.get(AuctionRow, auction.auction_id)
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
