"""Appraisal of pledged discharge rights and the limits a pledge loan must respect, pure and exact.
Reference price, loan-to-value cap, term within the right's validity, and the forced-sale waterfall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final

from ledger.pledge_terms import add_months
from ledger.units import MAX_AMOUNT, check_amount, instrument
from market.pledges.errors import InvalidLoanTerms, LoanExceedsValue, LoanTermBeyondValidity

__all__ = [
    "BP",
    "MAX_LTV_BP",
    "SHAOXING_REFERENCE_FEN_PER_TONNE",
    "Appraisal",
    "LoanTerms",
    "PriceSource",
    "ReferencePrices",
    "ValuationPolicy",
    "add_months",
    "appraise",
    "check_loan",
    "forced_sale_split",
    "ltv_bp",
]

BP: Final = 10_000  # basis points in one

#: Shaoxing's banks valued pledged discharge rights at about 17,000 CNY per tonne (DESIGN.md,
#: "Domain facts": 排污权抵质押). The configured reference when no auction has cleared.
SHAOXING_REFERENCE_FEN_PER_TONNE: Final = 1_700_000

#: "Loan at most 80% of the appraised value" — the common clause of pledge-loan rules elsewhere
#: (DESIGN.md, beside 杭银发〔2022〕21号); configurable per policy, never above 100%.
MAX_LTV_BP: Final = 8_000

_KG_PER_TONNE: Final = 1_000


class PriceSource(StrEnum):
    AUCTION = "auction"  # the latest clearing price of a bureau auction (竞价) of that right
    REFERENCE = "reference"  # a configured reference price


def _int(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidLoanTerms(f"{field} must be {low} to {high}, got {value}", field=field)
    return value


@dataclass(frozen=True, slots=True)
class ReferencePrices:
    """Reference prices in fen per tonne: per (instrument, jurisdiction), else per instrument, else
    the default (Shaoxing's ~17,000 CNY/t)."""

    default_fen_per_tonne: int = SHAOXING_REFERENCE_FEN_PER_TONNE
    by_instrument: Mapping[str, int] = field(default_factory=dict)
    by_jurisdiction: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        prices = [self.default_fen_per_tonne, *self.by_instrument.values(), *self.by_jurisdiction.values()]
        for price in prices:
            _int(price, field="reference price", low=1, high=MAX_AMOUNT)

    def price_for(self, instrument_code: str, jurisdiction: str) -> int:
        found = self.by_jurisdiction.get((instrument_code, jurisdiction))
        if found is None:
            found = self.by_instrument.get(instrument_code, self.default_fen_per_tonne)
        return found


@dataclass(frozen=True, slots=True)
class ValuationPolicy:
    """How a bank's pledge is valued and capped: reference prices and the loan-to-value cap."""

    reference: ReferencePrices = field(default_factory=ReferencePrices)
    max_ltv_bp: int = MAX_LTV_BP

    def __post_init__(self) -> None:
        _int(self.max_ltv_bp, field="max_ltv_bp", low=1, high=BP)


@dataclass(frozen=True, slots=True)
class Appraisal:
    """The appraised value of ``quantity_kg`` at ``price_fen_per_tonne``, and the largest loan it secures."""

    instrument: str
    jurisdiction: str
    quantity_kg: int
    price_fen_per_tonne: int
    source: PriceSource
    value_fen: int
    max_ltv_bp: int

    @property
    def max_loan_fen(self) -> int:
        """The loan-to-value cap applied, rounded down: the loan limit is never overstated."""
        return self.value_fen * self.max_ltv_bp // BP

    def to_json(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "jurisdiction": self.jurisdiction,
            "quantity_kg": self.quantity_kg,
            "price_fen_per_tonne": self.price_fen_per_tonne,
            "source": self.source.value,
            "value_fen": self.value_fen,
            "max_ltv_bp": self.max_ltv_bp,
            "max_loan_fen": self.max_loan_fen,
        }


def appraise(
    *,
    instrument_code: str,
    jurisdiction: str,
    quantity_kg: int,
    clearing_price_fen_per_tonne: int | None,
    policy: ValuationPolicy,
) -> Appraisal:
    """Value pledged rights: the latest auction clearing price per tonne of that right in that
    jurisdiction if one is known, else the policy's reference price; value = kg x price / 1000,
    rounded down to the fen (collateral is never overstated)."""
    code = instrument(instrument_code, field="instrument").code
    check_amount(quantity_kg, field="quantity_kg")
    if clearing_price_fen_per_tonne is not None:
        price = _int(
            clearing_price_fen_per_tonne, field="clearing_price_fen_per_tonne", low=1, high=MAX_AMOUNT
        )
        source = PriceSource.AUCTION
    else:
        price, source = policy.reference.price_for(code, jurisdiction), PriceSource.REFERENCE
    value = quantity_kg * price // _KG_PER_TONNE
    if value > MAX_AMOUNT:
        raise InvalidLoanTerms("the appraised value exceeds the ledger's range", field="quantity_kg")
    return Appraisal(code, jurisdiction, quantity_kg, price, source, value, policy.max_ltv_bp)


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """A pledge loan as the bank records it: id, amount in fen, annual rate in basis points, term."""

    loan_id: str
    amount_fen: int
    rate_bp: int
    term_months: int
    start: date

    def __post_init__(self) -> None:
        if (
            not isinstance(self.loan_id, str)
            or not 1 <= len(self.loan_id) <= 64
            or not self.loan_id.isprintable()
        ):
            raise InvalidLoanTerms("loan_id must be 1-64 printable characters", field="loan_id")
        check_amount(self.amount_fen, field="amount_fen")
        _int(self.rate_bp, field="rate_bp", low=0, high=BP)
        _int(self.term_months, field="term_months", low=1, high=360)
        if not isinstance(self.start, date):
            raise TypeError("start must be a date")

    @property
    def maturity(self) -> date:
        return add_months(self.start, self.term_months)

    def to_json(self) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "amount_fen": self.amount_fen,
            "rate_bp": self.rate_bp,
            "term_months": self.term_months,
            "start": self.start.isoformat(),
            "maturity": self.maturity.isoformat(),
        }


