"""Steps 3 and 4 of a pledge (排污权抵质押) as a proposal: when the bank records the loan it signs the
registration body and proposes it to the enterprise; the enterprise's signature (its confirmation,
企业确认) is the last one and records the pledge's hold in one record. The enterprise declines by
rejecting it, the bank takes it back by withdrawing, and either way the pledge is cancelled.

Step 2 (the bureau's approval) stays the pledge's own: it signs a statement of another kind (the
approved quantity on its electronic certificate), not this body, and it travels inside the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant, submit_as
from ledger.model import TxBody
from ledger.service import Instruction, Registry
from market.consent import Consent, dump_signatures, load_signatures
from market.pledges.model import Pledge, PledgeStatus
from market.pledges.record import registration_body
from market.pledges.signing import party_names
from market.pledges.store import check_collateral, expect_row_status, pledge_row, save_pledge, to_pledge
from market.pledges.tables import PledgeRow
from market.proposals.model import Proposal
from market.proposals.service import Applied, ProposalKind, register

__all__ = ["REGISTRATION", "registration_terms"]

REGISTRATION = "pledge.registration"


def registration_terms(pledge: Pledge) -> dict[str, Any]:
    """Which pledge, and what the to-do list shows of it: the right, the approved quantity, the loan."""
    assert pledge.loan is not None
    return {
        "pledge_id": pledge.id,
        "bank": pledge.bank,
        "enterprise": pledge.enterprise,
        "instrument": pledge.instrument,
        "quantity_kg": pledge.approved_kg,
        "amount_fen": pledge.loan.amount_fen,
    }


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody | None:
    """The registration body while the loan awaits the enterprise (drawn up from the pledge, as at
    every step); none once the pledge is registered or cancelled."""
    row = session.get(PledgeRow, terms["pledge_id"])
    if row is None or row.status != PledgeStatus.LOAN_RECORDED.value:
        return None
    pledge = to_pledge(row)
    return registration_body(pledge, names=party_names(session, pledge))


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The enterprise's confirmation: ONE record places the hold (reason ``pledge``, controller the
    bank), signed by the enterprise and the bank, carrying the bureau's approval; the units must still
    be free. The enterprise submits it."""
    row = pledge_row(session, proposal.terms["pledge_id"])
    expect_row_status(row, PledgeStatus.LOAN_RECORDED)
    pledge = to_pledge(row)
    assert pledge.approved_kg is not None
    assert proposal.body is not None
    check_collateral(session, pledge=pledge, quantity_kg=pledge.approved_kg, count_in_progress=False)
    sigs = {s.party: s for s in given.signatures}
    # The body's signers sign it; the bureau's approval travels inside it (meta.approval).
    signed = tuple(sigs[p] for p in sorted(proposal.body.signers))
    receipt = submit_as(
        session,
        registry=registry,
        actor=get_participant(session, party=pledge.enterprise),
        action=Action.TRANSFER_UNITS,
        instruction=Instruction(proposal.body, signed),
    )
    row.signatures = dump_signatures({**load_signatures(row.signatures), **sigs})
    row.status, row.held_kg = PledgeStatus.ACTIVE.value, pledge.approved_kg
    row.record_seq = row.last_seq = receipt.seq
    return Applied(receipt.seq, save_pledge(session, row))


def _closed(session: Session, _registry: Registry | None, proposal: Proposal, actor: Participant) -> None:
    """Declined by the enterprise or withdrawn by the bank: the pledge ends, nothing was held."""
    row = pledge_row(session, proposal.terms["pledge_id"])
    if row.status == PledgeStatus.LOAN_RECORDED.value:
        row.status, row.closed_by = PledgeStatus.CANCELLED.value, actor.party
        save_pledge(session, row)


register(ProposalKind(REGISTRATION, _draft, _apply, on_close=_closed))
