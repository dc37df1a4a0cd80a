"""Proposals as a workflow: one party proposes, the required signers sign in any order, and the last
signature applies the proposal through its kind (one record in the journal). Each workflow registers
a ``ProposalKind``; the collecting, expiry, withdrawal and rejection are the same for all of them.

A refusal when the last signature applies the body writes nothing here (the kind's apply runs before
the slot and status are stored), and the request rolls back: the proposal stays pending and the
ledger untouched. Services flush, never commit.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, or_, select

from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.service import pinned_registry
from ledger.canonical import canonical_bytes
from ledger.errors import FourEyesRequired, InvalidInput, UnknownUser
from ledger.model import Signature, TxBody
from ledger.service import Registry, controls_of, lock_head_time
from ledger.timeutil import format_utc, parse_utc
from market.consent import Consent, consent
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.proposals.model import Proposal, ProposalStatus, SignerSlot, status_at
from market.proposals.tables import ProposalRow, ProposalSignerRow

__all__ = [
    "Applied",
    "ProposalKind",
    "Signed",
    "end",
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
class Applied:
    """What a kind's apply recorded: the record's seq and the workflow's own result (a Trade, a Receipt)."""

    seq: int
    result: object


@dataclass(frozen=True, slots=True)
class ProposalKind:
    """One kind of proposal: how its body is drafted from the terms (``None``: the kind draws it up
    when it applies, as four-eyes does with both users named), and how it applies once every slot is
    signed, re-checking its rules then (``consent``: the signatures collected, plus the last
    signer's keys). ``unknown``/``closed`` keep a kind's historic error codes."""

    name: str
    draft: Callable[[Session, Mapping[str, Any]], TxBody | None]
    apply: Callable[[Session, Registry, Proposal, Consent], Applied]
    unknown: type[UnknownProposal] = UnknownProposal
    closed: type[ProposalClosed] = ProposalClosed
    lifetime: timedelta | None = None  # None: pending until signed, rejected or withdrawn
    # the workflow's own state follows a rejection or withdrawal (a pledge is cancelled with it)
    on_close: Callable[[Session, Proposal, Participant], None] | None = None


_KINDS: dict[str, ProposalKind] = {}


def register(kind: ProposalKind) -> ProposalKind:
    """Make ``kind`` known to the generic service (each workflow module does it on import)."""
    _KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> ProposalKind:
    found = _KINDS.get(name)
    if found is None:
        raise InvalidInput(f"no proposal kind {name}", field="kind")
    return found


@dataclass(frozen=True, slots=True)
class Signed:
    """The proposal after a signature; ``applied`` when that signature was the last one."""

    proposal: Proposal
    applied: Applied | None


# -- reading -------------------------------------------------------------------------------------


def _slots(session: Session, proposal_id: str) -> list[ProposalSignerRow]:
    stmt = select(ProposalSignerRow).where(ProposalSignerRow.proposal_id == proposal_id)
    return list(session.exec(stmt.order_by(col(ProposalSignerRow.slot))))


def _slot(row: ProposalSignerRow) -> SignerSlot:
    sig = None if row.signature is None else Signature.parse(json.loads(row.signature), "signature")
    at = None if row.signed_at is None else parse_utc(row.signed_at)
    return SignerSlot(row.party, row.role, row.excluded_user, sig, row.signed_by, at)


def _view(session: Session, row: ProposalRow, now: datetime) -> Proposal:
    terms: dict[str, Any] = json.loads(row.terms)
    expires = None if row.expires_at is None else parse_utc(row.expires_at)
    return Proposal(
        row.id,
        row.kind,
        row.party,
        row.proposed_by,
        terms,
        kind_of(row.kind).draft(session, terms),
        tuple(_slot(s) for s in _slots(session, row.id)),
        status_at(row.status, expires, now),
        parse_utc(row.created_at),
        expires,
        row.decided_party,
        row.decided_by,
        None if row.decided_at is None else parse_utc(row.decided_at),
        row.record_seq,
    )


def _row(session: Session, actor: Participant, proposal_id: str, kind: str | None) -> ProposalRow:
    """The proposal, to its proposing party and its signers only: anyone else is told there is none."""
    unknown = kind_of(kind).unknown if kind is not None else UnknownProposal
    row = session.get(ProposalRow, proposal_id) if isinstance(proposal_id, str) else None
    if row is None or (kind is not None and row.kind != kind):
        raise unknown(f"no proposal {proposal_id}", field="proposal_id")
    if row.party != actor.party and actor.party not in {s.party for s in _slots(session, row.id)}:
        raise unknown(f"no proposal {proposal_id}", field="proposal_id")
    return row


def _pending(session: Session, row: ProposalRow, now: datetime, kind: str | None) -> Proposal:
    """The proposal if still pending (``kind``: asked for by that kind, which answers its own code)."""
    found = _view(session, row, now)
    if found.status is not ProposalStatus.PENDING:
        closed = kind_of(kind).closed if kind is not None else ProposalClosed
        raise closed(f"proposal {row.id} is {found.status.value}", field="proposal_id")
    return found


def get_proposal(
    session: Session, *, actor: Participant, proposal_id: str, now: datetime, kind: str | None = None
) -> Proposal:
    """One proposal (``kind``: only of that kind, answering the kind's own error when it is not)."""
    return _view(session, _row(session, actor, proposal_id, kind), now)


