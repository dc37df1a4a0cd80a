"""Rows of four-eyes proposals (双人审批): an action one user of a party proposed that waits for a
second user's approval before the registry signs and records it. Dumb storage."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

__all__ = ["ProposalRow"]


class ProposalRow(SQLModel, table=True):
    """``kind``: ``transfer`` or ``trust.add``; ``terms``: its canonical JSON (destination, units);
    ``status``: pending | applied | rejected | withdrawn (expired is computed from ``expires_at``)."""

    __tablename__ = "four_eyes_proposal"
    id: str = Field(primary_key=True)
    party: str = Field(sa_column=Column(String, ForeignKey("participant.party"), nullable=False, index=True))
    kind: str
    terms: str = Field(sa_column=Column(Text, nullable=False))
    proposed_by: str
    status: str
    created_at: str  # the ledger's UTC text, as every time below
    expires_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    record_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
