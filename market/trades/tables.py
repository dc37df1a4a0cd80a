"""Rows of trade offers waiting on the buyer's consent: a seller's signed trade body until the buyer
accepts or the seller withdraws. Dumb storage; the journal is the truth."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

__all__ = ["TradeOfferRow"]


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
