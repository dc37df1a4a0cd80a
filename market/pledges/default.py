"""The end of a default (拍卖处置): the pledgee bank enforces the pledge if it has not yet, and it (or,
after enforcement, the bureau) puts the enforced rights up for a forced auction whose proceeds pay the
bank first (principal and interest), the rest to the enterprise. Why a bank never sells them
bilaterally: docs/forced-sale.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from accounts.model import Participant
from ledger.forced_sale import ForcedClaim, claim_cap
from ledger.pledge_terms import PledgeLoan
from ledger.service import Registry, find_claim
from market.auctions.forced import open_forced_auction
from market.auctions.model import AuctionTerms
from market.auctions.state import DEFAULT_PAYMENT_WINDOW, Auction
from market.consent import Consent
from market.pledges.errors import PledgeStateConflict
from market.pledges.model import PledgeStatus
from market.pledges.settlement import _reason, enforce_pledge
from market.pledges.store import pledge_row, save_pledge

__all__ = ["claim_now", "start_forced_auction"]


def claim_now(session: Session, *, pledge_id: str, on: datetime) -> ForcedClaim:
    """The bank's claim on a defaulted pledge: fixed by its first forced auction, else the signed
    principal and simple interest at the signed rate up to ``on`` (``ledger.forced_sale.claim_cap``)."""
    row = pledge_row(session, pledge_id)
    known = find_claim(session, pledge=pledge_id)
    if known is not None:
        return known
    if (
        row.loan_amount_fen is None
        or row.rate_bp is None
        or row.term_months is None
        or row.loan_start is None
    ):
        raise PledgeStateConflict(f"pledge {pledge_id} has no recorded loan to claim on", pledge=pledge_id)
    loan = PledgeLoan(
        row.loan_id or "",
        row.loan_amount_fen,
        row.rate_bp,
        row.term_months,
        datetime.fromisoformat(row.loan_start).date(),
    )
    principal, interest = claim_cap(loan, on.date())
    return ForcedClaim(pledge_id, row.bank, row.enterprise, principal, interest)


def start_forced_auction(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    pledge_id: str,
    terms: AuctionTerms,
    reason: str,
    now: datetime,
    payment_window: timedelta = DEFAULT_PAYMENT_WINDOW,
) -> Auction:
    """拍卖处置: the controlling bank captures what the pledge still holds (``pledge.enforce``) and opens
    a forced auction of ``terms.quantity_kg`` of the enforced rights (``auction.open`` with its claim),
    both under its signature, in this one database transaction. Or the bureau of the pledge opens it,
    once the bank has enforced the pledge, claiming the signed principal and interest to the day (a
    bank that was partly repaid starts the sale itself, with its lower claim). ``terms`` names the
    pledge's instrument and jurisdiction. The pledge is then ``forced_auction``, its claim fixed."""
    row = pledge_row(session, pledge_id)
    _reason(reason)
    if row.status not in (PledgeStatus.ACTIVE, PledgeStatus.FORCED_AUCTION, PledgeStatus.ENFORCED):
        raise PledgeStateConflict(
            f"pledge {pledge_id} is {row.status}: only an active or enforced pledge goes to forced auction",
            pledge=pledge_id,
            status=row.status,
        )
    if actor.party == row.bureau and row.held_kg > 0:
        raise PledgeStateConflict(
            f"pledge {pledge_id} still holds {row.held_kg} kg: the bank enforces it before the bureau "
            "may start its forced sale",
            pledge=pledge_id,
            status=row.status,
        )
    if row.held_kg > 0:
        enforce_pledge(session, registry=registry, actor=actor, pledge_id=pledge_id, signed_by=signed_by)
    pledge = save_pledge(session, pledge_row(session, pledge_id))
    if (terms.instrument, terms.jurisdiction) != (pledge.instrument, pledge.lot.jurisdiction):
        raise PledgeStateConflict(
            f"pledge {pledge_id} is of {pledge.instrument} in {pledge.lot.jurisdiction}", pledge=pledge_id
        )
    assert pledge.lot.valid_until is not None  # pledged rights always have a validity end
    claim = claim_now(session, pledge_id=pledge_id, on=registry.clock())
    auction = open_forced_auction(
        session,
        registry=registry,
        actor=actor,
        signed_by=signed_by,
        terms=terms,
        valid_until=pledge.lot.valid_until,
        claim=claim,
        now=now,
        payment_window=payment_window,
    )
    row = pledge_row(session, pledge_id)
    row.status, row.claim_fen, row.closed_by, row.reason = (
        PledgeStatus.FORCED_AUCTION.value,
        claim.claim_fen,
        actor.party,
        reason,
    )
    save_pledge(session, row)
    return auction
