"""Rows of offers waiting on a counterparty's consent: a seller's signed trade body until the buyer
accepts, and a bureau's signed paid-use allocation until the enterprise consents. Dumb storage."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

__all__ = ["AllocationOfferRow", "TradeOfferRow"]


class TradeOfferRow(SQLModel, table=True):
    """A pending, accepted or withdrawn offer; ``seller_signature`` is the seller's signature over the
    trade body fixed by the terms and ``nonce`` (canonical JSON of the ledger's Signature)."""

    __tablename__ = "trade_offer"
    id: str = Field(primary_key=True)
    seller: str = Field(index=True)
    buyer: str = Field(index=True)
    instrument: str
    jurisdiction: str
    valid_until: str  # YYYY-MM-DD
    quantity_kg: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_fen_per_t: int = Field(sa_column=Column(BigInteger, nullable=False))
    nonce: str
    seller_signature: str = Field(sa_column=Column(Text, nullable=False))
    status: str  # pending | accepted | withdrawn
    created_at: str  # the ledger's UTC text
    closed_at: str | None = None
    trade_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class AllocationOfferRow(SQLModel, table=True):
    """A paid-use allocation (有偿使用) the bureau signed, waiting for the enterprise's consent to its
    fee; the terms and ``nonce`` fix the body (``price_fen_per_tonne_year`` None: the base price)."""

    __tablename__ = "allocation_offer"
    id: str = Field(primary_key=True)
    bureau: str = Field(index=True)
    enterprise: str = Field(index=True)
    instrument: str
    valid_until: str  # YYYY-MM-DD
    quantity_kg: int = Field(sa_column=Column(BigInteger, nullable=False))
    purpose: str  # initial | major_project
    project: str | None = None
    years: int
    price_fen_per_tonne_year: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    fee_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    nonce: str
    bureau_signature: str = Field(sa_column=Column(Text, nullable=False))
    status: str  # pending | accepted | withdrawn
    created_at: str  # the ledger's UTC text
    closed_at: str | None = None
    allocation_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
