"""Cross-city transfer as the workflow sees it (排污权跨地市交易): needs, requests, the corridor policy,
and the pure bodies each party signs, so a client holding its own key can build and sign exactly those."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from accounts.identifiers import account_id
from ledger.model import REGISTRY, HoldPlace, HoldSettle, Lot, Posting, Signature, TxBody
from ledger.timeutil import format_utc
from market.crosscity.errors import (
    InvalidTransferTerms,
)
from market.pledges.valuation import BP

HOLD_REASON: Final = "crosscity"
_KG_PER_TONNE: Final = 1_000


class DemandStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"


@dataclass(frozen=True, slots=True)
class Demand:
    """A need on the project-demand list: ``quantity_kg`` of one right wanted in ``jurisdiction``."""

    id: str
    buyer: str
    jurisdiction: str
    instrument: str
    quantity_kg: int
    filled_kg: int
    max_price_fen_per_tonne: int
    valid_until: date
    project: str
    status: DemandStatus

    @property
    def remaining_kg(self) -> int:
        return self.quantity_kg - self.filled_kg


class TransferStatus(StrEnum):
    DRAFT = "draft"  # opened by the seller; nothing signed or held
    OFFERED = "offered"  # the seller signed; its units are held
    ACCEPTED = "accepted"  # the buyer signed; waiting for the bureaus
    SETTLED = "settled"  # both bureaus approved; settled in one record
    REJECTED = "rejected"  # a party refused; the hold released
    EXPIRED = "expired"  # past its expiry; the hold released by the sweep


OPEN_STATUSES: Final = (TransferStatus.DRAFT, TransferStatus.OFFERED, TransferStatus.ACCEPTED)


@dataclass(frozen=True, slots=True)
class CorridorPolicy:
    """Terms between two cities: the buyer receives floor(q x ratio_bp / 10000) (at most 1:1) and
    pays ``fee_bp`` of the price on top, to the source city's bureau."""

    ratio_bp: int = BP
    fee_bp: int = 0

    def __post_init__(self) -> None:
        for name, value, low in (("ratio_bp", self.ratio_bp, 1), ("fee_bp", self.fee_bp, 0)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            if not low <= value <= BP:
                raise InvalidTransferTerms(f"{name} must be {low} to {BP}", field=f"policy.{name}")


ONE_TO_ONE: Final = CorridorPolicy()


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A cross-city transfer request; every amount derives from the stored terms."""

    id: str
    demand_id: str
    seller: str
    buyer: str
    from_account: str
    instrument: str
    source: str
    destination: str
    valid_until: date
    quantity_kg: int
    policy: CorridorPolicy
    price_fen_per_tonne: int
    expires_at: datetime
    status: TransferStatus
    signatures: tuple[Signature, ...] = ()  # over the settlement, kept in its proposal's slots
    settled_seq: int | None = None
    closed_by: str | None = None
    reason: str | None = None
    proposal_id: str | None = None  # the settlement's proposal, once the seller offers

    @property
    def delivered_kg(self) -> int:
        return self.quantity_kg * self.policy.ratio_bp // BP

    @property
    def price_fen(self) -> int:
        """The buyer pays for what it receives: delivered kg x price per tonne, rounded down."""
        return self.delivered_kg * self.price_fen_per_tonne // _KG_PER_TONNE

    @property
    def fee_fen(self) -> int:
        return self.price_fen * self.policy.fee_bp // BP

    @property
    def source_bureau(self) -> str:
        return f"bureau:{self.source}"

    @property
    def destination_bureau(self) -> str:
        return f"bureau:{self.destination}"

    @property
    def hold_id(self) -> str:
        return f"xfer.{self.id}"

    @property
    def required_signers(self) -> tuple[str, ...]:
        return tuple(sorted({self.seller, self.buyer, self.source_bureau, self.destination_bureau}))

    @property
    def signed_by(self) -> frozenset[str]:
        return frozenset(s.party for s in self.signatures)


# -- bodies: pure, so a client holding its own key can build and sign exactly what a step needs ------


def _meta(req: TransferRequest) -> dict[str, Any]:
    return {
        "request": req.id,
        "demand": req.demand_id,
        "source": req.source,
        "destination": req.destination,
        "quantity_kg": req.quantity_kg,
        "delivered_kg": req.delivered_kg,
        "ratio_bp": req.policy.ratio_bp,
        "price_fen_per_tonne": req.price_fen_per_tonne,
        "price_fen": req.price_fen,
        "fee_bp": req.policy.fee_bp,
        "fee_fen": req.fee_fen,
        "fee_to": account_id(req.source_bureau, "cash"),
        "expires_at": format_utc(req.expires_at),
    }


def hold_body(req: TransferRequest) -> TxBody:
    """The seller's units held while the request is pending, controller the registry."""
    lot = Lot(jurisdiction=req.source, valid_until=req.valid_until)
    hold = HoldPlace(
        req.hold_id, req.from_account, req.instrument, lot, req.quantity_kg, HOLD_REASON, REGISTRY
    )
    return TxBody("crosscity.hold", f"{req.id}.hold", holds=(hold,), signers=(req.seller,), meta=_meta(req))


def settlement_body(req: TransferRequest) -> TxBody:
    """The settlement, all legs in one record: seller (lot j=S) -> S's cap; B's cap -> buyer (lot j=B,
    same validity end); buyer's cash -> seller's cash, and the fee to S's bureau; capturing the hold.
    Signers: seller, buyer and both bureaus."""
    src = Lot(jurisdiction=req.source, valid_until=req.valid_until)
    dst = Lot(jurisdiction=req.destination, valid_until=req.valid_until)
    legs: dict[tuple[str, str, Lot], int] = defaultdict(int)
    legs[(req.from_account, req.instrument, src)] -= req.quantity_kg
    legs[(account_id(req.source_bureau, "cap", req.instrument), req.instrument, src)] += req.quantity_kg
    legs[(account_id(req.destination_bureau, "cap", req.instrument), req.instrument, dst)] -= req.delivered_kg
    legs[(account_id(req.buyer, "holding"), req.instrument, dst)] += req.delivered_kg
    legs[(account_id(req.buyer, "cash"), "CNY", Lot())] -= req.price_fen + req.fee_fen
    legs[(account_id(req.seller, "cash"), "CNY", Lot())] += req.price_fen
    legs[(account_id(req.source_bureau, "cash"), "CNY", Lot())] += req.fee_fen
    postings = tuple(Posting(acc, inst, lot, amount) for (acc, inst, lot), amount in legs.items() if amount)
    return TxBody(
        "crosscity.settle",
        f"{req.id}.settle",
        postings=postings,
        holds=(HoldSettle("capture", req.hold_id, req.quantity_kg),),
        signers=req.required_signers,
        meta=_meta(req),
    )


def release_body(req: TransferRequest, *, status: TransferStatus) -> TxBody:
    """The hold released on rejection or expiry; the registry, its controller, seals it alone."""
    return TxBody(
        "crosscity.release",
        f"{req.id}.release",
        holds=(HoldSettle("release", req.hold_id, req.quantity_kg),),
        meta={"request": req.id, "status": status.value},
    )
