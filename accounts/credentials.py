"""API credentials: keys ``ek_<id>_<secret>`` that authenticate every API call, stored hashed and
revocable at once. A key is found by its id first, so a token with an unknown id costs no hashing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select

from accounts.errors import InvalidCredentials, PermissionDenied, UnknownCredential
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import find_participant, get_participant, target_for_party
from accounts.tables import ConsoleSessionRow, CredentialRow
from ledger.errors import InvalidInput
from ledger.timeutil import format_utc, parse_utc, utc_now

__all__ = [
    "Authenticated",
    "Credential",
    "IssuedCredential",
    "PendingToken",
    "authenticate",
    "confirm",
    "credential_id_of",
    "credentials_of",
    "issue_credential",
    "look_up_token",
    "revoke_credential",
    "verify_token",
]

# A key's secret is 256 random bits (``secrets.token_urlsafe(32)``): nobody guesses it, so a slow
# password hash buys nothing even against a leaked table, and one SHA-256 (about a microsecond)
# replaces scrypt (about 75 ms, which let bogus tokens eat the server's CPU). Keys issued before
# keep their scrypt hash and are verified with it (``hash_scheme``); they are not rehashed, since
# their secret is never stored, and stop existing when their holders rotate them.
SHA256, SCRYPT = "sha256", "scrypt"
_CREDENTIALS = CredentialRow.__table__  # type: ignore[attr-defined]
_CONFIRM = sa_select(_CREDENTIALS.c.secret_hash, _CREDENTIALS.c.revoked_at).where(
    _CREDENTIALS.c.id == bindparam("id")
)
_DOMAIN = b"ecoledger-credential-v1\0"  # domain separation: this hash is of an API key and nothing else
_TOKEN = re.compile(r"^ek_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")


def _sha256(credential_id: str, secret: str) -> bytes:
    # The id is hashed with the secret, so a hash copied onto another row does not verify there.
    return hashlib.sha256(_DOMAIN + f"{credential_id}:{secret}".encode()).digest()


def _scrypt(credential_id: str, secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    material = f"{credential_id}:{secret}".encode()
    return hashlib.scrypt(material, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024)


def credential_id_of(token: str) -> str | None:
    """The id part of a well-formed token (not verified), for counting failures per credential."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential as listed: never its secret."""

    id: str
    party: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None
    user: str | None = None  # a named user's own key (accounts.users); None: the party's

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
        row.user,
    )


def _authorize(
    session: Session,
    actor: Participant | None,
    party: str,
    action: Action = Action.MANAGE_CREDENTIALS,
    acting_user: str | None = None,
) -> None:
    if acting_user is not None and actor is not None:
        # A named user's key (accounts.users) acts for the party but never mints or revokes its keys:
        # a clerk with a key of the party's own could name users and approve alone.
        raise PermissionDenied(
            f"{actor.party}'s user {acting_user} may not manage the party's keys (administrator only)",
            rule="administrator_only",
            action=action.value,
            actor=actor.party,
        )
    get_participant(session, party=party)
    if actor is not None:
        authorize(actor, action, target_for_party(session, party=party))


