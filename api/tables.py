"""The API's own rows: the responses of idempotent writes, replayed when a client retries a request
with the same ``Idempotency-Key``. Importing this module registers the table on the metadata."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

__all__ = ["IdempotentResponseRow"]


class IdempotentResponseRow(SQLModel, table=True):
    """One committed write per (caller, key): what it asked (a digest) and what it was answered."""

    __tablename__ = "api_idempotent_response"
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), primary_key=True))
    key: str = Field(sa_column=Column(String(128), primary_key=True))
    request_digest: (
        str  # SHA-256 of method, path and canonical body: a reused key with another request is refused
    )
    status_code: int
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str  # the ledger's UTC text form
