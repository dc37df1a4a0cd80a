"""After the bidding (排污权竞价): delivery-versus-payment settlement (钱货两清) of each winner in one ledger
record, and forfeiture of the deposit (保证金) of a winner who does not pay in time; the close is ``closing``,
the payment proposal each winner signs is ``payment``, the record's body ``dvp``.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from ledger.model import HoldSettle, Lot, Posting, TxBody
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_utc
from market.auctions import dvp
from market.auctions.closing import award_hold, close_auction
from market.auctions.dvp import average_price, pending_award, record_award, settlement_body
from market.auctions.errors import PaymentWindowOpen
from market.auctions.payment import settle_auction, settle_award
from market.auctions.state import Award, AwardStatus, authorize_bureau, aware
from market.consent import Consent

__all__ = [
    "average_price",
    "award_hold",
    "close_auction",
    "forfeit_award",
    "settle_auction",
    "settle_award",
    "settlement_draft",
]


def settlement_draft(session: Session, *, actor: Participant, auction_id: str, bidder: str) -> TxBody:
    """The record that would settle ``bidder``'s pending award, for the winner or the bureau to sign
    (self-custody clients). Shown to those two only; writes nothing."""
    auction, award = pending_award(session, auction_id, bidder)
    if actor.party != bidder:
        authorize_bureau(actor, auction)
    return settlement_body(session, auction, award)


# Kept under its old name: tests forge records from the honest body.
_settlement_body = settlement_body


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
    auction, award = pending_award(session, auction_id, bidder)
    authorize_bureau(actor, auction)
    assert auction.result is not None
    if now < auction.result.payment_due:
        raise PaymentWindowOpen(
            f"{bidder} may pay until {format_utc(auction.result.payment_due)}",
            auction_id=auction_id,
            bidder=bidder,
        )
    ops = [HoldSettle("release", award.hold, award.quantity_kg)]
    deposit_ops = dvp.deposit_ops(session, auction_id, bidder, capture_fen=None)
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
    return record_award(session, registry, actor, signed_by, auction_id, bidder, body, AwardStatus.FORFEITED)
