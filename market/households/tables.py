"""Rows of the household workflow: the cooperative's member register (personal data, never on the
journal), rosters waiting for the bureau, and the sales that split proceeds. The journal is the truth.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

__all__ = ["HouseholdMemberRow", "HouseholdRosterRow", "HouseholdSaleRow"]


class HouseholdMemberRow(SQLModel, table=True):
    """A member household (社员) of a cooperative: who it is (off the journal) and its salt."""

    __tablename__ = "household_member"
    cooperative: str = Field(primary_key=True)
    member: str = Field(primary_key=True)  # pseudonymous id, the one on the journal
    name: str
    id_card: str
    salt: str  # hex, 32 random bytes drawn once (market.households.model)
    identity_hash: str
    account: str  # its member account at the cooperative
    registered_at: str


class HouseholdRosterRow(SQLModel, table=True):
    """A roster the cooperative registered (signed), confirmed when the bureau signs it onto the journal."""

    __tablename__ = "household_roster"
    roster: str = Field(primary_key=True)
    project: str = Field(index=True)
    cooperative: str = Field(index=True)
    bureau: str
    meta: str = Field(sa_column=Column(Text, nullable=False))  # the record's meta, canonical JSON
    nonce: str
    signatures: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, the cooperative's
    status: str  # submitted | confirmed
    submitted_at: str
    confirmed_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class HouseholdSaleRow(SQLModel, table=True):
    """A sale of a cooperative's attributed credits (``bc.sale``), for statements and lists."""

    __tablename__ = "household_sale"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    cooperative: str = Field(index=True)
    roster: str
    batch: str
    buyer: str
    tonnes: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_fen_per_t: int = Field(sa_column=Column(BigInteger, nullable=False))
    proceeds_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    retired: bool
    time: str
