"""Keys the registry holds for participants who act through the web console (托管密钥): sealed at
rest, opened only to sign, and every signature made with one carries ``custody: true``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session, select

from accounts.errors import NoCustodyKey
from accounts.keys import KeyEvent, add_key, rotate_key, valid_keys
from accounts.model import Participant, ParticipantSpec
from accounts.service import register_in_custody
from accounts.tables import CustodyKeyRow
from ledger.crypto import SigningKey, b64d, b64e
from ledger.service import Registry
from ledger.timeutil import format_utc

__all__ = [
    "CUSTODY_SECRET_ENV",
    "Vault",
    "custody_key",
    "new_custody_key",
    "register_with_custody",
    "take_into_custody",
]

CUSTODY_SECRET_ENV = "ECOLEDGER_CUSTODY_SECRET"


@dataclass(frozen=True)
class Vault:
    """The custody secret: a 256-bit AES-GCM key kept outside the database (environment or a file
    beside the registry's key), so a copy of the database alone opens no key."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise ValueError("the custody secret is 32 bytes")

    @classmethod
    def generate(cls) -> Vault:
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_text(cls, text: str) -> Vault:
        """From unpadded base64url text (the form ``to_text`` writes and the environment holds)."""
        return cls(b64d(text.strip(), length=32))

    @classmethod
    def from_env(cls) -> Vault | None:
        text = os.environ.get(CUSTODY_SECRET_ENV)
        return cls.from_text(text) if text else None

    def to_text(self) -> str:
        return b64e(self.secret)

    def seal(self, party: str, key: SigningKey) -> tuple[bytes, bytes]:
        nonce = secrets.token_bytes(12)
        return nonce, AESGCM(self.secret).encrypt(nonce, key.seed, _aad(party, key.key_id))

    def open(self, row: CustodyKeyRow) -> SigningKey:
        seed = AESGCM(self.secret).decrypt(row.nonce, row.sealed, _aad(row.party, row.key_id))
        key = SigningKey.from_seed(seed).in_custody()
        if key.key_id != row.key_id:  # the associated data already binds it; a second line
            raise ValueError(f"custody row {row.key_id} holds another key")
        return key


def _aad(party: str, key_id: str) -> bytes:
    return f"ecoledger-custody\x00{party}\x00{key_id}".encode()


def take_into_custody(session: Session, *, vault: Vault, party: str, key: SigningKey, at: datetime) -> None:
    """Keep ``key`` sealed for ``party``; the key must already be registered to it in the journal,
    by a record saying the registry holds it (``custody``): only then may signatures made with it
    say so, live and on replay."""
    found = next((k for k in valid_keys(session, party=party, at=at) if k.key_id == key.key_id), None)
    if found is None:
        raise NoCustodyKey(f"{party} has no registered key {key.key_id} valid now", party=party)
    if not found.custody:
        raise NoCustodyKey(
            f"{party}'s key {key.key_id} was registered as held by the party, not by the registry",
            party=party,
        )
    nonce, sealed = vault.seal(party, key)
    session.add(
        CustodyKeyRow(key_id=key.key_id, party=party, nonce=nonce, sealed=sealed, created_at=format_utc(at))
    )
    session.flush()


def custody_key(session: Session, *, vault: Vault, party: str, at: datetime) -> SigningKey:
    """The key the registry signs with for ``party`` now: the newest held key still valid at ``at``.
    A key revoked in the journal stops signing here at once, whatever the custody table says."""
    valid = {k.key_id for k in valid_keys(session, party=party, at=at)}
    rows = session.exec(
        select(CustodyKeyRow).where(CustodyKeyRow.party == party).order_by(CustodyKeyRow.created_at.desc())  # type: ignore[attr-defined]
    ).all()
    for row in rows:
        if row.key_id in valid:
            return vault.open(row)
    raise NoCustodyKey(
        f"the registry holds no valid key of {party}: it signs its own instructions", party=party
    )


def register_with_custody(
    session: Session, *, registry: Registry, vault: Vault, spec: ParticipantSpec, actor: Participant
) -> Participant:
    """Register a participant whose first key the registry generates and keeps sealed (web console
    users who hold no key of their own); ``actor`` is checked as in ``register_participant``."""
    participant, key = register_in_custody(session, registry=registry, spec=spec, actor=actor)
    take_into_custody(session, vault=vault, party=participant.party, key=key, at=registry.clock())
    return participant


def new_custody_key(
    session: Session,
    *,
    registry: Registry,
    vault: Vault,
    actor: Participant,
    party: str,
    replaces: str | None,
    signed_by: SigningKey | None,
) -> KeyEvent:
    """A new key for ``party`` that the registry generates and holds: beside its others, or in place
    of ``replaces`` (rotation). Signed with ``signed_by`` as ``accounts.keys`` demands."""
    key = SigningKey.generate()
    custody = signed_by is not None and signed_by.custody
    if replaces is None:
        event = add_key(
            session,
            registry=registry,
            actor=actor,
            party=party,
            public_key=key.public,
            signed_by=signed_by,
            custody=custody,
            held=True,
        )
    else:
        event = rotate_key(
            session,
            registry=registry,
            actor=actor,
            party=party,
            old_key_id=replaces,
            new_public_key=key.public,
            signed_by=signed_by,
            custody=custody,
            held=True,
        )
    take_into_custody(session, vault=vault, party=party, key=key, at=event.effective_at)
    return event
