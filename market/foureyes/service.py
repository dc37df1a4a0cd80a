"""Four-eyes approval (双人审批) and the trusted-account list as workflows: one user of a party proposes,
a second user approves, and only then does the registry sign and record it with both users named.

Proposals wait here; the rules they must satisfy live in ``ledger.control_rules``, which replay runs
again. (Issue #17's one proposal model should absorb this store when it lands; the bodies stay.)
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from accounts.custody import Vault, custody_key
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import pinned_registry, target_for_party
from ledger.canonical import canonical_bytes
from ledger.controls import APPROVED_BY, TRUST_ADD, TRUST_REMOVE, add_working_days
from ledger.errors import Conflict, FourEyesRequired, InvalidInput, NotFound, UnknownUser
from ledger.model import Lot, Posting, TxBody, check_id
from ledger.service import (
    Instruction,
    Receipt,
    Registry,
    controls_of,
    find_account,
    new_nonce,
    registry_controls,
    sign_body,
    submit,
)
from ledger.timeutil import format_utc, parse_utc
from market.foureyes.tables import ProposalRow
from market.trades.transfers import transfer

__all__ = [
    "LIFETIME",
    "Proposal",
    "ProposalClosed",
    "UnknownProposal",
    "approve",
    "proposals_of",
    "propose_transfer",
    "propose_trust",
    "reject",
    "remove_trusted",
    "to_do",
    "withdraw",
]

LIFETIME = timedelta(days=7)  # a proposal nobody approves in a week lapses
TRANSFER = "transfer"


class UnknownProposal(NotFound):
    code = "unknown_proposal"


class ProposalClosed(Conflict):
    """Already applied, rejected, withdrawn or lapsed: nothing more can be done to it."""

    code = "proposal_closed"


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    party: str
    kind: str
    terms: dict[str, Any]
    proposed_by: str
    status: str  # pending | applied | rejected | withdrawn | expired
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    record_seq: int | None = None


def _proposal(row: ProposalRow, now: datetime) -> Proposal:
    expires = parse_utc(row.expires_at)
    status = "expired" if row.status == "pending" and expires <= now else row.status
    return Proposal(
        row.id,
        row.party,
        row.kind,
        json.loads(row.terms),
        row.proposed_by,
        status,
        parse_utc(row.created_at),
        expires,
        row.decided_by,
        row.record_seq,
    )


def _user_role(session: Session, party: str, user: str | None) -> str:
    """The role the journal gives ``user`` in ``party``; proposals are made and approved by named users."""
    controls = controls_of(session, party=party)
    if user is None or controls is None or user not in controls.users:
        raise UnknownUser(
            f"{user or 'the administrator key'} is not a named user of {party}: log in as one",
            field="user",
            user=user,
        )
    return controls.users[user]


def _sign(session: Session, *, vault: Vault, party: str, body: TxBody, at: datetime) -> Instruction:
    key = custody_key(session, vault=vault, party=party, at=at)
    return Instruction(body, (sign_body(body, party, key, custody=True),), scope=party)


def _submit_own(
    session: Session, *, registry: Registry, actor: Participant, body: TxBody, vault: Vault, at: datetime
) -> Receipt:
    """A control record of the actor's own trusted list (it names no account the actor owns, so the
    permission is checked on the party itself), signed with its custody key."""
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    return submit(
        session, _sign(session, vault=vault, party=actor.party, body=body, at=at), registry=registry
    )


def _transfer_body(party: str, terms: dict[str, Any], users: list[str]) -> TxBody:
    lot = Lot.from_key(terms["lot"])
    quantity = terms["quantity_kg"]
    return TxBody(
        TRANSFER,
        new_nonce(),
        (
            Posting(f"{party}.holding", terms["instrument"], lot, -quantity),
            Posting(terms["to"], terms["instrument"], lot, quantity),
        ),
        meta={APPROVED_BY: {party: users}},
    )


def _store(
    session: Session, party: str, kind: str, terms: dict[str, Any], user: str, now: datetime
) -> Proposal:
    row = ProposalRow(
        id=f"fe-{secrets.token_hex(6)}",
        party=party,
        kind=kind,
        terms=canonical_bytes(terms).decode(),
        proposed_by=user,
        status="pending",
        created_at=format_utc(now),
        expires_at=format_utc(now + LIFETIME),
    )
    session.add(row)
    session.flush()
    return _proposal(row, now)


def propose_transfer(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    to: str,
    instrument: str,
    lot: str,
    quantity_kg: int,
) -> Proposal | Receipt:
    """Send units from the actor's holding: at or under the party's four-eyes threshold for
    transfers it is recorded now with this user named; above it, it waits for a second user."""
    _user_role(session, actor.party, user)
    assert user is not None
    check_id(to, field="to")
    if isinstance(quantity_kg, bool) or not isinstance(quantity_kg, int) or quantity_kg <= 0:
        raise InvalidInput("quantity must be a positive whole number of kg", field="quantity_kg")
    if find_account(session, account=to) is None:
        raise InvalidInput(f"no account {to}", field="to")
    terms = {"to": to, "instrument": instrument, "lot": lot, "quantity_kg": quantity_kg}
    controls = controls_of(session, party=actor.party)
    limit = controls.four_eyes_kg.get(TRANSFER) if controls is not None else None
    pinned, now = pinned_registry(session, registry=registry)
    body = _transfer_body(actor.party, terms, [user])
    if limit is None or quantity_kg <= limit:
        signed = _sign(session, vault=vault, party=actor.party, body=body, at=now)
        return transfer(session, registry=pinned, actor=actor, instruction=signed)
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    return _store(session, actor.party, TRANSFER, terms, user, now)


def propose_trust(
    session: Session, *, registry: Registry, actor: Participant, user: str | None, account: str
) -> Proposal:
    """Propose adding ``account`` to the party's trusted list; a second user approves it, and it
    takes effect after the registry's delay from that approval (EU 2019/1122 art. 23)."""
    _user_role(session, actor.party, user)
    assert user is not None
    authorize(actor, Action.TRANSFER_UNITS, target_for_party(session, party=actor.party))
    info = find_account(session, account=check_id(account, field="account"))
    if info is None or info.owner == actor.party:
        raise InvalidInput(f"{account} is not another party's account", field="account")
    _, now = pinned_registry(session, registry=registry)
    return _store(session, actor.party, TRUST_ADD, {"account": account}, user, now)


