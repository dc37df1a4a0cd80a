"""Four-eyes allocation (双人审批, issue #18): a bureau user's free allocation above the bureau's
threshold for its record type waits, as a proposal, for a second user (an approver); approving
records it with both users named. At or under the threshold it is recorded at once with its user.

Free allocations only: a paid-use allocation needs the enterprise's signature over a body that names
both users, which is only known at approval (a paid-use offer above the threshold is refused by the
ledger as before).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from sqlmodel import Session

from accounts.custody import Vault, custody_key
from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant, pinned_registry
from ledger.service import Registry, controls_of
from ledger.timeutil import format_date, parse_date
from market.consent import Consent
from market.foureyes.service import ALLOCATION, APPROVER, LIFETIME
from market.issuance.service import Allocation, allocate, bureau_of
from market.proposals import service as proposals
from market.proposals.model import Proposal, SignerSlot
from market.proposals.service import Applied, ProposalKind, register, user_role

__all__ = ["ALLOCATION", "allocate_or_propose"]

Purpose = Literal["initial", "major_project"]


def _allocate(
    session: Session, registry: Registry, terms: Mapping[str, Any], consent: Consent, users: list[str]
) -> Allocation:
    purpose: Purpose = "initial" if terms["purpose"] == "initial" else "major_project"
    return allocate(
        session,
        registry=registry,
        actor=get_participant(session, party=terms["bureau"]),
        signed_by=consent,
        enterprise=terms["enterprise"],
        instrument=terms["instrument"],
        quantity_kg=terms["quantity_kg"],
        valid_until=parse_date(terms["valid_until"]),
        purpose=purpose,
        project=terms["project"],
        paid_use=False,
        approved_by=users,
    )


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The allocation with both users named; the reserve and the enterprise's permit checked now."""
    assert proposal.proposed_by is not None
    done = _allocate(session, registry, proposal.terms, given, [proposal.proposed_by, *proposal.approvers])
    return Applied(done.receipt.seq, done)


register(ProposalKind(ALLOCATION, lambda _session, _terms: None, _apply, lifetime=LIFETIME))


def allocate_or_propose(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Purpose,
    project: str | None = None,
) -> Allocation | Proposal:
    """A named user of the bureau allocates rights free of charge: recorded now at or under the
    bureau's threshold for the record type, else a proposal awaiting a second user (an approver)."""
    user_role(session, actor.party, user)
    bureau_of(actor, Action.ISSUE_RIGHTS)
    terms = {
        "bureau": actor.party,
        "enterprise": enterprise,
        "instrument": instrument,
        "quantity_kg": quantity_kg,
        "valid_until": format_date(valid_until),
        "purpose": purpose,
        "project": project,
    }
    action = "allocation.initial" if purpose == "initial" else "allocation.major_project"
    controls = controls_of(session, party=actor.party)
    limit = controls.four_eyes_kg.get(action) if controls is not None else None
    pinned, now = pinned_registry(session, registry=registry)
    if limit is None or quantity_kg <= limit:
        key = Consent.custody(actor.party, custody_key(session, vault=vault, party=actor.party, at=now))
        return _allocate(session, pinned, terms, key, [user])
    slot = SignerSlot(actor.party, role=APPROVER, excluded_user=user)
    return proposals.propose(
        session, kind=ALLOCATION, actor=actor, terms=terms, signers=[slot], now=now, user=user
    )
