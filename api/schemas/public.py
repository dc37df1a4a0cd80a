"""Response models of the public registry (/v1/public/...): what is published without a login.

Quantities in kg (kg CO2e for blue carbon), prices in fen per tonne, money in fen, as everywhere in the API.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PublicAuctionOut",
    "PublicBatchOut",
    "PublicCapOut",
    "PublicProjectOut",
    "PublicRetirementOut",
    "PublicWinnerOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PublicProjectOut(_Out):
    project: str
    name: str
    location: str
    division: str = Field(description="GB/T 2260 division code of the farm")
    area_mu: str = Field(description="farm area in mu (亩), decimal text")
    households: int
    owner_name: str
    bureau_name: str = Field(description="the bureau that verifies its reports")
    methodology: str
    version: str
    registered_at: str
    instrument: str = Field(
        description="the serialized credit it is issued in, e.g. BC (蓝碳), BBC (竹林碳汇)"
    )


class PublicBatchOut(_Out):
    batch: str
    project: str
    vintage: int
    jurisdiction: str
    serial_start: int = Field(description="first serial (one per tonne CO2e)")
    serial_end: int = Field(description="last serial, inclusive")
    issued_kg: int = Field(description="kg CO2e issued, buffer share included")
    buffer_kg: int = Field(description="kg CO2e set aside in the buffer pool")
    issued_seq: int = Field(description="journal record of the issuance")
    issued_at: datetime | None
    instrument: str = Field(description="the serialized credit issued, e.g. BC (蓝碳), BBC (竹林碳汇)")


class PublicRetirementOut(_Out):
    seq: int = Field(description="journal record of the retirement")
    time: datetime
    batch: str
    project: str | None
    tonnes: int
    serials: list[tuple[int, int]] = Field(description="serial ranges retired, [start, end] inclusive")
    beneficiary: str
    reason: str


class PublicWinnerOut(_Out):
    name: str = Field(description="the winner's registered name (成交公示)")
    quantity_kg: int
    price_fen_per_t: int = Field(description="the price this winner pays per tonne")
    amount_fen: int


class PublicAuctionOut(_Out):
    auction_id: str
    bureau_name: str
    jurisdiction: str
    instrument: str
    design: str
    offered_kg: int
    sold_kg: int
    unsold_kg: int
    clearing_price_fen_per_t: int | None = Field(description="uniform-price designs only")
    revenue_fen: int
    opened_at: datetime
    closed_at: datetime
    bidders_won: int
    lowest_price_fen_per_t: int | None
    highest_price_fen_per_t: int | None
    winners: list[PublicWinnerOut]


class PublicCapOut(BaseModel):
    jurisdiction: str
    city: str
    city_zh: str
    instrument: str
    valid_until: str
    cap_kg: int = Field(description="cap in force")
    allocated_kg: int
    reserve_kg: int = Field(description="not allocated: in the bureau's reserve")
    reserve_held_kg: int = Field(description="of the reserve, on hold (auction escrow)")
