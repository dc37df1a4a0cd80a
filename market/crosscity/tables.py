"""Rows of the cross-city workflow: the project-demand list (项目需求库) and transfer requests.
Dumb storage: the rules live in ``market.crosscity.service``; the journal is the truth.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

__all__ = ["CrossCityTransferRow", "DemandRow"]


def _bigint(*, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, nullable=nullable, autoincrement=False)


class DemandRow(SQLModel, table=True):
    """A need on the project-demand list (项目需求库); dates YYYY-MM-DD, instants the ledger's UTC text."""

    __tablename__ = "crosscity_demand"
    id: str = Field(primary_key=True)
    buyer: str = Field(index=True)
    jurisdiction: str = Field(index=True)
    instrument: str
    quantity_kg: int = Field(sa_column=_bigint())
    filled_kg: int = Field(sa_column=_bigint())
    max_price_fen_per_tonne: int = Field(sa_column=_bigint())
    valid_until: str
    project: str
    status: str = Field(index=True)
    posted_at: str


class CrossCityTransferRow(SQLModel, table=True):
    """A cross-city transfer request, ``status`` one of ``market.crosscity.model.TransferStatus``;
    ``proposal``: the settlement's proposal (``market.crosscity.settlement``), whose slots keep the
    signatures over the settlement body, once the seller offers."""

    __tablename__ = "crosscity_transfer"
    id: str = Field(primary_key=True)
    demand_id: str = Field(index=True)
    seller: str = Field(index=True)
    buyer: str = Field(index=True)
    from_account: str
    instrument: str
    source: str = Field(index=True)
    destination: str = Field(index=True)
    valid_until: str
    quantity_kg: int = Field(sa_column=_bigint())
    ratio_bp: int
    price_fen_per_tonne: int = Field(sa_column=_bigint())
    fee_bp: int
    expires_at: str = Field(index=True)
    status: str = Field(index=True)
    created_at: str
    hold_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    settled_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    closed_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    closed_by: str | None = None
    reason: str | None = None
    proposal: str | None = None
