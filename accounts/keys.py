"""Participants' signing keys: add, rotate and revoke, each a signed journal record with its
effective time, so a replay knows which key was valid when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, get_participant, pinned_registry
from ledger.crypto import SigningKey, key_id_for
from ledger.errors import InvalidInput, MissingSignature
from ledger.model import Body, RegisterKey, RevokeKey, check_public_key
from ledger.rules import KeyInfo
from ledger.service import Instruction, Registry, keys_of_party, new_nonce, sign_body, submit_all

__all__ = ["KeyEvent", "add_key", "keys_of", "revoke_key", "rotate_key", "valid_keys"]


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """What a key operation recorded: the key it concerns, from when, and at which record."""

    party: str
    key_id: str
    effective_at: datetime
    seq: int
    revoked_key_id: str | None = None


def keys_of(session: Session, *, party: str) -> list[KeyInfo]:
    """Every key ``party`` ever registered, revoked ones included, oldest first."""
    return keys_of_party(session, party=party)


def valid_keys(session: Session, *, party: str, at: datetime) -> list[KeyInfo]:
    """The keys whose signatures the ledger accepts for ``party`` at instant ``at``."""
    return [k for k in keys_of(session, party=party) if k.valid_at(at)]


def _prepare(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    actions: tuple[Action, ...],
    party: str,
    signed_by: SigningKey | None,
    when: datetime | None,
    field: str,
) -> tuple[Registry, datetime]:
    """Authorize, insist on the party's signature, and fix the effective time (never backdated)."""
    get_participant(session, party=party)
    target = party_target(party, SessionDirectory(session))
    for action in actions:
        authorize(actor, action, target)
    if signed_by is None and actor.role is not Role.OPERATOR:
        raise MissingSignature(
            f"a key event of {party} must be signed with one of its current keys",
            field="signed_by",
            missing=[party],
        )
    if when is not None and (when.tzinfo is None or when.utcoffset() is None):
        raise InvalidInput(f"{field} must be a UTC instant, not a naive datetime", field=field)
    pinned, now = pinned_registry(session, registry=registry)
    if when is not None and when < now:
        raise InvalidInput(
            f"{field} cannot be earlier than now: records already accepted must stay valid", field=field
        )
    return pinned, when or now


def _instructions(
    bodies: list[Body], party: str, signed_by: SigningKey | None, custody: bool
) -> list[Instruction]:
    if signed_by is None:  # the operator acts alone (lost or compromised key): registry seal only
        return [Instruction(b) for b in bodies]
    return [Instruction(b, (sign_body(b, party, signed_by, custody=custody),)) for b in bodies]


def _public(public_key: object) -> bytes:
    """The 32 raw bytes of a key the ledger registers: ``InvalidPublicKey`` (with its reason) for
    the all-zero key, a small-order or mixed-order point, or a non-canonical encoding."""
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise InvalidInput("public_key must be the 32 raw bytes of an Ed25519 key", field="public_key")
    return check_public_key(public_key, field="public_key")


def add_key(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    party: str,
    public_key: bytes,
    signed_by: SigningKey | None = None,
    custody: bool = False,
    valid_from: datetime | None = None,
    held: bool = False,
) -> KeyEvent:
    """Register another key for ``party``, valid from ``valid_from`` (default now), beside its others.

    Signed by one of the party's current keys (``signed_by``; ``custody``: a key the registry holds);
    only the operator may act without. ``held``: the registry generated the new key and keeps it,
    which the record says, so that signatures with it may say custody.
    """
    raw = _public(public_key)
    pinned, start = _prepare(
        session,
        registry=registry,
        actor=actor,
        actions=(Action.REGISTER_KEY,),
        party=party,
        signed_by=signed_by,
        when=valid_from,
        field="valid_from",
    )
    body = RegisterKey(party, key_id_for(raw), raw, start, new_nonce(), custody=held)
    (receipt,) = submit_all(session, _instructions([body], party, signed_by, custody), registry=pinned)
    return KeyEvent(party, body.key_id, start, receipt.seq)


def rotate_key(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    party: str,
    old_key_id: str,
    new_public_key: bytes,
    signed_by: SigningKey | None = None,
    custody: bool = False,
    effective_at: datetime | None = None,
    held: bool = False,
) -> KeyEvent:
    """Replace ``old_key_id`` by a new key at ``effective_at`` (default now), in one batch (``held``
    as for ``add_key``).

    The new key is valid from, and the old one revoked at, the same instant: records signed by
    the old key before it stay valid forever; from then on only the new key signs.
    """
    raw = _public(new_public_key)
    pinned, at = _prepare(
        session,
        registry=registry,
        actor=actor,
        actions=(Action.REGISTER_KEY, Action.REVOKE_KEY),
        party=party,
        signed_by=signed_by,
        when=effective_at,
        field="effective_at",
    )
    new_id = key_id_for(raw)
    bodies: list[Body] = [
        RegisterKey(party, new_id, raw, at, new_nonce(), custody=held),
        RevokeKey(party, old_key_id, at, f"rotated to {new_id}", new_nonce()),
    ]
    receipts = submit_all(session, _instructions(bodies, party, signed_by, custody), registry=pinned)
    return KeyEvent(party, new_id, at, receipts[0].seq, revoked_key_id=old_key_id)


def revoke_key(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    party: str,
    key_id: str,
    reason: str,
    signed_by: SigningKey | None = None,
    custody: bool = False,
    effective_at: datetime | None = None,
) -> KeyEvent:
    """Revoke ``key_id`` of ``party`` at ``effective_at`` (default now; never earlier).

    Signatures made with it at or after that instant are refused (``KeyNotValid``), live and on
    replay; those made before stay valid. The party signs with a current key, which may be the
    one it revokes; the operator may revoke alone when the key is lost or compromised.
    """
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason must be 1-500 characters", field="reason")
    pinned, at = _prepare(
        session,
        registry=registry,
        actor=actor,
        actions=(Action.REVOKE_KEY,),
        party=party,
        signed_by=signed_by,
        when=effective_at,
        field="effective_at",
    )
    body = RevokeKey(party, key_id, at, reason, new_nonce())
    (receipt,) = submit_all(session, _instructions([body], party, signed_by, custody), registry=pinned)
    return KeyEvent(party, key_id, at, receipt.seq, revoked_key_id=key_id)
