"""After registration (排污权抵质押): release on repayment, enforcement on default (处置), a forced auction of
the pledged rights, and cancelling a pledge that never reached the ledger."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action, authorize, denied, target_of
from accounts.service import SessionDirectory, submit_as
from ledger.errors import (
    InvalidInput,
)
from ledger.model import TxBody
from ledger.service import Instruction, Registry
from ledger.timeutil import utc_now
from ledger.units import check_amount
from market.consent import Consent, consent

# -- after registration ---------------------------------------------------------------------------

__all__ = [
    "cancel_pledge",
    "enforce_pledge",
    "release_pledge",
    "request_forced_auction",
]
from market.pledges.model import IN_PROGRESS_STATUSES, Pledge, PledgeStatus, enforcement_body, release_body
from market.pledges.store import expect_row_status, pledge_row, save_pledge, to_pledge
from market.proposals import service as proposals


def _settle(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    action: Action,
    body: TxBody,
    signed_by: Consent,
) -> int:
    authorize(actor, action, target_of(body, (), SessionDirectory(session)))
    sigs = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=registry.clock())
    receipt = submit_as(
        session, registry=registry, actor=actor, action=action, instruction=Instruction(body, sigs)
    )
    return receipt.seq


def release_pledge(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    pledge_id: str,
    signed_by: Consent,
    quantity_kg: int | None = None,
) -> Pledge:
    """Release on repayment (解押): the pledgee bank releases ``quantity_kg`` (default all) of the held
    units to the owner. Only the bank controlling the hold may (rule ``pledge_controller_only``)."""
    row = pledge_row(session, pledge_id)
    pledge = to_pledge(row)
    body = release_body(pledge, quantity_kg=quantity_kg)
    released = body.holds[0].amount
    row.last_seq = _settle(
        session, registry=registry, actor=actor, action=Action.RELEASE_PLEDGE, body=body, signed_by=signed_by
    )
    row.held_kg -= released
    row.released_kg += released
    row.settlements += 1
    if row.held_kg == 0:
        row.status, row.closed_by = PledgeStatus.RELEASED.value, actor.party
    return save_pledge(session, row)


def enforce_pledge(
    session: Session, *, registry: Registry, actor: Participant, pledge_id: str, signed_by: Consent
) -> Pledge:
    """Enforcement on default (处置): the pledgee bank captures every held unit into its own holding
    in one record; only the controlling bank may."""
    row = pledge_row(session, pledge_id)
    pledge = to_pledge(row)
    body = enforcement_body(pledge)
    row.last_seq = _settle(
        session, registry=registry, actor=actor, action=Action.ENFORCE_PLEDGE, body=body, signed_by=signed_by
    )
    row.enforced_kg += row.held_kg
    row.held_kg = 0
    row.settlements += 1
    row.status, row.closed_by = PledgeStatus.ENFORCED.value, actor.party
    return save_pledge(session, row)


def request_forced_auction(
    session: Session, *, actor: Participant, pledge_id: str, claim_fen: int, reason: str
) -> Pledge:
    """Enforcement on default by forced auction (拍卖处置): the controlling bank marks the pledge for
    sale with its claim; the units stay held for it, and the auction pays it first, up to the claim
    (``valuation.forced_sale_split``). Records the intent only: the auction workflow sells."""
    row = pledge_row(session, pledge_id)
    expect_row_status(row, PledgeStatus.ACTIVE)
    pledge = to_pledge(row)
    authorize(
        actor, Action.ENFORCE_PLEDGE, target_of(enforcement_body(pledge), (), SessionDirectory(session))
    )
    check_amount(claim_fen, field="claim_fen")
    _reason(reason)
    row.status, row.claim_fen, row.closed_by, row.reason = (
        PledgeStatus.FORCED_AUCTION.value,
        claim_fen,
        actor.party,
        reason,
    )
    return save_pledge(session, row)  # the hold stays open: the auction workflow captures it


def cancel_pledge(
    session: Session, *, actor: Participant, pledge_id: str, reason: str, now: datetime | None = None
) -> Pledge:
    """Before confirmation any of the three parties may end a pledge: the enterprise withdraws, the
    bureau refuses the quantity, the bank declines the loan. Nothing was held, so nothing is released.
    ``now``: the registry's clock, which closes the loan's registration proposal if one is open."""
    row = pledge_row(session, pledge_id)
    expect_row_status(row, *IN_PROGRESS_STATUSES)
    if actor.party not in (row.enterprise, row.bank, row.bureau):
        raise denied(
            actor, Action.REGISTER_PLEDGE, "pledge_parties_only", "only a party to the pledge ends it"
        )
    _reason(reason)
    if row.registration_proposal is not None:  # the loan's registration awaits the enterprise: it ends too
        proposals.end(session, actor=actor, proposal_id=row.registration_proposal, now=now or utc_now())
    row.status, row.closed_by, row.reason = PledgeStatus.CANCELLED.value, actor.party, reason
    return save_pledge(session, row)


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason must be 1-500 characters", field="reason")
    return reason
