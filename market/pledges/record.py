"""The pledge's registration record as its parties sign it: the bureau's approval statement (step 2) and
the body with the hold, loan terms, names and appraisal that the bank (step 3) and the owner (step 4) sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInput
from ledger.model import HoldPlace, Lot, TxBody, check_id
from ledger.pledge_terms import (
    PLEDGE_REASON,
    PLEDGE_REGISTER,
    TAG_APPROVAL,
    Appraised,
    PledgeLoan,
    approval_statement,
)
from ledger.text import check_display_text
from ledger.units import check_amount
from market.pledges.errors import PledgeStateConflict

if TYPE_CHECKING:
    from market.pledges.model import Pledge

__all__ = [
    "BASIS",
    "Approval",
    "approval_of",
    "hold_of",
    "parse_approval",
    "registration_body",
    "target_body",
]

BASIS = "杭银发〔2022〕21号"  # Zhejiang's online pledge registration of discharge rights, from 1 Dec 2022


@dataclass(frozen=True, slots=True)
class Approval:
    """The bureau's approval of a pledged quantity on its electronic certificate (step 2): a statement,
    signed under its own tag, never a body the ledger would accept as an instruction."""

    statement: dict[str, Any]

    @property
    def tag(self) -> bytes:
        return TAG_APPROVAL

    def to_json(self) -> dict[str, Any]:
        return self.statement


def _approved(pledge: Pledge) -> tuple[int, str]:
    if pledge.approved_kg is None or pledge.certificate_no is None:
        raise PledgeStateConflict(f"pledge {pledge.id} has no approved quantity yet", pledge=pledge.id)
    return pledge.approved_kg, pledge.certificate_no


def hold_of(pledge: Pledge) -> HoldPlace:
    """The hold the registration places: the approved quantity, reason ``pledge``, controller the bank."""
    quantity, _ = _approved(pledge)
    return HoldPlace(
        pledge.hold_id, pledge.account, pledge.instrument, pledge.lot, quantity, PLEDGE_REASON, pledge.bank
    )


def approval_of(pledge: Pledge) -> Approval:
    """What the bureau signs at step 2: the quantity and certificate number it approves, on whose
    units, for which bank (``ledger.pledge_terms.approval_statement``)."""
    _, certificate_no = _approved(pledge)
    return Approval(
        approval_statement(
            pledge=pledge.id,
            certificate_no=certificate_no,
            enterprise=pledge.enterprise,
            bank=pledge.bank,
            bureau=pledge.bureau,
            hold=hold_of(pledge),
        )
    )


def parse_approval(obj: dict[str, Any]) -> dict[str, Any]:
    """An approval statement as a client receives it to sign, checked for shape first (a malformed one
    is refused, ``InvalidInput``, rather than signed); returns it rebuilt, in its one JSON form."""
    names = {"type", "pledge", "certificate_no", "enterprise", "bank", "bureau", "account"}
    if set(obj) != names | {"instrument", "lot", "quantity_kg"} or obj.get("type") != "pledge.approval":
        raise InvalidInput("not a pledge approval statement", field="body")
    for name in sorted(names - {"type", "certificate_no"}):
        check_id(obj[name], field=name)
    instrument_code = check_id(obj["instrument"], field="instrument")
    lot = Lot.parse(obj["lot"], instrument_code=instrument_code, path="lot")
    quantity = check_amount(obj["quantity_kg"], field="quantity_kg")
    hold = HoldPlace(
        f"pledge.{obj['pledge']}", obj["account"], instrument_code, lot, quantity, PLEDGE_REASON, obj["bank"]
    )
    return approval_statement(
        pledge=obj["pledge"],
        certificate_no=check_display_text(obj["certificate_no"], field="certificate_no"),
        enterprise=obj["enterprise"],
        bank=obj["bank"],
        bureau=obj["bureau"],
        hold=hold,
    )


def target_body(pledge: Pledge) -> TxBody:
    """The hold alone, as the permission checks of the steps before the loan see the pledge."""
    return TxBody(
        PLEDGE_REGISTER,
        f"{pledge.id}.register",
        holds=(hold_of(pledge),),
        signers=tuple(sorted(set(pledge.parties))),
    )


def registration_body(pledge: Pledge, *, names: Mapping[str, str]) -> TxBody:
    """The record that registers the pledge (steps 3 and 4 sign it): the hold, the loan as the bank
    recorded it, the appraisal it was checked against, the parties' names, and the bureau's approval
    signature; signers the bank and the owner. ``names`` maps enterprise, bank and bureau to names."""
    quantity, certificate_no = _approved(pledge)
    if pledge.loan is None or pledge.appraisal is None:
        raise PledgeStateConflict(f"pledge {pledge.id} has no loan recorded yet", pledge=pledge.id)
    approval = next((s for s in pledge.signatures if s.party == pledge.bureau), None)
    if approval is None:
        raise PledgeStateConflict(f"pledge {pledge.id} has no approval of {pledge.bureau}", pledge=pledge.id)
    terms, valued = pledge.loan, pledge.appraisal
    loan = PledgeLoan(terms.loan_id, terms.amount_fen, terms.rate_bp, terms.term_months, terms.start)
    appraised = Appraised(
        valued.price_fen_per_tonne, valued.source.value, valued.value_fen, valued.max_ltv_bp
    )
    meta = {
        "pledge": pledge.id,
        "certificate_no": certificate_no,
        "enterprise": pledge.enterprise,
        "bank": pledge.bank,
        "bureau": pledge.bureau,
        "names": {role: names[role] for role in ("enterprise", "bank", "bureau")},
        "quantity_kg": quantity,
        "loan": loan.to_json(),
        "appraisal": appraised.to_json(),
        "approval": approval.to_json(),
        "basis": BASIS,
    }
    signers = tuple(sorted({pledge.enterprise, pledge.bank}))
    return TxBody(
        PLEDGE_REGISTER, f"{pledge.id}.register", holds=(hold_of(pledge),), signers=signers, meta=meta
    )
