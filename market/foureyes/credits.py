"""Four-eyes transfer of blue-carbon credits (双人审批, issue #18): a named user's transfer above the
party's threshold for ``bc.transfer`` waits, as a proposal, for a second user (an approver); the
serials that move are the lowest held when it is recorded, at approval, with both users named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from accounts.custody import Vault, custody_key
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import get_participant, pinned_registry, target_for_party
from ledger.errors import InvalidInput, UnknownAccount
from ledger.model import AccountKind
from ledger.service import Registry, controls_of, find_account
from market.bluecarbon.serials import SERIAL_KG
from market.bluecarbon.service import CreditMove, get_batch, transfer_credits
from market.consent import Consent
from market.foureyes.service import APPROVER, BC_TRANSFER, LIFETIME
from market.proposals import service as proposals
from market.proposals.model import Proposal, SignerSlot
from market.proposals.service import Applied, ProposalKind, register, user_role

__all__ = ["BC_TRANSFER", "transfer_credits_as"]


def _move(
    session: Session, registry: Registry, terms: Mapping[str, Any], consent: Consent, users: tuple[str, ...]
) -> CreditMove:
    return transfer_credits(
        session,
        registry=registry,
        actor=get_participant(session, party=terms["party"]),
        signed_by=consent,
        batch=terms["batch"],
        tonnes=terms["tonnes"],
        to_account=terms["to_account"],
        approved_by=users,
    )


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The credit transfer with both users named; the serials held are read now."""
    assert proposal.proposed_by is not None
    done = _move(session, registry, proposal.terms, given, (proposal.proposed_by, *proposal.approvers))
    return Applied(done.receipt.seq, done)


register(ProposalKind(BC_TRANSFER, lambda _session, _terms: None, _apply, lifetime=LIFETIME))


def _checked(session: Session, batch: str, tonnes: int, to_account: str) -> None:
    """What a proposal must not wait a week to fail on: the quantity, the batch, the receiver."""
    if isinstance(tonnes, bool) or not isinstance(tonnes, int) or tonnes < 1:
        raise InvalidInput("tonnes must be a positive whole number (one serial per tonne)", field="tonnes")
    get_batch(session, batch=batch)
    info = find_account(session, account=to_account)
    if info is None:
        raise UnknownAccount(f"no account {to_account}", account=to_account, field="to_account")
    if info.kind is not AccountKind.HOLDING:
        raise InvalidInput("blue carbon is transferred to a holding account", field="to_account")


def transfer_credits_as(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    batch: str,
    tonnes: int,
    to_account: str,
) -> CreditMove | Proposal:
    """Transfer whole tonnes of a batch with the party's key in custody. A named user's transfer is
    recorded now naming the user at or under the party's threshold for ``bc.transfer``, else it is a
    proposal for a second user; the administrator key (no user) names nobody, so above a threshold
    the ledger refuses it (``four_eyes_required``)."""
    pinned, now = pinned_registry(session, registry=registry)
    consent = Consent.custody(actor.party, custody_key(session, vault=vault, party=actor.party, at=now))
    terms = {"party": actor.party, "batch": batch, "tonnes": tonnes, "to_account": to_account}
    if user is None:
        return _move(session, pinned, terms, consent, ())
    user_role(session, actor.party, user)
    _checked(session, batch, tonnes, to_account)
    controls = controls_of(session, party=actor.party)
    limit = controls.four_eyes_kg.get(BC_TRANSFER) if controls is not None else None
    if limit is None or tonnes * SERIAL_KG <= limit:
        return _move(session, pinned, terms, consent, (user,))
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    slot = SignerSlot(actor.party, role=APPROVER, excluded_user=user)
    return proposals.propose(
        session, kind=BC_TRANSFER, actor=actor, terms=terms, signers=[slot], now=now, user=user
    )
