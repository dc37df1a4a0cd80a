"""What each pledge step asks its parties to sign: the steps, the loan a bank records, the documents in
order for a client that signs with its own key, and the pledge with its loan terms appraised."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from sqlmodel import Session

from accounts.model import Participant
from accounts.service import get_participant
from ledger.errors import (
    InvalidInput,
)
from ledger.service import Registry
from ledger.text import check_display_text
from ledger.units import check_amount
from market.consent import Signable
from market.pledges.errors import PledgeStateConflict
from market.pledges.model import Pledge, PledgeStatus, enforcement_body, expect_status, release_body
from market.pledges.record import (
    approval_of,
    registration_body,
)
from market.pledges.store import ClearingPrices, get_pledge, latest_clearing_price
from market.pledges.valuation import LoanTerms, ValuationPolicy, appraise, check_loan

__all__ = ["LoanRequest", "PledgeStep", "bodies_to_sign", "party_names"]


class PledgeStep(StrEnum):
    """The steps that need a party's signature, and so have bodies to sign."""

    APPROVE = "approve"  # the bureau: the registration body with the quantity it approves
    LOAN = "loan"  # the bank: the registration body
    CONFIRM = "confirm"  # the enterprise: the registration body
    RELEASE = "release"  # the bank: the release of all or part of the held units
    ENFORCE = "enforce"  # the bank: the capture of every held unit


@dataclass(frozen=True, slots=True)
class LoanRequest:
    """The loan a bank records at step 3 (its start is the day it records it)."""

    loan_id: str
    amount_fen: int
    rate_bp: int
    term_months: int


def bodies_to_sign(
    session: Session,
    *,
    actor: Participant,
    pledge_id: str,
    step: PledgeStep,
    approved_kg: int | None = None,
    certificate_no: str | None = None,
    quantity_kg: int | None = None,
    loan: LoanRequest | None = None,
    registry: Registry | None = None,
) -> tuple[Signable, ...]:
    """The exact documents ``step`` signs, for a client that signs with its own key (self-custody):
    for ``approve`` the approval statement of the quantity and certificate number the bureau will
    give; for ``loan`` the registration body with ``loan`` as recorded today (``registry``'s clock);
    for ``release`` the release of ``quantity_kg`` (default all). Readable by whoever reads the pledge."""
    pledge = get_pledge(session, actor=actor, pledge_id=pledge_id)
    if step is PledgeStep.APPROVE:
        if pledge.status is not PledgeStatus.APPLIED:
            raise PledgeStateConflict(f"pledge {pledge.id} is {pledge.status.value}", pledge=pledge.id)
        if approved_kg is None or certificate_no is None:
            raise InvalidInput("the approval needs approved_kg and certificate_no", field="approved_kg")
        check_amount(approved_kg, field="approved_kg")
        check_display_text(certificate_no, field="certificate_no")
        return (approval_of(replace(pledge, approved_kg=approved_kg, certificate_no=certificate_no)),)
    if step is PledgeStep.LOAN:
        expect_status(pledge, PledgeStatus.APPROVED)
        if loan is None or registry is None:
            raise InvalidInput("the loan body needs the loan's terms", field="loan_id")
        offered = with_loan(session, pledge, loan, today=registry.clock().date())
        return (registration_body(offered, names=party_names(session, pledge)),)
    if step is PledgeStep.CONFIRM:
        expect_status(pledge, PledgeStatus.LOAN_RECORDED)
        return (registration_body(pledge, names=party_names(session, pledge)),)
    if step is PledgeStep.RELEASE:
        return (release_body(pledge, quantity_kg=quantity_kg),)
    return (enforcement_body(pledge),)


def party_names(session: Session, pledge: Pledge) -> dict[str, str]:
    """The registered names of the pledge's enterprise, bank and bureau, as its record shows them."""
    roles = {"enterprise": pledge.enterprise, "bank": pledge.bank, "bureau": pledge.bureau}
    return {role: get_participant(session, party=party).name for role, party in roles.items()}


def with_loan(
    session: Session,
    pledge: Pledge,
    loan: LoanRequest,
    *,
    today: date,
    policy: ValuationPolicy | None = None,
    clearing_prices: ClearingPrices | None = None,
) -> Pledge:
    """The pledge with ``loan`` recorded today: the approved quantity appraised at the latest auction
    clearing price, else the reference price; the loan checked against it (``valuation.check_loan``)."""
    assert pledge.approved_kg is not None
    assert pledge.lot.jurisdiction is not None
    assert pledge.lot.valid_until is not None
    check_display_text(loan.loan_id, field="loan_id")
    terms = LoanTerms(loan.loan_id, loan.amount_fen, loan.rate_bp, loan.term_months, today)
    prices = clearing_prices or latest_clearing_price
    price = prices(session, instrument=pledge.instrument, jurisdiction=pledge.lot.jurisdiction)
    valued = appraise(
        instrument_code=pledge.instrument,
        jurisdiction=pledge.lot.jurisdiction,
        quantity_kg=pledge.approved_kg,
        clearing_price_fen_per_tonne=price,
        policy=policy or ValuationPolicy(),
    )
    check_loan(terms, appraisal=valued, valid_until=pledge.lot.valid_until)
    return replace(pledge, loan=terms, appraisal=valued)
