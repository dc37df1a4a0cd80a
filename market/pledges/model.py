"""The pledge as the workflow sees it (排污权抵质押): its states, value, steps, and the pure bodies a step
asks its parties to sign, so a client holding its own key can build and sign exactly those."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from accounts.identifiers import account_id
from ledger.errors import (
    InvalidQuantity,
)
from ledger.model import HoldSettle, Lot, Posting, Signature, TxBody
from ledger.units import check_amount
from market.pledges.errors import PledgeStateConflict
from market.pledges.valuation import Appraisal, LoanTerms

__all__ = ["Pledge", "PledgeStatus", "enforcement_body", "release_body"]


class PledgeStatus(StrEnum):
    APPLIED = "applied"  # step 1: the enterprise applied
    APPROVED = "approved"  # step 2: the bureau approved the quantity on its electronic certificate
    LOAN_RECORDED = "loan_recorded"  # step 3: the bank recorded the loan
    ACTIVE = "active"  # step 4: confirmed; the units are held for the bank
    RELEASED = "released"  # repaid: every unit released to the owner
    ENFORCED = "enforced"  # default: the units captured to the bank's holding
    FORCED_AUCTION = "forced_auction"  # default: marked for a forced auction, proceeds to the bank first
    CANCELLED = "cancelled"  # withdrawn or refused before confirmation; nothing was ever held


IN_PROGRESS_STATUSES = (PledgeStatus.APPLIED, PledgeStatus.APPROVED, PledgeStatus.LOAN_RECORDED)
HOLDING_STATUSES = (PledgeStatus.ACTIVE, PledgeStatus.FORCED_AUCTION)


@dataclass(frozen=True, slots=True)
class Pledge:
    """A pledge as the registry records it; ``held_kg`` is what its hold still encumbers."""

    id: str
    enterprise: str
    bank: str
    bureau: str
    account: str
    instrument: str
    lot: Lot
    applied_kg: int
    status: PledgeStatus
    approved_kg: int | None = None
    certificate_no: str | None = None
    signatures: tuple[Signature, ...] = ()
    loan: LoanTerms | None = None
    appraisal: Appraisal | None = None
    held_kg: int = 0
    released_kg: int = 0
    enforced_kg: int = 0
    settlements: int = 0
    record_seq: int | None = None
    claim_fen: int | None = None
    closed_by: str | None = None
    reason: str | None = None

    @property
    def hold_id(self) -> str:
        return f"pledge.{self.id}"

    @property
    def parties(self) -> tuple[str, str, str]:
        return (self.enterprise, self.bank, self.bureau)


# -- bodies: pure, so a client holding its own key can build and sign exactly what a step needs ------


def release_body(pledge: Pledge, *, quantity_kg: int | None = None) -> TxBody:
    """Release on repayment: ``quantity_kg`` of the held units (default all) go back to the owner;
    the bank signs as the hold's controller."""
    quantity = _settle_quantity(pledge, quantity_kg)
    meta = {"pledge": pledge.id, "quantity_kg": quantity, "remaining_kg": pledge.held_kg - quantity}
    return TxBody(
        "pledge.release",
        f"{pledge.id}.s{pledge.settlements}",
        holds=(HoldSettle("release", pledge.hold_id, quantity),),
        signers=(pledge.bank,),
        meta=meta,
    )


def enforcement_body(pledge: Pledge) -> TxBody:
    """Enforcement on default: capture every held unit into the bank's holding, in one record; the
    owner's signature is not needed (the ledger lets a hold's controller capture what it holds)."""
    quantity = _settle_quantity(pledge, None)
    return TxBody(
        "pledge.enforce",
        f"{pledge.id}.s{pledge.settlements}",
        postings=(
            Posting(pledge.account, pledge.instrument, pledge.lot, -quantity),
            Posting(account_id(pledge.bank, "holding"), pledge.instrument, pledge.lot, quantity),
        ),
        holds=(HoldSettle("capture", pledge.hold_id, quantity),),
        signers=(pledge.bank,),
        meta={"pledge": pledge.id, "quantity_kg": quantity},
    )


def _settle_quantity(pledge: Pledge, quantity_kg: int | None) -> int:
    if pledge.status not in HOLDING_STATUSES or pledge.held_kg <= 0:
        raise PledgeStateConflict(
            f"pledge {pledge.id} is {pledge.status.value}: it holds nothing to settle", pledge=pledge.id
        )
    if quantity_kg is None:
        return pledge.held_kg
    check_amount(quantity_kg, field="quantity_kg")
    if quantity_kg > pledge.held_kg:
        raise InvalidQuantity(
            f"pledge {pledge.id} holds {pledge.held_kg} kg, cannot release {quantity_kg}",
            field="quantity_kg",
        )
    return quantity_kg


def expect_status(pledge: Pledge, status: PledgeStatus) -> None:
    if pledge.status is not status:
        raise PledgeStateConflict(
            f"pledge {pledge.id} is {pledge.status.value}; this step needs it {status.value}",
            pledge=pledge.id,
            status=pledge.status.value,
        )
