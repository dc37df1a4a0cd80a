"""Request and response models of issuance and the government reserve: caps, allocations with the
paid-use fee, buy-backs, major-project allocations and the expiry run; plus the small value types
(days, instants, nonces, client signatures) the workflow schemas share."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import CleanText, Day, Instant, SignatureIn, StrictIn
from ledger.model import Signature, TxBody
from ledger.service import Receipt
from market.expiry.service import ExpiredPosition, ExpiryReport
from market.issuance.offers import AllocationOffer
from market.issuance.service import Allocation, CapPosition

__all__ = [
    "AllocationDraftQuery",
    "AllocationIn",
    "AllocationOfferIn",
    "AllocationOfferOut",
    "AllocationOut",
    "BodyOut",
    "BuyBackDraftQuery",
    "BuyBackIn",
    "CapIn",
    "CapPositionOut",
    "Day",
    "ExpiryIn",
    "ExpiryReportOut",
    "Instant",
    "MajorProjectIn",
    "Nonce",
    "RecordOut",
    "Signatures",
    "client_signatures",
]

Nonce = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._:-]{16,64}$",
        description="the body's nonce (16-64 of letters, digits . _ : -): give the one you signed the "
        "draft with; a new one is drawn when no signatures are given",
    ),
]
Kg = Annotated[int, Field(gt=0, le=10**15, description="kilograms (per year for rights and quotas)")]
Fen = Annotated[int, Field(ge=0, le=10**15, description="CNY in fen (1 CNY = 100 fen)")]
Instrument = Annotated[str, Field(max_length=16, description="COD, NH3-N, SO2, NOX, TN, TP or VOCS")]
Signatures = Annotated[
    list[SignatureIn],
    Field(
        default_factory=list,
        max_length=4,
        description="counterparties' signatures over the draft body (self-custody clients)",
    ),
]


def client_signatures(items: list[SignatureIn]) -> tuple[Signature, ...]:
    """Client-made signatures as the ledger's values (``InvalidInput`` naming the bad one)."""
    return tuple(
        Signature.parse(s.model_dump(exclude_defaults=True), f"signatures[{i}]") for i, s in enumerate(items)
    )


class RecordOut(BaseModel):
    """Where a write sits in the journal."""

    seq: int
    hash: str
    time: str

    @classmethod
    def of(cls, r: Receipt) -> RecordOut:
        return cls(seq=r.seq, hash=r.hash, time=r.time)


class BodyOut(BaseModel):
    """A body to sign (canonical JSON of exactly this object, RFC 8785) and who must sign it."""

    body: dict[str, Any]
    signers: list[str]

    @classmethod
    def of(cls, body: TxBody) -> BodyOut:
        return cls(body=body.to_json(), signers=list(body.signers))


class CapIn(StrictIn):
    """Raise the caller bureau's cap (总量控制) for one instrument and validity."""

    instrument: Instrument
    quantity_kg: Kg
    valid_until: Day
    basis: str | None = Field(default=None, max_length=500, description="the decision it rests on")


class CapPositionOut(BaseModel):
    jurisdiction: str
    instrument: str
    lot: str
    cap_kg: int = Field(description="kg/a in force")
    reserve_kg: int = Field(description="kg/a not allocated (in the government reserve)")
    reserve_held_kg: int = Field(description="kg/a of the reserve held (auction escrow)")
    allocated_kg: int
    available_kg: int

    @classmethod
    def of(cls, p: CapPosition) -> CapPositionOut:
        return cls(
            jurisdiction=p.jurisdiction,
            instrument=p.instrument,
            lot=p.lot.key(),
            cap_kg=p.cap_kg,
            reserve_kg=p.reserve_kg,
            reserve_held_kg=p.reserve_held_kg,
            allocated_kg=p.allocated_kg,
            available_kg=p.available_kg,
        )


class _AllocationTerms(StrictIn):
    enterprise: str = Field(max_length=128)
    instrument: Instrument
    quantity_kg: Kg
    valid_until: Day
    paid_use: bool = Field(default=True, description="charge the paid-use fee (有偿使用费)")
    years: int = Field(default=5, ge=1, le=50)
    price_fen_per_tonne_year: Fen | None = Field(default=None, description="default: the base price")
    nonce: Nonce | None = None
    signatures: Signatures


class AllocationIn(_AllocationTerms):
    """Initial allocation (初始排污权) under the enterprise's permit. With a fee the enterprise consents:
    its signature over the draft (``GET /v1/allocations/draft``) with the same ``nonce``."""


class MajorProjectIn(_AllocationTerms):
    """Reserved quota (预留指标) for an enterprise's major project (重大项目)."""

    project: str = Field(min_length=1, max_length=200)


