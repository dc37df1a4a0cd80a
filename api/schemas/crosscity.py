"""Request and response models of the cross-city routes (排污权跨地市交易): the project-demand list
(项目需求库), transfer requests through offer, acceptance and both bureaus' approval, the city report."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.schemas import StrictIn
from api.schemas.pledges import ConsentIn, LotIn, SafeInt
from ledger.errors import InvalidInput
from ledger.timeutil import (
    EARLIEST_DAY,
    LATEST_DAY,
    DateOutOfRange,
    day_in_range,
    format_utc,
    instant_in_range,
    parse_date,
)
from market.crosscity.service import CityReport, CorridorPolicy, Demand, TransferRequest

__all__ = [
    "CityReportOut",
    "DemandIn",
    "DemandOut",
    "PolicyIn",
    "RejectIn",
    "TransferIn",
    "TransferOut",
    "TransferStepIn",
]

_KG = "kilograms (a right's unit: 1 t = 1000 kg)"
_PRICE = "fen per tonne (1 CNY = 100 fen)"


def _day(text: str, field: str) -> date:
    try:
        day = parse_date(text)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None
    if not day_in_range(day):
        raise DateOutOfRange(f"{field} must be from {EARLIEST_DAY} to {LATEST_DAY}", field=field)
    return day


def _instant(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(f"{field} must be an ISO 8601 instant with a UTC offset (e.g. Z)", field=field)
    if not instant_in_range(moment):
        raise DateOutOfRange(f"{field} must be from {EARLIEST_DAY} to {LATEST_DAY} (UTC)", field=field)
    return moment


class DemandIn(StrictIn):
    """A project's need on the demand list: a quantity of one right for the caller's own city."""

    instrument: str = Field(max_length=16, description="COD, NH3-N, SO2, NOX, TN, TP or VOCS")
    quantity_kg: SafeInt = Field(description=_KG)
    max_price_fen_per_tonne: SafeInt = Field(description=f"the price ceiling, {_PRICE}")
    valid_until: str = Field(max_length=10, description="YYYY-MM-DD: offers after this day are refused")
    project: str = Field(min_length=1, max_length=200, description="the project that needs the rights")

    def day(self) -> date:
        return _day(self.valid_until, "valid_until")


class DemandOut(BaseModel):
    id: str
    buyer: str
    jurisdiction: str
    instrument: str
    quantity_kg: int = Field(description=_KG)
    filled_kg: int
    remaining_kg: int
    max_price_fen_per_tonne: int = Field(description=_PRICE)
    valid_until: str
    project: str
    status: str

    @classmethod
    def of(cls, d: Demand) -> DemandOut:
        return cls(
            id=d.id,
            buyer=d.buyer,
            jurisdiction=d.jurisdiction,
            instrument=d.instrument,
            quantity_kg=d.quantity_kg,
            filled_kg=d.filled_kg,
            remaining_kg=d.remaining_kg,
            max_price_fen_per_tonne=d.max_price_fen_per_tonne,
            valid_until=d.valid_until.isoformat(),
            project=d.project,
            status=d.status.value,
        )


class PolicyIn(StrictIn):
    """The corridor's terms: the buyer receives quantity x ratio (at most 1:1) and pays a fee on top,
    to the source city's bureau. Both are covered by every signature: a bureau that disagrees rejects."""

    ratio_bp: SafeInt = Field(
        default=10_000, description="basis points delivered per unit sold (10000 = 1:1)"
    )
    fee_bp: SafeInt = Field(default=0, description="basis points of the price paid to the source bureau")

    def policy(self) -> CorridorPolicy:
        return CorridorPolicy(self.ratio_bp, self.fee_bp)


class TransferIn(StrictIn):
    """A seller in another city opens an offer against a need (nothing is held until it offers)."""

    demand_id: str = Field(max_length=64)
    lot: LotIn
    quantity_kg: SafeInt = Field(description=f"{_KG} sold, of the source city's lot")
    price_fen_per_tonne: SafeInt = Field(description=_PRICE)
    expires_at: str = Field(max_length=40, description="ISO 8601 instant with a UTC offset")
    policy: PolicyIn = Field(default_factory=PolicyIn)

    def expiry(self) -> datetime:
        return _instant(self.expires_at, "expires_at")


class TransferStepIn(ConsentIn):
    """Offer, accept or approve: signed with the caller's custody key, or with ``signatures`` made
    over the bodies ``GET /v1/cross-city-transfers/{id}/bodies`` returns."""


class RejectIn(StrictIn):
    reason: str = Field(min_length=1, max_length=500)


class TransferOut(BaseModel):
    """A cross-city transfer request; every amount derives from its terms (kg, fen)."""

    id: str
    demand_id: str
    status: str
    seller: str
    buyer: str
    from_account: str
    instrument: str
    source: str
    destination: str
    valid_until: str
    quantity_kg: int = Field(description=f"{_KG} the seller gives up")
    delivered_kg: int = Field(description=f"{_KG} the buyer receives (quantity x ratio, rounded down)")
    ratio_bp: int
    fee_bp: int
    price_fen_per_tonne: int
    price_fen: int = Field(description="what the buyer pays the seller, fen")
    fee_fen: int = Field(description="what the buyer pays the source city's bureau, fen")
    expires_at: str
    signed_by: list[str] = Field(description="parties whose signature over the settlement is held")
    required_signers: list[str]
    settled_seq: int | None
    closed_by: str | None
    reason: str | None
    proposal_id: str | None = Field(
        description="the settlement's proposal (/v1/proposals/{id}), once the seller offers: the buyer "
        "and the bureaus may sign or reject it there as on this request's own routes"
    )

    @classmethod
    def of(cls, r: TransferRequest) -> TransferOut:
        return cls(
            id=r.id,
            demand_id=r.demand_id,
            status=r.status.value,
            seller=r.seller,
            buyer=r.buyer,
            from_account=r.from_account,
            instrument=r.instrument,
            source=r.source,
            destination=r.destination,
            valid_until=r.valid_until.isoformat(),
            quantity_kg=r.quantity_kg,
            delivered_kg=r.delivered_kg,
            ratio_bp=r.policy.ratio_bp,
            fee_bp=r.policy.fee_bp,
            price_fen_per_tonne=r.price_fen_per_tonne,
            price_fen=r.price_fen,
            fee_fen=r.fee_fen,
            expires_at=format_utc(r.expires_at),
            signed_by=sorted(r.signed_by),
            required_signers=list(r.required_signers),
            settled_seq=r.settled_seq,
            closed_by=r.closed_by,
            reason=r.reason,
            proposal_id=r.proposal_id,
        )


class CityReportOut(BaseModel):
    """One city's position in one right (kg): cap in force = reserve + allocated; what cross-city
    transfers moved out (source kg), in (delivered kg) and what open requests hold."""

    jurisdiction: str
    instrument: str
    cap_kg: int
    reserve_kg: int
    allocated_kg: int
    held_kg: int
    transferred_in_kg: int
    transferred_out_kg: int
    pending_out_kg: int

    @classmethod
    def of(cls, r: CityReport) -> CityReportOut:
        return cls(
            jurisdiction=r.jurisdiction,
            instrument=r.instrument,
            cap_kg=r.cap_kg,
            reserve_kg=r.reserve_kg,
            allocated_kg=r.allocated_kg,
            held_kg=r.held_kg,
            transferred_in_kg=r.transferred_in_kg,
            transferred_out_kg=r.transferred_out_kg,
            pending_out_kg=r.pending_out_kg,
        )
