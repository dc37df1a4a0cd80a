"""Rows of buy-back offers (收储要约): a bureau's signed buy-back body waiting for the enterprise's
consent. Dumb storage; the rules are in ``market.reserve.offers``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

__all__ = ["BuyBackOfferRow"]


class BuyBackOfferRow(SQLModel, table=True):
    """A pending, accepted or withdrawn buy-back offer; the terms and ``nonce`` fix the body both sign,
    ``bureau_signature`` is the bureau's over it (canonical JSON of the ledger's Signature)."""

    __tablename__ = "buyback_offer"
    id: str = Field(primary_key=True)
    bureau: str = Field(index=True)
    enterprise: str = Field(index=True)
    instrument: str
    valid_until: str  # YYYY-MM-DD
    quantity_kg: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    basis: str | None = None
    nonce: str
    bureau_signature: str = Field(sa_column=Column(Text, nullable=False))
    status: str  # pending | accepted | withdrawn
    created_at: str  # the ledger's UTC text
    closed_at: str | None = None
    closed_by: str | None = None
    buy_back_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