class AllocationOut(BaseModel):
    record: RecordOut
    lot: str
    quantity_kg: int
    fee_fen: int = Field(description="paid-use fee in fen (0 when free)")

    @classmethod
    def of(cls, a: Allocation) -> AllocationOut:
        return cls(
            record=RecordOut.of(a.receipt), lot=a.lot.key(), quantity_kg=a.quantity_kg, fee_fen=a.fee_fen
        )


class AllocationOfferIn(StrictIn):
    """The caller (a bureau) offers rights for the paid-use fee (有偿使用), signed now with its custody
    key or its own signature over ``GET /v1/allocations/draft`` (same terms and ``nonce``); the
    enterprise's consent completes it (``POST /v1/allocation-offers/{id}/accept``)."""

    enterprise: str = Field(max_length=128)
    instrument: Instrument
    quantity_kg: Kg
    valid_until: Day
    purpose: Literal["initial", "major_project"] = "initial"
    project: str | None = Field(default=None, min_length=1, max_length=200)
    years: int = Field(default=5, ge=1, le=50)
    price_fen_per_tonne_year: Fen | None = Field(default=None, description="default: the base price")
    nonce: Nonce | None = None
    signatures: Signatures


class AllocationOfferOut(BaseModel):
    id: str
    bureau: str
    enterprise: str
    instrument: str
    valid_until: date
    quantity_kg: int
    purpose: str
    project: str | None
    years: int
    price_fen_per_tonne_year: int | None = Field(description="None: the base price")
    fee_fen: int = Field(description="the paid-use fee the enterprise consents to, fen")
    status: str
    allocation_seq: int | None = Field(description="the allocation's journal record, once accepted")
    draft: BodyOut = Field(description="the allocation body both sign")

    @classmethod
    def of(cls, o: AllocationOffer) -> AllocationOfferOut:
        return cls(
            id=o.id,
            bureau=o.bureau,
            enterprise=o.enterprise,
            instrument=o.instrument,
            valid_until=o.valid_until,
            quantity_kg=o.quantity_kg,
            purpose=o.purpose,
            project=o.project,
            years=o.years,
            price_fen_per_tonne_year=o.price_fen_per_tonne_year,
            fee_fen=o.fee_fen,
            status=o.status.value,
            allocation_seq=o.allocation_seq,
            draft=BodyOut.of(o.body),
        )


class AllocationDraftQuery(CleanText):
    """The terms of an allocation whose body the enterprise signs (query parameters)."""

    model_config = ConfigDict(extra="forbid")
    enterprise: str = Field(max_length=128)
    instrument: Instrument
    quantity_kg: Kg
    valid_until: Day
    purpose: Literal["initial", "major_project"] = "initial"
    project: str | None = Field(default=None, max_length=200)
    paid_use: bool = True
    years: int = Field(default=5, ge=1, le=50)
    price_fen_per_tonne_year: Fen | None = None
    nonce: Nonce


class BuyBackIn(StrictIn):
    """Buy rights back into the reserve (收储), delivery versus payment; the enterprise consents with
    its signature over the draft (``GET /v1/reserve/buy-backs/draft``) with the same ``nonce``."""

    enterprise: str = Field(max_length=128)
    instrument: Instrument
    quantity_kg: Kg
    valid_until: Day
    amount_fen: Fen
    basis: str | None = Field(default=None, max_length=500)
    nonce: Nonce | None = None
    signatures: Signatures


class BuyBackDraftQuery(CleanText):
    """The terms of a buy-back whose body the enterprise signs (query parameters)."""

    model_config = ConfigDict(extra="forbid")
    enterprise: str = Field(max_length=128)
    instrument: Instrument
    quantity_kg: Kg
    valid_until: Day
    amount_fen: Fen
    basis: str | None = Field(default=None, max_length=500)
    nonce: Nonce


class ExpiryIn(StrictIn):
    today: Day | None = Field(default=None, description="expire lots valid until before this day")


class ExpiredPositionOut(BaseModel):
    account: str
    instrument: str
    lot: str
    swept_kg: int
    held_kg: int
    retirement: str | None

    @classmethod
    def of(cls, p: ExpiredPosition) -> ExpiredPositionOut:
        return cls(
            account=p.account,
            instrument=p.instrument,
            lot=p.lot.key(),
            swept_kg=p.swept_kg,
            held_kg=p.held_kg,
            retirement=p.retirement,
        )


class ExpiryReportOut(BaseModel):
    as_of: date
    swept: list[ExpiredPositionOut]
    held: list[ExpiredPositionOut]
    unswept: list[ExpiredPositionOut]
    records: list[RecordOut]

    @classmethod
    def of(cls, r: ExpiryReport) -> ExpiryReportOut:
        return cls(
            as_of=r.as_of,
            swept=[ExpiredPositionOut.of(p) for p in r.swept],
            held=[ExpiredPositionOut.of(p) for p in r.held],
            unswept=[ExpiredPositionOut.of(p) for p in r.unswept],
            records=[RecordOut.of(x) for x in r.receipts],
        )
