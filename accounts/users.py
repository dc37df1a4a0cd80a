"""Named users inside a participant (经办人 clerk, 复核人 approver), each with an API key of their own,
and the party's controls (thresholds, trusted list) written to the journal as ``controls.set`` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from accounts.credentials import IssuedCredential, issue_credential
from accounts.custody import Vault, custody_key
from accounts.errors import NoCustodyKey, PermissionDenied
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import pinned_registry, target_for_party
from accounts.tables import UserRow
from ledger.controls import APPROVED_BY, CONTROLS_SET, USER_ROLES
from ledger.crypto import SigningKey
from ledger.errors import Conflict, InvalidInput
from ledger.model import TxBody, check_id
from ledger.service import Instruction, Receipt, Registry, new_nonce, sign_body, submit
from ledger.timeutil import format_utc, parse_utc

__all__ = ["NotAdministrator", "User", "UserExists", "add_user", "find_user", "set_controls", "users_of"]


class NotAdministrator(PermissionDenied):
    """Users are created by the party's own (administrator's) key, not by another user's."""

    code = "not_administrator"


class UserExists(Conflict):
    code = "user_exists"


@dataclass(frozen=True, slots=True)
class User:
    party: str
    user_id: str
    name: str
    role: str


def _user(row: UserRow) -> User:
    return User(row.party, row.user_id, row.name, row.role)


def users_of(session: Session, *, party: str) -> list[User]:
    """The party's users, in the order they were created."""
    rows = session.exec(
        select(UserRow).where(UserRow.party == party).order_by(UserRow.created_at, UserRow.id)
    )
    return [_user(r) for r in rows]


def find_user(session: Session, *, party: str, user_id: str | None) -> User | None:
    if user_id is None:
        return None
    row = session.get(UserRow, f"{party}/{user_id}")
    return _user(row) if row is not None else None


def _submit_own(
    session: Session,
    *,
    registry: Registry,
    vault: Vault | None,
    actor: Participant,
    meta: dict[str, Any],
    key: SigningKey | None = None,
) -> Receipt:
    """A ``controls.set`` of the actor's own party, signed with its custody key (from ``vault``, or
    ``key`` when a workflow already holds it: an approved proposal's consent)."""
    authorize(actor, Action.MANAGE_CREDENTIALS, target_for_party(session, party=actor.party))
    pinned, now = pinned_registry(session, registry=registry)
    body = TxBody(CONTROLS_SET, new_nonce(), signers=(actor.party,), meta={"party": actor.party, **meta})
    if key is None:
        if vault is None:
            raise NoCustodyKey("the registry holds no custody keys", field="party")
        key = custody_key(session, vault=vault, party=actor.party, at=now)
    signed = Instruction(body, (sign_body(body, actor.party, key, custody=True),), scope=actor.party)
    return submit(session, signed, registry=pinned)


def add_user(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    acting_user: str | None,
    user_id: str,
    name: str,
    role: str,
) -> tuple[User, IssuedCredential]:
    """A new named user of ``actor``'s party with an access key of their own; the journal's
    ``controls.set`` record lists the party's users and roles. Only the party's administrator (its
    own key, no user) creates users, so no user promotes themselves to approver."""
    if acting_user is not None:
        raise NotAdministrator(
            "only the party's administrator key creates users",
            rule="administrator_only",
            action="add_user",
            actor=actor.party,
        )
    check_id(user_id, field="user_id")
    if "/" in user_id or len(user_id) > 32:
        raise InvalidInput("user_id is at most 32 letters, digits and . _ : -", field="user_id")
    if role not in USER_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(USER_ROLES)}", field="role")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 100:
        raise InvalidInput("name is 1 to 100 characters", field="name")
    party = actor.party
    if find_user(session, party=party, user_id=user_id) is not None:
        raise UserExists(f"{party} already has a user {user_id}", field="user_id")
    users = {u.user_id: u.role for u in users_of(session, party=party)} | {user_id: role}
    receipt = _submit_own(session, registry=registry, vault=vault, actor=actor, meta={"users": users})
    now = parse_utc(receipt.time)
    row = UserRow(
        id=f"{party}/{user_id}",
        party=party,
        user_id=user_id,
        name=name.strip(),
        role=role,
        created_at=format_utc(now),
    )
    session.add(row)
    session.flush()
    issued = issue_credential(
        session, party=party, label=f"user {user_id}", actor=actor, now=now, user=user_id
    )
    return _user(row), issued


def set_controls(
    session: Session,
    *,
    registry: Registry,
    vault: Vault | None,
    actor: Participant,
    approved_by: tuple[str, ...] = (),
    four_eyes_kg: dict[str, int] | None = None,
    trusted_list: bool | None = None,
    key: SigningKey | None = None,
) -> Receipt:
    """The party's four-eyes thresholds and whether it keeps a trusted list (a ``controls.set`` record).
    Once either is in force, the ledger takes a change only with two users' approval (``approved_by``;
    ``market.foureyes.change_controls`` gathers the second)."""
    meta: dict[str, Any] = {}
    if four_eyes_kg is not None:
        meta["four_eyes_kg"] = four_eyes_kg
    if trusted_list is not None:
        meta["trusted_list"] = trusted_list
    if approved_by:
        meta[APPROVED_BY] = {actor.party: list(approved_by)}
    return _submit_own(session, registry=registry, vault=vault, actor=actor, meta=meta, key=key)
