"""Rows of proposals and their signer slots. Dumb storage; the rules are in ``market.proposals.service``
and the journal is the truth of what applied."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

__all__ = ["ProposalRow", "ProposalSignerRow"]


class ProposalRow(SQLModel, table=True):
    """``terms``: the kind's canonical JSON; ``status``: pending | applied | rejected | withdrawn
    (expired is computed from ``expires_at``; NULL: it never lapses)."""

    __tablename__ = "proposal"
    id: str = Field(primary_key=True)
    kind: str = Field(index=True)
    party: str = Field(index=True)
    proposed_by: str | None = None
    terms: str = Field(sa_column=Column(Text, nullable=False))
    status: str
    created_at: str  # the ledger's UTC text, as every time below
    expires_at: str | None = None
    decided_party: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    record_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ProposalSignerRow(SQLModel, table=True):
    """One required signer of a proposal; ``signed_at`` NULL while it waits (the to-do list, 待办, is
    the index on party and ``signed_at``). ``signature``: the ledger's Signature as canonical JSON."""

    __tablename__ = "proposal_signer"
    __table_args__ = (Index("ix_proposal_signer_awaiting", "party", "signed_at"),)
    proposal_id: str = Field(
        sa_column=Column(String, ForeignKey("proposal.id"), primary_key=True, nullable=False)
    )
    slot: int = Field(sa_column=Column(Integer, primary_key=True, nullable=False, autoincrement=False))
    party: str
    role: str | None = None
    excluded_user: str | None = None
    signature: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    signed_by: str | None = None
    signed_at: str | None = None
    # JSON list of the earlier slots that must be signed before this one; NULL: none
    after_slots: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
