"""A cross-city request's settlement (跨地市交易结算) as a proposal of kind ``crosscity.settlement``: when
the seller offers (its units held) it signs the settlement body and proposes it to the buyer and to the
two cities' bureaus. The buyer signs first (it accepts: the request is ``accepted``); each bureau's
slot waits for the buyer's, and the last bureau's signature records the settlement in one record.
A rejection or withdrawal, from the request's own route or the to-do list, releases the hold.

The signers are exactly the settlement body's (seller, buyer and both bureaus, a bureau selling from
its reserve counted once), so the ledger's rules and replay are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant, submit_as
from ledger.errors import InvalidInput
from ledger.model import Signature, TxBody
from ledger.service import Instruction, Registry, lock_head_time, submit_all
from market.consent import Consent
from market.crosscity.model import (
    OPEN_STATUSES,
    DemandStatus,
    TransferRequest,
    TransferStatus,
    release_body,
    settlement_body,
)
from market.crosscity.store import demand_row, expect_open, request_row, save_row, to_request
from market.crosscity.tables import CrossCityTransferRow
from market.proposals import service as proposals
from market.proposals.model import Proposal, ProposalStatus, SignerSlot
from market.proposals.service import Applied, ProposalKind, register

__all__ = [
    "SETTLEMENT",
    "close_request",
    "open_settlement",
    "release",
    "settlement_slots",
    "settlement_terms",
]

SETTLEMENT: Final = "crosscity.settlement"
_HELD: Final = (TransferStatus.OFFERED.value, TransferStatus.ACCEPTED.value)


def settlement_terms(req: TransferRequest) -> dict[str, Any]:
    """Which request, and what the to-do list shows of it: the right and the kg the buyer receives,
    and what it pays (price and fee). The body itself is drawn up from the request (its terms fix it)."""
    return {
        "request_id": req.id,
        "seller": req.seller,
        "buyer": req.buyer,
        "instrument": req.instrument,
        "quantity_kg": req.delivered_kg,
        "amount_fen": req.price_fen + req.fee_fen,
    }


def settlement_slots(req: TransferRequest) -> tuple[SignerSlot, ...]:
    """The seller's slot (signed as it offers), the buyer's, then each bureau not already a party,
    after the buyer's: a bureau approves what the buyer has accepted, as the request's steps say."""
    slots = [SignerSlot(req.seller), SignerSlot(req.buyer)]
    for bureau in (req.source_bureau, req.destination_bureau):
        if bureau not in (req.seller, req.buyer):
            slots.append(SignerSlot(bureau, after=(1,)))
    return tuple(slots)


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody | None:
    """The settlement body while the request's units are held; none once it settled or closed."""
    row = session.get(CrossCityTransferRow, terms["request_id"])
    if row is None or row.status not in _HELD:
        return None
    return settlement_body(to_request(row))


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The last bureau's approval: ONE record signed by seller, buyer and both bureaus settles the
    request (the ledger checks it all again), submitted by that bureau; the need fills by the
    delivered kg."""
    row = request_row(session, proposal.terms["request_id"])
    assert proposal.decided_at is not None  # the last signature's instant and party, set by sign
    assert proposal.decided_party is not None
    assert proposal.body is not None
    expect_open(row, proposal.decided_at, TransferStatus.ACCEPTED)
    req = to_request(row)
    sigs = {s.party: s for s in given.signatures}
    instruction = Instruction(proposal.body, tuple(sigs[p] for p in req.required_signers))
    last = get_participant(session, party=proposal.decided_party)
    receipt = submit_as(
        session, registry=registry, actor=last, action=Action.APPROVE_CROSS_CITY, instruction=instruction
    )
    row.settled_seq, row.status = receipt.seq, TransferStatus.SETTLED.value
    demand = demand_row(session, req.demand_id)
    demand.filled_kg += req.delivered_kg
    if demand.filled_kg >= demand.quantity_kg:
        demand.status = DemandStatus.FILLED.value
    save_row(session, demand)
    save_row(session, row)
    return Applied(receipt.seq, to_request(row, instruction.signatures))


def _signed(session: Session, proposal: Proposal, actor: Participant) -> None:
    """The buyer's signature is its acceptance: the request moves on to the bureaus."""
    row = request_row(session, proposal.terms["request_id"])
    if actor.party == row.buyer and row.status == TransferStatus.OFFERED.value:
        row.status = TransferStatus.ACCEPTED.value
        save_row(session, row)


