"""Rows of paid-use allocation offers (有偿使用) waiting on the enterprise's consent: a bureau's signed
allocation until the enterprise accepts or the bureau withdraws. Dumb storage; the journal is the truth."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

__all__ = ["AllocationOfferRow"]


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
