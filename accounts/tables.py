"""The accounts package's tables: participants' queryable profile, hashed API credentials, console
sessions and second factors. Dumb rows; the journal's ``party.register`` record stays the source of
truth for a participant.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = ["ConsoleSessionRow", "CredentialRow", "CustodyKeyRow", "ParticipantRow", "TotpRow", "UserRow"]


class ParticipantRow(SQLModel, table=True):
    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("role", "credit_code", name="uq_participant_role_credit_code"),)
    party: str = Field(sa_column=Column(String, ForeignKey("party.id"), primary_key=True))
    role: str = Field(index=True)
    name: str
    jurisdiction: str | None = Field(default=None, index=True)
    credit_code: str | None = Field(default=None, index=True)
    permit_number: str | None = None
    branch: str | None = None
    registered_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class CredentialRow(SQLModel, table=True):
    """An API key: only a hash of its secret is kept. ``hash_scheme`` says which: ``sha256`` for keys
    issued now (256 random bits need no slow hash), ``scrypt`` for older ones (with salt and cost)."""

    __tablename__ = "api_credential"
    id: str = Field(primary_key=True)
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), nullable=False, index=True))
    label: str
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    secret_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    scrypt_n: int
    scrypt_r: int
    scrypt_p: int
    created_at: str  # the ledger's UTC text form
    revoked_at: str | None = None
    hash_scheme: str = Field(
        default="scrypt", sa_column=Column(String, nullable=False, server_default="scrypt")
    )
    # A named user's own key (``party_user``); None: the party's key, held by its administrator.
    user: str | None = Field(default=None, sa_column=Column(String, nullable=True, index=True))


class UserRow(SQLModel, table=True):
    """A named person acting for a participant (经办人 clerk, 复核人 approver). The journal's
    ``controls.set`` records carry the ids and roles; the name stays here, off the journal."""

    __tablename__ = "party_user"
    __table_args__ = (UniqueConstraint("party", "user_id", name="uq_party_user"),)
    id: str = Field(primary_key=True)  # "<party>/<user_id>": unique across the registry
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), nullable=False, index=True))
    user_id: str
    name: str
    role: str
    created_at: str  # the ledger's UTC text form


class CustodyKeyRow(SQLModel, table=True):
    """A participant's signing key held by the registry (托管密钥), sealed with AES-256-GCM under the
    custody secret; the party and key id are the associated data, so a sealed key moved to another
    row does not open."""

    __tablename__ = "custody_key"
    key_id: str = Field(primary_key=True)
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), nullable=False, index=True))
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: str  # the ledger's UTC text form


class ConsoleSessionRow(SQLModel, table=True):
    """A web console login: only the SHA-256 of its random id is kept (the cookie holds the id), with
    the credential it was opened with, so revoking that credential ends the session too."""

    __tablename__ = "console_session"
    id_hash: str = Field(primary_key=True)  # lowercase hex
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), nullable=False, index=True))
    credential_id: str = Field(
        sa_column=Column(String, ForeignKey("api_credential.id"), nullable=False, index=True)
    )
    created_at: str  # the ledger's UTC text form, as every time below
    last_seen_at: str
    expires_at: str


class TotpRow(SQLModel, table=True):
    """A console user's second factor (RFC 6238 TOTP): its base32 secret, pending until a first code
    confirms it, and the last time step accepted (a code is used once)."""

    __tablename__ = "console_totp"
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), primary_key=True))
    secret: str
    confirmed_at: str | None = None
    last_step: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
