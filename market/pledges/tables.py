"""Rows of the pledge workflow: one row per pledge through its steps and after.
Dumb storage: the rules live in ``market.pledges.service``; the journal is the truth.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

__all__ = ["PledgeRow"]


def _bigint(*, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, nullable=nullable, autoincrement=False)


class PledgeRow(SQLModel, table=True):
    """A pledge (排污权抵质押) through its four steps and after; money in fen, rates in basis points;
    ``signatures`` is canonical JSON {party: signature} over the registration body."""

    __tablename__ = "pledge"
    id: str = Field(primary_key=True)
    enterprise: str = Field(index=True)
    bank: str = Field(index=True)
    bureau: str = Field(index=True)
    account: str = Field(index=True)
    instrument: str
    lot: str  # the ledger's lot key
    applied_kg: int = Field(sa_column=_bigint())
    approved_kg: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    certificate_no: str | None = None
    status: str = Field(index=True)
    signatures: str
    applied_at: str
    loan_id: str | None = None
    loan_amount_fen: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    rate_bp: int | None = None
    term_months: int | None = None
    loan_start: str | None = None
    price_fen_per_tonne: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    price_source: str | None = None
    appraised_fen: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    max_ltv_bp: int | None = None
    # docs/valuation.md: the registry's reference price and its source, and the bank's own appraisal
    reference_fen_per_tonne: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    reference_source: str | None = None
    bank_fen_per_tonne: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    held_kg: int = Field(sa_column=_bigint())
    released_kg: int = Field(sa_column=_bigint())
    enforced_kg: int = Field(sa_column=_bigint())
    settlements: int
    record_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    last_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    claim_fen: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    closed_by: str | None = None
    reason: str | None = None
    registration_proposal: str | None = None  # steps 3-4 (market.pledges.registration), once the loan is in