def proposals_of(
    session: Session,
    *,
    actor: Participant,
    now: datetime,
    kind: str | Iterable[str] | None = None,
    status: ProposalStatus | None = None,
    awaiting_user: str | None = None,
    awaiting: bool = False,
) -> list[Proposal]:
    """The proposals ``actor``'s party made or must sign, newest first; ``awaiting``: only those with
    an unsigned slot of this party (open to ``awaiting_user``), i.e. the to-do list (待办)."""
    mine = exists().where(
        col(ProposalSignerRow.proposal_id) == col(ProposalRow.id), col(ProposalSignerRow.party) == actor.party
    )
    stmt = select(ProposalRow).where(or_(col(ProposalRow.party) == actor.party, mine))
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        stmt = stmt.where(col(ProposalRow.kind).in_(kinds))
    if awaiting:
        open_slot = exists().where(
            col(ProposalSignerRow.proposal_id) == col(ProposalRow.id),
            col(ProposalSignerRow.party) == actor.party,
            col(ProposalSignerRow.signed_at).is_(None),
        )
        stmt = stmt.where(open_slot, ProposalRow.status == ProposalStatus.PENDING.value)
    elif status is not None:  # an expired proposal is stored pending: its expiry is computed below
        stored = ProposalStatus.PENDING if status is ProposalStatus.EXPIRED else status
        stmt = stmt.where(ProposalRow.status == stored.value)
    rows = session.exec(stmt.order_by(col(ProposalRow.created_at).desc(), col(ProposalRow.id)))
    found = [_view(session, r, now) for r in rows]
    if awaiting:
        controls = controls_of(session, party=actor.party)
        role = controls.users.get(awaiting_user) if controls and awaiting_user else None
        return [p for p in found if p.awaits(actor.party, awaiting_user, role)]
    if status is ProposalStatus.EXPIRED:
        return [p for p in found if p.status is ProposalStatus.EXPIRED]
    return [p for p in found if status is None or p.status is status]


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
    lifetime."""
    spec = kind_of(kind)
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
            )
        )
    session.flush()
    return _view(session, row, now)


def _expiry(now: datetime, lifetime: timedelta | None, fixed: datetime | None) -> str | None:
    if fixed is not None:
        return format_utc(fixed)
    return None if lifetime is None else format_utc(now + lifetime)


def _dump(sig: Signature) -> str:
    return canonical_bytes(sig.to_json()).decode()


def _open_slot(session: Session, proposal: Proposal, actor: Participant, user: str | None) -> int:
    """The index of the first unsigned slot ``actor`` (as ``user``) may fill, or the refusal why not."""
    slots = [(i, s) for i, s in enumerate(proposal.signers) if s.party == actor.party and not s.signed]
    if not slots:
        raise PermissionDenied(
            f"{actor.party} is not a signer this proposal awaits (rule own_units_only)",
            rule="own_units_only",
            action="sign_proposal",
            actor=actor.party,
        )
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
    row = _row(session, actor, proposal_id, kind)
    found = _pending(session, row, now, kind)
    index = _open_slot(session, found, actor, user)
    sig = None
    if found.body is not None:
        (sig,) = consent(session, bodies=[found.body], party=actor.party, signed_by=signed_by, at=now)
    slot = replace(found.signers[index], signature=sig, signed_by=user, signed_at=now)
    slots = (*found.signers[:index], slot, *found.signers[index + 1 :])
    done = replace(found, signers=slots)
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
    return Signed(_view(session, row, now), applied)


def _close(
    row: ProposalRow,
    status: ProposalStatus,
    actor: Participant,
    user: str | None,
    now: datetime,
    seq: int | None,
) -> None:
    row.status, row.decided_party, row.decided_by = status.value, actor.party, user
    row.decided_at, row.record_seq = format_utc(now), seq


def _decide(
    session: Session,
    actor: Participant,
    proposal_id: str,
    now: datetime,
    user: str | None,
    kind: str | None,
    status: ProposalStatus,
) -> Proposal:
    """Withdraw or reject: the proposal closes unapplied, nothing reaches the journal."""
    row = _row(session, actor, proposal_id, kind)
    found = _pending(session, row, now, kind)
    if status is ProposalStatus.WITHDRAWN:
        if actor.party != row.party or (row.proposed_by is not None and user != row.proposed_by):
            raise InvalidInput("only the one who proposed it withdraws it", field="proposal_id")
    else:
        _open_slot(session, found, actor, user)  # the same test as for signing: only one who could sign
    _close(row, status, actor, user, now, None)
    session.add(row)
    session.flush()
    closed = _view(session, row, now)
    follow = kind_of(row.kind).on_close
    if follow is not None:
        follow(session, closed, actor)
    return closed


def end(session: Session, *, actor: Participant, proposal_id: str, now: datetime) -> None:
    """The workflow ends a pending proposal for a reason of its own (its third party, holding no slot,
    refuses: the bureau ends a pledge the bank and the enterprise are signing). Withdrawn; the kind's
    ``on_close`` is not run, since the workflow is the one closing. A closed one is left as it is."""
    row = session.get(ProposalRow, proposal_id)
    if row is None or _view(session, row, now).status is not ProposalStatus.PENDING:
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
) -> Proposal:
    """The proposer (its party, and its user when one proposed it) takes a pending proposal back."""
    return _decide(session, actor, proposal_id, now, user, kind, ProposalStatus.WITHDRAWN)


def reject(
    session: Session,
    *,
    actor: Participant,
    proposal_id: str,
    now: datetime,
    user: str | None = None,
    kind: str | None = None,
) -> Proposal:
    """A required signer who has not signed turns the proposal down."""
    return _decide(session, actor, proposal_id, now, user, kind, ProposalStatus.REJECTED)
