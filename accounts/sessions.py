"""Web console sessions kept by the registry: a login gets a random id (its cookie), the database keeps
only the id's hash, and a session ends on logout, on expiry, after idling, or when its key is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from accounts.credentials import Authenticated
from accounts.errors import InvalidCredentials
from accounts.model import Participant
from accounts.service import find_participant
from accounts.tables import ConsoleSessionRow, CredentialRow
from ledger.timeutil import format_utc, parse_utc

__all__ = [
    "LIFETIME",
    "SessionPolicy",
    "SessionView",
    "csrf_matches",
    "csrf_token",
    "end_session",
    "open_session",
    "resolve_session",
    "sessions_of",
    "touch_session",
]

_ID_TAG = b"ecoledger-console-session-v1\0"  # the stored hash of a session id
_CSRF_TAG = b"ecoledger-console-csrf-v1\0"  # the form token derived from it
LIFETIME = timedelta(hours=8)  # a working day, then log in again


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives, how long it may idle, and how often its last use is written."""

    lifetime: timedelta = LIFETIME
    idle: timedelta = timedelta(minutes=30)
    touch_every: timedelta = timedelta(minutes=1)  # not a write per page view


@dataclass(frozen=True, slots=True)
class SessionView:
    """A live session: who, and whether its idle clock is due to be moved on (``touch_session``)."""

    participant: Participant
    id_hash: str
    credential_id: str
    due_touch: bool
    user: str | None = None  # the named user logged in (accounts.users); None: the party's own key


def _hash(session_id: str) -> str:
    return hashlib.sha256(_ID_TAG + session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The token every form of this session carries: derived from the secret id (which only the
    HttpOnly cookie holds), so another site can neither read nor compute it, and the id cannot be
    computed back from it."""
    digest = hashlib.sha256(_CSRF_TAG + session_id.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_matches(session_id: str, given: str | None) -> bool:
    return isinstance(given, str) and hmac.compare_digest(csrf_token(session_id), given)


def open_session(
    session: Session, *, verified: Authenticated, now: datetime, policy: SessionPolicy = SessionPolicy()
) -> str:
    """A new session for a verified access key; returns its id (for the cookie, never stored).
    The party's expired sessions are swept on the way, so the table stays the size of live logins."""
    session_id = secrets.token_urlsafe(32)
    party = verified.participant.party
    session.exec(
        delete(ConsoleSessionRow).where(
            col(ConsoleSessionRow.party) == party, col(ConsoleSessionRow.expires_at) <= format_utc(now)
        )
    )
    session.add(
        ConsoleSessionRow(
            id_hash=_hash(session_id),
            party=party,
            credential_id=verified.credential_id,
            created_at=format_utc(now),
            last_seen_at=format_utc(now),
            expires_at=format_utc(now + policy.lifetime),
        )
    )
    session.flush()
    return session_id


def resolve_session(
    session: Session, session_id: str, *, now: datetime, policy: SessionPolicy = SessionPolicy()
) -> SessionView:
    """The live session ``session_id`` names, or ``InvalidCredentials``: unknown or ended, expired,
    idle too long, or its access key revoked (checked on every request, so revocation is at once)."""
    if not isinstance(session_id, str) or not 20 <= len(session_id) <= 100:
        raise InvalidCredentials("malformed_session")
    row = session.get(ConsoleSessionRow, _hash(session_id))
    if row is None:
        raise InvalidCredentials("no_session")
    if parse_utc(row.expires_at) <= now:
        raise InvalidCredentials("session_expired")
    last_seen = parse_utc(row.last_seen_at)
    if last_seen + policy.idle <= now:
        raise InvalidCredentials("session_idle")
    credential = session.get(CredentialRow, row.credential_id)
    if credential is None or (credential.revoked_at is not None and parse_utc(credential.revoked_at) <= now):
        raise InvalidCredentials("revoked")
    who = find_participant(session, party=row.party)
    if who is None:
        raise InvalidCredentials("no_participant")
    return SessionView(
        who, row.id_hash, row.credential_id, last_seen + policy.touch_every <= now, credential.user
    )


def touch_session(session: Session, *, id_hash: str, now: datetime) -> None:
    """Move a session's idle clock on to ``now`` (a write, made at most once a minute per session)."""
    row = session.get(ConsoleSessionRow, id_hash)
    if row is not None:
        row.last_seen_at = format_utc(now)
        session.add(row)
        session.flush()


def end_session(session: Session, *, session_id: str) -> None:
    """Logout: the session's row goes, so its cookie is worth nothing from now on, anywhere."""
    session.exec(delete(ConsoleSessionRow).where(col(ConsoleSessionRow.id_hash) == _hash(session_id)))
    session.flush()


def sessions_of(session: Session, *, party: str) -> list[ConsoleSessionRow]:
    """The party's session rows (tests and operations: how many logins are open)."""
    return list(session.exec(select(ConsoleSessionRow).where(ConsoleSessionRow.party == party)))