def _pending(session: Session, actor: Participant, proposal_id: str, now: datetime) -> ProposalRow:
    row = session.get(ProposalRow, proposal_id) if isinstance(proposal_id, str) else None
    if row is None or row.party != actor.party:  # another party's proposal is invisible
        raise UnknownProposal(f"no proposal {proposal_id}", field="proposal_id")
    if _proposal(row, now).status != "pending":
        raise ProposalClosed(f"proposal {proposal_id} is {_proposal(row, now).status}", field="proposal_id")
    return row


def approve(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    user: str | None,
    proposal_id: str,
) -> Receipt:
    """The second user's approval: the registry signs the proposed body with both users named and
    records it. The second user cannot be the first, and must be an approver (复核人)."""
    role = _user_role(session, actor.party, user)
    pinned, now = pinned_registry(session, registry=registry)
    row = _pending(session, actor, proposal_id, now)
    if user == row.proposed_by:
        raise FourEyesRequired(
            "the second user cannot be the one who proposed it", field="proposal_id", party=actor.party
        )
    if role != "approver":
        raise FourEyesRequired(f"{user} is a {role}: only an approver approves", field="proposal_id")
    users = [row.proposed_by, str(user)]
    terms = json.loads(row.terms)
    if row.kind == TRANSFER:
        signed = _sign(
            session, vault=vault, party=actor.party, body=_transfer_body(actor.party, terms, users), at=now
        )
        receipt = transfer(session, registry=pinned, actor=actor, instruction=signed)
    else:
        effective = add_working_days(now, registry_controls(session).trust_delay_working_days)
        meta = {
            "party": actor.party,
            "account": terms["account"],
            "effective_at": format_utc(effective),
            APPROVED_BY: {actor.party: users},
        }
        body = TxBody(TRUST_ADD, new_nonce(), signers=(actor.party,), meta=meta)
        receipt = _submit_own(session, registry=pinned, actor=actor, body=body, vault=vault, at=now)
    _close(session, row, "applied", str(user), now, receipt.seq)
    return receipt


def _close(
    session: Session, row: ProposalRow, status: str, user: str, now: datetime, seq: int | None = None
) -> None:
    row.status, row.decided_by, row.decided_at, row.record_seq = status, user, format_utc(now), seq
    session.add(row)
    session.flush()


def reject(
    session: Session, *, actor: Participant, user: str | None, proposal_id: str, now: datetime
) -> Proposal:
    """Another user of the party turns a proposal down; nothing reaches the journal."""
    _user_role(session, actor.party, user)
    row = _pending(session, actor, proposal_id, now)
    if user == row.proposed_by:
        raise InvalidInput("the proposer withdraws a proposal; another user rejects it", field="proposal_id")
    _close(session, row, "rejected", str(user), now)
    return _proposal(row, now)


def withdraw(
    session: Session, *, actor: Participant, user: str | None, proposal_id: str, now: datetime
) -> Proposal:
    """The proposer takes a proposal back before anyone approved it."""
    _user_role(session, actor.party, user)
    row = _pending(session, actor, proposal_id, now)
    if user != row.proposed_by:
        raise InvalidInput("only the user who proposed it withdraws it", field="proposal_id")
    _close(session, row, "withdrawn", str(user), now)
    return _proposal(row, now)


def remove_trusted(
    session: Session, *, registry: Registry, vault: Vault, actor: Participant, user: str | None, account: str
) -> Receipt:
    """Take ``account`` off the party's trusted list, at once: one user is enough to reduce risk."""
    _user_role(session, actor.party, user)
    pinned, now = pinned_registry(session, registry=registry)
    meta = {"party": actor.party, "account": account, APPROVED_BY: {actor.party: [str(user)]}}
    body = TxBody(TRUST_REMOVE, new_nonce(), signers=(actor.party,), meta=meta)
    return _submit_own(session, registry=pinned, actor=actor, body=body, vault=vault, at=now)


def proposals_of(session: Session, *, actor: Participant, now: datetime) -> list[Proposal]:
    """Every proposal of the actor's party, newest first."""
    rows = session.exec(
        select(ProposalRow)
        .where(ProposalRow.party == actor.party)
        .order_by(col(ProposalRow.created_at).desc(), col(ProposalRow.id))
    )
    return [_proposal(r, now) for r in rows]


def to_do(session: Session, *, actor: Participant, user: str | None, now: datetime) -> list[Proposal]:
    """待办: the pending proposals awaiting this user's signature (another user's, for an approver)."""
    controls = controls_of(session, party=actor.party)
    if user is None or controls is None or controls.users.get(user) != "approver":
        return []
    return [
        p
        for p in proposals_of(session, actor=actor, now=now)
        if p.status == "pending" and p.proposed_by != user
    ]
