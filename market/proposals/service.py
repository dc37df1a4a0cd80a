"""Proposals as a workflow: one party proposes, the required signers sign in any order (a slot may
ask for earlier ones first), and the last signature applies the proposal through its kind (one record
in the journal). Each workflow registers a ``ProposalKind`` (``kinds``); the collecting, expiry,
withdrawal and rejection are the same for all of them, and the reads are in ``reads``.

A refusal when the last signature applies the body writes nothing here (the kind's apply runs before
the slot and status are stored), and the request rolls back: the proposal stays pending and the
ledger untouched. Services flush, never commit.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.service import pinned_registry
from ledger.canonical import canonical_bytes
from ledger.errors import FourEyesRequired, InvalidInput, UnknownUser
from ledger.model import REGISTRY, Signature
from ledger.service import Registry, controls_of, lock_head_time
from ledger.timeutil import format_utc
from market.consent import Consent, consent
from market.proposals.errors import ProposalOutOfOrder
from market.proposals.kinds import Applied, ProposalKind, kind_of, register
from market.proposals.model import Proposal, ProposalStatus, SignerSlot
from market.proposals.reads import find_proposal, get_proposal, pending, proposal_row, proposals_of, view
from market.proposals.tables import ProposalRow, ProposalSignerRow

__all__ = [
    "Applied",
    "ProposalKind",
    "Signed",
    "end",
    "find_proposal",
    "get_proposal",
    "kind_of",
    "proposals_of",
    "propose",
    "register",
    "reject",
    "sign",
    "user_role",
    "withdraw",
]


@dataclass(frozen=True, slots=True)
class Signed:
    """The proposal after a signature; ``applied`` when that signature was the last one."""

    proposal: Proposal
    applied: Applied | None


# -- writing -------------------------------------------------------------------------------------


def user_role(session: Session, party: str, user: str | None) -> str:
    """The role the journal gives ``user`` in ``party`` (a slot with a role needs a named user)."""
    controls = controls_of(session, party=party)
    if user is None or controls is None or user not in controls.users:
        raise UnknownUser(
            f"{user or 'the administrator key'} is not a named user of {party}: log in as one",
            field="user",
            user=user,
        )
    return controls.users[user]


def propose(
    session: Session,
    *,
    kind: str,
    actor: Participant,
    terms: Mapping[str, Any],
    signers: Sequence[SignerSlot],
    now: datetime,
    user: str | None = None,
    signed_by: Consent | None = None,
    expires_at: datetime | None = None,
) -> Proposal:
    """Store a proposal of ``kind`` by ``actor`` (and its ``user``); with ``signed_by`` the proposer
    fills its own slots at once (a seller's signature on its offer), verified now under its keys.
    ``expires_at``: a lapse the workflow fixes (an award's payment deadline) instead of the kind's
    lifetime. A slot's ``after`` names earlier slots only, so the order can never deadlock."""
    spec = kind_of(kind)
    for i, slot in enumerate(signers):
        if any(isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < i for j in slot.after):
            raise InvalidInput(f"slot {i} may wait only for earlier slots", field="signers")
    body = spec.draft(session, terms)
    row = ProposalRow(
        id=secrets.token_hex(8),
        kind=kind,
        party=actor.party,
        proposed_by=user,
        terms=canonical_bytes(dict(terms)).decode(),
        status=ProposalStatus.PENDING.value,
        created_at=format_utc(now),
        expires_at=_expiry(now, spec.lifetime, expires_at),
    )
    # The proposer's own slot: the first of its party that asks for no role (a four-eyes slot of
    # its party is another user's to fill).
    own_slot = next((i for i, s in enumerate(signers) if s.party == actor.party and s.role is None), None)
    mine: Signature | None = None
    if signed_by is not None and own_slot is not None and signers[own_slot].after:
        raise InvalidInput("the proposer's slot waits for other signers: it signs later", field="signers")
    if signed_by is not None and body is not None and own_slot is not None:
        (mine,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    if len(signers) - (mine is not None) < 1:
        raise InvalidInput("a proposal needs at least one signature still to come", field="signers")
    session.add(row)
    session.flush()  # the slots' foreign key needs the proposal first
    for i, slot in enumerate(signers):
        own = mine is not None and i == own_slot
        session.add(
            ProposalSignerRow(
                proposal_id=row.id,
                slot=i,
                party=slot.party,
                role=slot.role,
                excluded_user=slot.excluded_user,
                signature=_dump(mine) if own and mine is not None else None,
                signed_by=user if own else None,
                signed_at=format_utc(now) if own else None,
                after_slots=json.dumps(list(slot.after)) if slot.after else None,
            )
        )
    session.flush()
    return view(session, row, now)


def _expiry(now: datetime, lifetime: timedelta | None, fixed: datetime | None) -> str | None:
    if fixed is not None:
        return format_utc(fixed)
    return None if lifetime is None else format_utc(now + lifetime)


def _dump(sig: Signature) -> str:
    return canonical_bytes(sig.to_json()).decode()


def _open_slot(
    session: Session, proposal: Proposal, actor: Participant, user: str | None, *, signing: bool
) -> int:
    """The index of the first unsigned slot ``actor`` (as ``user``) may fill, or the refusal why not.
    Signing also waits for the slot's ``after`` slots; turning it down does not (a bureau may refuse
    a request before its buyer has accepted it)."""
    slots = [(i, s) for i, s in enumerate(proposal.signers) if s.party == actor.party and not s.signed]
    if not slots:
        raise PermissionDenied(
            f"{actor.party} is not a signer this proposal awaits (rule own_units_only)",
            rule="own_units_only",
            action="sign_proposal",
            actor=actor.party,
        )
    if signing and not any(proposal.ready(s) for _, s in slots):
        earlier = {j for _, s in slots for j in s.after if not proposal.signers[j].signed}
        first = sorted({proposal.signers[j].party for j in earlier})
        raise ProposalOutOfOrder(
            f"{', '.join(first)} must sign before {actor.party}", field="proposal_id", awaiting=first
        )
    slots = [(i, s) for i, s in slots if not signing or proposal.ready(s)]
    for i, slot in slots:
        if slot.excluded_user is not None and user == slot.excluded_user:
            raise FourEyesRequired(
                "the second user cannot be the one who proposed it", field="proposal_id", party=actor.party
            )
        if slot.role is None:
            return i
        role = user_role(session, actor.party, user)
        if role == slot.role:
            return i
        raise FourEyesRequired(f"{user} is a {role}: only an {slot.role} signs this", field="proposal_id")
    raise AssertionError("unreachable: every slot returns or raises")


def sign(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    proposal_id: str,
    signed_by: Consent,
    now: datetime,
    user: str | None = None,
    kind: str | None = None,
) -> Signed:
    """``actor`` (its ``user``) fills its open slot: its signature over the body, verified once, is
    kept; when it is the last slot the kind applies the proposal now (its rules re-checked)."""
    lock_head_time(session)  # one signature at a time: a proposal applies exactly once
    row = proposal_row(session, actor, proposal_id, kind)
    found = pending(session, row, now, kind)
    index = _open_slot(session, found, actor, user, signing=True)
    sig = None
    if found.body is not None:
        (sig,) = consent(session, bodies=[found.body], party=actor.party, signed_by=signed_by, at=now)
    slot = replace(found.signers[index], signature=sig, signed_by=user, signed_at=now)
    slots = (*found.signers[:index], slot, *found.signers[index + 1 :])
    # the kind's apply sees who signed last, as the proposal will record it
    done = replace(found, signers=slots, decided_party=actor.party, decided_by=user, decided_at=now)
    applied = None
    if all(s.signed for s in slots):  # the last signature: apply first, so a refusal writes nothing
        # the collected signatures, and the last signer's keys for a kind that signs at apply
        given = Consent(keys=signed_by.keys, signatures=done.signatures)
        # one instant for the whole record, no earlier than the journal's head: a body that states
        # a time (a trusted-list addition's effective_at) is stated against the record's own
        pinned, _ = pinned_registry(session, registry=registry)
        applied = kind_of(row.kind).apply(session, pinned, done, given)
        _close(row, ProposalStatus.APPLIED, actor, user, now, applied.seq)
        session.add(row)
    stored = session.get(ProposalSignerRow, (row.id, index))
    assert stored is not None
    stored.signature = None if sig is None else _dump(sig)
    stored.signed_by, stored.signed_at = user, format_utc(now)
    session.add(stored)
    session.flush()
    follow = kind_of(row.kind).on_sign
    if applied is None and follow is not None:
        follow(session, view(session, row, now), actor)
    return Signed(view(session, row, now), applied)


def _close(
    row: ProposalRow,
    status: ProposalStatus,
    actor: Participant | None,
    user: str | None,
    now: datetime,
    seq: int | None,
) -> None:
    row.status, row.decided_by = status.value, user
    row.decided_party = REGISTRY if actor is None else actor.party
    row.decided_at, row.record_seq = format_utc(now), seq


def _decide(
    session: Session,
    actor: Participant,
    proposal_id: str,
    now: datetime,
    user: str | None,
    kind: str | None,
    status: ProposalStatus,
    registry: Registry | None,
) -> Proposal:
    """Withdraw or reject: the proposal closes unapplied; only the kind's ``on_close`` may write to
    the journal (a cross-city request's hold released, with ``registry``)."""
    row = proposal_row(session, actor, proposal_id, kind)
    found = pending(session, row, now, kind)
    if status is ProposalStatus.WITHDRAWN:
        if actor.party != row.party or (row.proposed_by is not None and user != row.proposed_by):
            raise InvalidInput("only the one who proposed it withdraws it", field="proposal_id")
    else:
        _open_slot(session, found, actor, user, signing=False)  # as for signing: only one who could sign
    follow = kind_of(row.kind).on_close
    if follow is not None:  # first, as apply is at the last signature: a refusal writes nothing here
        closed = replace(found, status=status, decided_party=actor.party, decided_by=user, decided_at=now)
        follow(session, registry, closed, actor)
    _close(row, status, actor, user, now, None)
    session.add(row)
    session.flush()
    return view(session, row, now)


def end(session: Session, *, actor: Participant | None, proposal_id: str, now: datetime) -> None:
    """The workflow ends a pending proposal for a reason of its own (its third party, holding no slot,
    refuses: the bureau ends a pledge the bank and the enterprise are signing; ``actor`` None: a
    registry job, such as an expiry sweep). Withdrawn; the kind's ``on_close`` is not run, since the
    workflow is the one closing. A closed one is left as it is."""
    row = session.get(ProposalRow, proposal_id)
    if row is None or view(session, row, now).status is not ProposalStatus.PENDING:
        return
    _close(row, ProposalStatus.WITHDRAWN, actor, None, now, None)
    session.add(row)
    session.flush()


def withdraw(
    session: Session,
    *,
    actor: Participant,
    proposal_id: str,
    now: datetime,
    user: str | None = None,
    kind: str | None = None,
    registry: Registry | None = None,
) -> Proposal:
    """The proposer (its party, and its user when one proposed it) takes a pending proposal back.
    ``registry``: for a kind whose close writes to the journal (the generic routes pass it)."""
    return _decide(session, actor, proposal_id, now, user, kind, ProposalStatus.WITHDRAWN, registry)


def reject(
    session: Session,
    *,
    actor: Participant,
    proposal_id: str,
    now: datetime,
    user: str | None = None,
    kind: str | None = None,
    registry: Registry | None = None,
) -> Proposal:
    """A required signer who has not signed turns the proposal down.
    ``registry``: for a kind whose close writes to the journal (the generic routes pass it)."""
    return _decide(session, actor, proposal_id, now, user, kind, ProposalStatus.REJECTED, registry)
