"""Proposals read back as values: one proposal (to its proposer and its signers only), a party's list
and its to-do list (待办), and the unguarded lookup a workflow uses to show its own request's state."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, or_, select

from accounts.model import Participant
from ledger.model import Signature
from ledger.service import controls_of
from ledger.timeutil import parse_utc
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.proposals.kinds import kind_of
from market.proposals.model import Proposal, ProposalStatus, SignerSlot, status_at
from market.proposals.tables import ProposalRow, ProposalSignerRow

__all__ = [
    "find_proposal",
    "get_proposal",
    "pending",
    "proposal_row",
    "proposals_of",
    "signatures_of",
    "slot_rows",
    "view",
]


def slot_rows(session: Session, proposal_id: str) -> list[ProposalSignerRow]:
    stmt = select(ProposalSignerRow).where(ProposalSignerRow.proposal_id == proposal_id)
    return list(session.exec(stmt.order_by(col(ProposalSignerRow.slot))))


def _slot(row: ProposalSignerRow) -> SignerSlot:
    sig = None if row.signature is None else Signature.parse(json.loads(row.signature), "signature")
    at = None if row.signed_at is None else parse_utc(row.signed_at)
    after = () if row.after_slots is None else tuple(int(i) for i in json.loads(row.after_slots))
    return SignerSlot(row.party, row.role, row.excluded_user, sig, row.signed_by, at, after)


def view(session: Session, row: ProposalRow, now: datetime) -> Proposal:
    terms: dict[str, Any] = json.loads(row.terms)
    expires = None if row.expires_at is None else parse_utc(row.expires_at)
    return Proposal(
        row.id,
        row.kind,
        row.party,
        row.proposed_by,
        terms,
        kind_of(row.kind).draft(session, terms),
        tuple(_slot(s) for s in slot_rows(session, row.id)),
        status_at(row.status, expires, now),
        parse_utc(row.created_at),
        expires,
        row.decided_party,
        row.decided_by,
        None if row.decided_at is None else parse_utc(row.decided_at),
        row.record_seq,
    )


def proposal_row(session: Session, actor: Participant, proposal_id: str, kind: str | None) -> ProposalRow:
    """The proposal, to its proposing party and its signers only: anyone else is told there is none."""
    unknown = kind_of(kind).unknown if kind is not None else UnknownProposal
    row = session.get(ProposalRow, proposal_id) if isinstance(proposal_id, str) else None
    if row is None or (kind is not None and row.kind != kind):
        raise unknown(f"no proposal {proposal_id}", field="proposal_id")
    if row.party != actor.party and actor.party not in {s.party for s in slot_rows(session, row.id)}:
        raise unknown(f"no proposal {proposal_id}", field="proposal_id")
    return row


def pending(session: Session, row: ProposalRow, now: datetime, kind: str | None) -> Proposal:
    """The proposal if still pending (``kind``: asked for by that kind, which answers its own code)."""
    found = view(session, row, now)
    if found.status is not ProposalStatus.PENDING:
        closed = kind_of(kind).closed if kind is not None else ProposalClosed
        raise closed(f"proposal {row.id} is {found.status.value}", field="proposal_id")
    return found


def get_proposal(
    session: Session, *, actor: Participant, proposal_id: str, now: datetime, kind: str | None = None
) -> Proposal:
    """One proposal (``kind``: only of that kind, answering the kind's own error when it is not)."""
    return view(session, proposal_row(session, actor, proposal_id, kind), now)


def find_proposal(session: Session, *, proposal_id: str, now: datetime) -> Proposal | None:
    """A proposal whatever the caller, or None: for a workflow that shows its own request, which it
    has already authorized the reader for (a cross-city request's signatures to its supervisors)."""
    row = session.get(ProposalRow, proposal_id)
    return None if row is None else view(session, row, now)


def signatures_of(session: Session, proposal_ids: Iterable[str]) -> dict[str, tuple[Signature, ...]]:
    """The signatures the slots of each proposal hold, in slot order, in one query: for a workflow
    listing its requests with who has signed (proposals with none signed are left out)."""
    ids = sorted(set(proposal_ids))
    if not ids:
        return {}
    stmt = select(ProposalSignerRow).where(
        col(ProposalSignerRow.proposal_id).in_(ids), col(ProposalSignerRow.signature).is_not(None)
    )
    found: dict[str, list[Signature]] = defaultdict(list)
    for r in session.exec(stmt.order_by(col(ProposalSignerRow.proposal_id), col(ProposalSignerRow.slot))):
        assert r.signature is not None
        found[r.proposal_id].append(Signature.parse(json.loads(r.signature), "signature"))
    return {pid: tuple(sigs) for pid, sigs in found.items()}


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
    an unsigned slot of this party open to ``awaiting_user`` now (its earlier slots signed), i.e. the
    to-do list (待办)."""
    # IN, not a correlated EXISTS: under the OR, SQLite scanned every proposal for the EXISTS
    signing = select(ProposalSignerRow.proposal_id).where(col(ProposalSignerRow.party) == actor.party)
    stmt = select(ProposalRow).where(
        or_(col(ProposalRow.party) == actor.party, col(ProposalRow.id).in_(signing))
    )
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
    found = [view(session, r, now) for r in rows]
    if awaiting:
        controls = controls_of(session, party=actor.party)
        role = controls.users.get(awaiting_user) if controls and awaiting_user else None
        return [p for p in found if p.awaits(actor.party, awaiting_user, role)]
    if status is ProposalStatus.EXPIRED:
        return [p for p in found if p.status is ProposalStatus.EXPIRED]
    return [p for p in found if status is None or p.status is status]
