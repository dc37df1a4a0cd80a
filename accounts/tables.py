"""The accounts package's tables: participants' queryable profile and hashed API credentials.
Dumb rows; the journal's ``party.register`` record stays the source of truth for a participant.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = ["CredentialRow", "CustodyKeyRow", "ParticipantRow"]


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
    """An API key: only the scrypt hash of its secret is kept, with the salt and cost used."""

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
