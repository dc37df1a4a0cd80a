"""API credentials: keys ``ek_<id>_<secret>`` that authenticate every API call, stored as a salted
scrypt hash, revocable at once; every failed authentication gets the same answer after the same work.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from accounts.errors import InvalidCredentials, UnknownCredential
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import find_participant, get_participant, target_for_party
from accounts.tables import CredentialRow
from ledger.errors import InvalidInput
from ledger.timeutil import format_utc, parse_utc, utc_now

__all__ = [
    "Authenticated",
    "Credential",
    "IssuedCredential",
    "authenticate",
    "confirm",
    "credentials_of",
    "issue_credential",
    "revoke_credential",
    "verify_token",
]

# scrypt at N=2**14, r=8, p=1 (16 MiB, about 75 ms here): Percival's interactive setting. The
# secrets are 256 random bits, so the cost guards a leaked table, not guessable passwords; each
# row keeps its own parameters so they can be raised without invalidating issued keys.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_TOKEN = re.compile(r"^ek_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")
_DUMMY_SALT = bytes(16)


def _hash(credential_id: str, secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # The id is hashed with the secret, so a hash copied onto another row does not verify there.
    material = f"{credential_id}:{secret}".encode()
    return hashlib.scrypt(material, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential as listed: never its secret."""

    id: str
    party: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """The one time a token is seen in full: hand it to the participant, store it nowhere."""

    credential: Credential
    token: str

    def __repr__(self) -> str:
        return f"IssuedCredential({self.credential!r}, token='ek_{self.credential.id}_***')"


def _credential(row: CredentialRow) -> Credential:
    return Credential(
        row.id,
        row.party,
        row.label,
        parse_utc(row.created_at),
        parse_utc(row.revoked_at) if row.revoked_at else None,
    )


def _authorize(session: Session, actor: Participant | None, party: str) -> None:
    get_participant(session, party=party)
    if actor is not None:
        authorize(actor, Action.MANAGE_CREDENTIALS, target_for_party(session, party=party))


def issue_credential(
    session: Session,
    *,
    party: str,
    label: str = "",
    actor: Participant | None = None,
    now: datetime | None = None,
) -> IssuedCredential:
    """A new API key for ``party``. ``actor`` is who asks (the party itself or the operator);
    ``None`` means the registry itself (bootstrap, CLI), never a request."""
    if not isinstance(label, str) or len(label) > 100:
        raise InvalidInput("label must be at most 100 characters", field="label")
    _authorize(session, actor, party)
    credential_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
    created = now or utc_now()
    row = CredentialRow(
        id=credential_id,
        party=party,
        label=label,
        salt=salt,
        secret_hash=_hash(credential_id, secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P),
        scrypt_n=SCRYPT_N,
        scrypt_r=SCRYPT_R,
        scrypt_p=SCRYPT_P,
        created_at=format_utc(created),
    )
    session.add(row)
    session.flush()
    return IssuedCredential(_credential(row), f"ek_{credential_id}_{secret}")


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A token verified once (scrypt): who it is and the stored hash it matched, so a cache can
    confirm it later with one read instead of another scrypt (``confirm``)."""

    participant: Participant
    credential_id: str
    secret_hash: bytes


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> Participant:
    """The participant a token belongs to, or ``InvalidCredentials``.

    Unknown id, wrong secret, revoked key and malformed token all raise the same error; an
    unknown id still costs one scrypt, so timing does not tell which ids exist.
    """
    return verify_token(session, token, now=now).participant


def confirm(session: Session, verified: Authenticated, *, now: datetime | None = None) -> Participant:
    """A token verified earlier, still good: its row still holds the hash the secret matched and is
    not revoked (one primary-key read, no scrypt); otherwise ``InvalidCredentials``."""
    row = session.get(CredentialRow, verified.credential_id)
    if row is None or not hmac.compare_digest(row.secret_hash, verified.secret_hash):
        raise InvalidCredentials("unknown")
    if row.revoked_at is not None and parse_utc(row.revoked_at) <= (now or utc_now()):
        raise InvalidCredentials("revoked")
    return verified.participant


def verify_token(session: Session, token: str, *, now: datetime | None = None) -> Authenticated:
    """``authenticate``, keeping what ``confirm`` needs to re-check the token cheaply."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise InvalidCredentials("malformed")
    credential_id, secret = match.groups()
    row = session.get(CredentialRow, credential_id)
    if row is None:
        _hash(credential_id, secret, _DUMMY_SALT, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        raise InvalidCredentials("unknown")
    computed = _hash(credential_id, secret, row.salt, row.scrypt_n, row.scrypt_r, row.scrypt_p)
    if not hmac.compare_digest(computed, row.secret_hash):
        raise InvalidCredentials("wrong_secret")
    if row.revoked_at is not None and parse_utc(row.revoked_at) <= (now or utc_now()):
        raise InvalidCredentials("revoked")
    participant = find_participant(session, party=row.party)
    if participant is None:
        raise InvalidCredentials("no_participant")
    return Authenticated(participant, credential_id, row.secret_hash)


def revoke_credential(
    session: Session,
    *,
    credential_id: str,
    actor: Participant | None = None,
    now: datetime | None = None,
    party: str | None = None,
) -> Credential:
    """Revoke an API key at once; later calls with it fail. Revoking twice keeps the first time.
    ``party``, when given, must own the key (a route names both)."""
    row = session.get(CredentialRow, credential_id) if isinstance(credential_id, str) else None
    if row is None or (party is not None and row.party != party):
        raise UnknownCredential(f"no credential {credential_id}", field="credential_id")
    _authorize(session, actor, row.party)
    if row.revoked_at is None:
        row.revoked_at = format_utc(now or utc_now())
        session.add(row)
        session.flush()
    return _credential(row)


def credentials_of(session: Session, *, party: str, actor: Participant | None = None) -> list[Credential]:
    """The API keys of ``party``, active and revoked, oldest first (without secrets)."""
    _authorize(session, actor, party)
    rows = session.exec(
        select(CredentialRow)
        .where(CredentialRow.party == party)
        .order_by(CredentialRow.created_at, CredentialRow.id)
    )
    return [_credential(r) for r in rows]
