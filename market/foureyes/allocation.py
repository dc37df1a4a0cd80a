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
from market.issuance.service import DEFAULT_TERM_YEARS, Allocation, allocate, bureau_of
from market.proposals import service as proposals
from market.proposals.model import Proposal, SignerSlot
from market.proposals.service import Applied, ProposalKind, register, user_role

__all__ = ["ALLOCATION", "allocate_as", "allocate_or_propose"]

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
        nonce=terms.get("nonce"),
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
    nonce: str | None = None,
) -> Allocation | Proposal:
    """A named user of the bureau allocates rights free of charge: recorded now at or under the
    bureau's threshold for the record type, else a proposal awaiting a second user (an approver).
    ``nonce``: the record's, when the client chose one (applied at most once, as every body)."""
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
        "nonce": nonce,
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


def allocate_as(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    signed_by: Consent,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Purpose,
    project: str | None = None,
    paid_use: bool = True,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
    nonce: str | None = None,
) -> Allocation | Proposal:
    """An allocation asked for over the API: a named user's free allocation goes through
    ``allocate_or_propose`` (a proposal above the bureau's threshold). The administrator key (no
    user) and paid-use allocations (the enterprise signs a body that cannot name a second user not
    yet known) are recorded at once, naming nobody, so above a threshold the ledger refuses them."""
    if user is not None and not paid_use:
        return allocate_or_propose(
            session,
            registry=registry,
            vault=vault,
            actor=actor,
            user=user,
            enterprise=enterprise,
            instrument=instrument,
            quantity_kg=quantity_kg,
            valid_until=valid_until,
            purpose=purpose,
            project=project,
            nonce=nonce,
        )
    return allocate(
        session,
        registry=registry,
        actor=actor,
        signed_by=signed_by,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose=purpose,
        project=project,
        paid_use=paid_use,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
        nonce=nonce,
    )