def ltv_bp(amount_fen: int, value_fen: int) -> int:
    """Loan-to-value in basis points, rounded up (a ratio at the cap is never reported under it)."""
    return -(-amount_fen * BP // value_fen) if value_fen else BP * BP


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def check_loan(terms: LoanTerms, *, appraisal: Appraisal, valid_until: date) -> None:
    """The common clauses of pledge loans (DESIGN.md, beside 杭银发〔2022〕21号): the loan is at most
    ``max_ltv_bp`` (80%) of the appraised value, and it matures no later than the pledged right's
    validity end (a pledge must not outlive its collateral)."""
    if terms.amount_fen > appraisal.max_loan_fen:
        raise LoanExceedsValue(
            f"a loan of {terms.amount_fen} fen is {_percent(ltv_bp(terms.amount_fen, appraisal.value_fen))} "
            f"of the appraised {appraisal.value_fen} fen; the cap is {_percent(appraisal.max_ltv_bp)} "
            f"({appraisal.max_loan_fen} fen)",
            field="amount_fen",
            amount_fen=terms.amount_fen,
            appraised_fen=appraisal.value_fen,
            max_loan_fen=appraisal.max_loan_fen,
        )
    if terms.maturity > valid_until:
        raise LoanTermBeyondValidity(
            f"the loan matures on {terms.maturity}, after the pledged rights expire on {valid_until}",
            field="term_months",
            maturity=terms.maturity.isoformat(),
            valid_until=valid_until.isoformat(),
        )


def forced_sale_split(*, proceeds_fen: int, claim_fen: int) -> tuple[int, int]:
    """Proceeds of a forced auction of pledged rights: the pledgee bank is paid first, up to its
    claim (优先受偿); the remainder goes to the owner. Returns (to the bank, to the owner)."""
    check_amount(proceeds_fen, field="proceeds_fen", allow_zero=True)
    check_amount(claim_fen, field="claim_fen", allow_zero=True)
    to_bank = min(proceeds_fen, claim_fen)
    return to_bank, proceeds_fen - to_bank