def _closed(session: Session, registry: Registry | None, proposal: Proposal, actor: Participant) -> None:
    """Rejected by the buyer or a bureau, or withdrawn by the seller: the hold is released in one
    record and the request marked rejected by that party."""
    if registry is None:  # a caller that cannot seal the release (e.g. a four-eyes route)
        raise InvalidInput(
            "a cross-city request is rejected at /v1/proposals/{id}/reject or its own route",
            field="proposal_id",
        )
    lock_head_time(session)  # the journal's lock before the request's, as every cross-city step
    row = request_row(session, proposal.terms["request_id"])
    if row.status in _HELD:
        release(session, registry, [row], TransferStatus.REJECTED)
        row.closed_by, row.reason = actor.party, proposal.status.value
        save_row(session, row)


register(ProposalKind(SETTLEMENT, _draft, _apply, on_close=_closed, on_sign=_signed))


def open_settlement(
    session: Session, *, actor: Participant, row: CrossCityTransferRow, signature: Signature, now: datetime
) -> str:
    """The seller's offer, its signature over the settlement filling its slot; the proposal lapses
    with the request (the expiry sweep then releases the hold)."""
    req = to_request(row)
    made = proposals.propose(
        session,
        kind=SETTLEMENT,
        actor=actor,
        terms=settlement_terms(req),
        signers=settlement_slots(req),
        now=now,
        signed_by=Consent.given([signature]),
        expires_at=req.expires_at,
    )
    row.proposal = made.id
    save_row(session, row)
    return made.id


def sign_settlement(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    row: CrossCityTransferRow,
    signed_by: Consent,
    now: datetime,
) -> None:
    """``actor`` fills its slot of the request's settlement proposal (the kind keeps the request in
    step: the buyer's signature accepts it, the last bureau's settles it)."""
    assert row.proposal is not None  # an offered request has its proposal (revision 0019 for older ones)
    proposals.sign(
        session,
        registry=registry,
        actor=actor,
        proposal_id=row.proposal,
        signed_by=signed_by,
        now=now,
        kind=SETTLEMENT,
    )


def release(
    session: Session, registry: Registry, rows: Sequence[CrossCityTransferRow], status: TransferStatus
) -> None:
    """Close requests, releasing the holds of those offered, all in one batch (all or none)."""
    held = [r for r in rows if r.status in _HELD]
    bodies = [release_body(to_request(r), status=status) for r in held]
    receipts = submit_all(session, [Instruction(b) for b in bodies], registry=registry) if bodies else []
    for r, receipt in zip(held, receipts, strict=True):
        r.closed_seq = receipt.seq
    for r in rows:
        r.status = status.value


def close_request(
    session: Session, *, registry: Registry, actor: Participant, row: CrossCityTransferRow, now: datetime
) -> None:
    """A party ends an open request from its own route: the seller withdraws the proposal, a signer
    still to sign rejects it (each releasing the hold through the kind's ``on_close``); a party that
    has signed already (the buyer, a bureau) or a lapsed proposal ends it and releases here."""
    if row.status not in (s.value for s in OPEN_STATUSES):
        return
    found = (
        None if row.proposal is None else proposals.find_proposal(session, proposal_id=row.proposal, now=now)
    )
    if found is None or found.status is not ProposalStatus.PENDING:
        release(session, registry, [row], TransferStatus.REJECTED)  # a draft, or one past its expiry
        return
    if actor.party == found.party or any(s.party == actor.party and not s.signed for s in found.signers):
        close = proposals.withdraw if actor.party == found.party else proposals.reject
        close(session, actor=actor, proposal_id=found.id, now=now, kind=SETTLEMENT, registry=registry)
    else:
        proposals.end(session, actor=actor, proposal_id=found.id, now=now)
        release(session, registry, [row], TransferStatus.REJECTED)