def issue_credential(
    session: Session,
    *,
    party: str,
    label: str = "",
    actor: Participant | None = None,
    now: datetime | None = None,
    user: str | None = None,
    acting_user: str | None = None,
) -> IssuedCredential:
    """A new API key for ``party``. ``actor`` is who asks (the party itself or the operator);
    ``None`` means the registry itself (bootstrap, CLI), never a request. ``user``: the key of one
    named user of the party (``accounts.users``), who then acts as that user."""
    if not isinstance(label, str) or len(label) > 100:
        raise InvalidInput("label must be at most 100 characters", field="label")
    _authorize(session, actor, party, acting_user=acting_user)
    credential_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    created = now or utc_now()
    row = CredentialRow(
        id=credential_id,
        party=party,
        label=label,
        salt=b"",
        secret_hash=_sha256(credential_id, secret),
        scrypt_n=0,
        scrypt_r=0,
        scrypt_p=0,
        created_at=format_utc(created),
        hash_scheme=SHA256,
        user=user,
    )
    session.add(row)
    session.flush()
    return IssuedCredential(_credential(row), f"ek_{credential_id}_{secret}")


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A token verified once: who it is and the stored hash it matched, so a cache can confirm it
    later with one read instead of hashing again (``confirm``)."""

    participant: Participant
    credential_id: str
    secret_hash: bytes
    user: str | None = None  # the named user whose key it is (accounts.users), if any


@dataclass(frozen=True, slots=True)
class PendingToken:
    """A token whose credential row was found, before its secret is checked: ``slow`` says the check
    is scrypt (run it off the event loop); ``finish`` does it."""

    credential_id: str
    secret: str
    row: CredentialRow
    participant: Participant | None

    @property
    def slow(self) -> bool:
        return self.row.hash_scheme != SHA256

    def finish(self, *, now: datetime | None = None) -> Authenticated:
        """The verified token, or ``InvalidCredentials`` (wrong secret, revoked, no participant)."""
        row = self.row
        if row.hash_scheme == SHA256:
            computed = _sha256(self.credential_id, self.secret)
        else:
            cost = (row.scrypt_n, row.scrypt_r, row.scrypt_p)
            computed = _scrypt(self.credential_id, self.secret, row.salt, *cost)
        if not hmac.compare_digest(computed, row.secret_hash):
            raise InvalidCredentials("wrong_secret")
        if row.revoked_at is not None and parse_utc(row.revoked_at) <= (now or utc_now()):
            raise InvalidCredentials("revoked")
        if self.participant is None:
            raise InvalidCredentials("no_participant")
        return Authenticated(self.participant, self.credential_id, row.secret_hash, row.user)


def look_up_token(session: Session, token: str) -> PendingToken:
    """The credential a token names, read by its id before any hashing: a malformed token or an
    unknown id is refused at the cost of one primary-key read."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise InvalidCredentials("malformed")
    credential_id, secret = match.groups()
    row = session.get(CredentialRow, credential_id)
    if row is None:
        raise InvalidCredentials("unknown")
    session.expunge(row)  # a plain value from here on: ``finish`` may run in another thread
    return PendingToken(credential_id, secret, row, find_participant(session, party=row.party))


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> Participant:
    """The participant a token belongs to, or ``InvalidCredentials``: malformed token, unknown id,
    wrong secret and revoked key all raise the same error (only its ``reason`` differs, for logs)."""
    return verify_token(session, token, now=now).participant


def confirm(session: Session, verified: Authenticated, *, now: datetime | None = None) -> Participant:
    """A token verified earlier, still good: its row still holds the hash the secret matched and is
    not revoked (one primary-key read, no hashing); otherwise ``InvalidCredentials``."""
    # a Core read of two columns: the ORM's identity map and object load cost more than the read
    row = session.connection().execute(_CONFIRM, {"id": verified.credential_id}).first()
    if row is None or not hmac.compare_digest(row.secret_hash, verified.secret_hash):
        raise InvalidCredentials("unknown")
    if row.revoked_at is not None and parse_utc(row.revoked_at) <= (now or utc_now()):
        raise InvalidCredentials("revoked")
    return verified.participant


def verify_token(session: Session, token: str, *, now: datetime | None = None) -> Authenticated:
    """``authenticate``, keeping what ``confirm`` needs to re-check the token cheaply."""
    return look_up_token(session, token).finish(now=now)


def revoke_credential(
    session: Session,
    *,
    credential_id: str,
    actor: Participant | None = None,
    now: datetime | None = None,
    party: str | None = None,
    acting_user: str | None = None,
) -> Credential:
    """Revoke an API key at once; later calls with it fail and the console sessions opened with it
    end. Revoking twice keeps the first time. ``party``, when given, must own the key (a route names
    both); the operator may revoke anyone's key, but issues keys only for itself."""
    row = session.get(CredentialRow, credential_id) if isinstance(credential_id, str) else None
    if row is None or (party is not None and row.party != party):
        raise UnknownCredential(f"no credential {credential_id}", field="credential_id")
    _authorize(session, actor, row.party, Action.ADMINISTER_CREDENTIALS, acting_user)
    if row.revoked_at is None:
        row.revoked_at = format_utc(now or utc_now())
        session.add(row)
        # the console sessions opened with it end now, not at their next request
        session.exec(delete(ConsoleSessionRow).where(col(ConsoleSessionRow.credential_id) == row.id))
        session.flush()
    return _credential(row)


def credentials_of(session: Session, *, party: str, actor: Participant | None = None) -> list[Credential]:
    """The API keys of ``party``, active and revoked, oldest first (without secrets)."""
    _authorize(session, actor, party, Action.ADMINISTER_CREDENTIALS)
    rows = session.exec(
        select(CredentialRow)
        .where(CredentialRow.party == party)
        .order_by(CredentialRow.created_at, CredentialRow.id)
    )
    return [_credential(r) for r in rows]
