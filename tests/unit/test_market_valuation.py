"""Appraisal of pledged rights and the loan limits (pure): reference and auction prices, the 80%
loan-to-value cap, the term within validity, month arithmetic and the forced-sale waterfall."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidQuantity, UnknownInstrument
from market.pledges.errors import InvalidLoanTerms, LoanExceedsValue, LoanTermBeyondValidity
from market.pledges.valuation import (
    MAX_LTV_BP,
    SHAOXING_REFERENCE_FEN_PER_TONNE,
    Appraisal,
    LoanTerms,
    PriceSource,
    ReferencePrices,
    ValuationPolicy,
    add_months,
    appraise,
    check_loan,
    forced_sale_split,
    ltv_bp,
)

POLICY = ValuationPolicy()


def _appraise(kg: int, price: int | None = None, policy: ValuationPolicy = POLICY) -> Appraisal:
    return appraise(
        instrument_code="COD",
        jurisdiction="330281",
        quantity_kg=kg,
        clearing_price_fen_per_tonne=price,
        policy=policy,
    )


def _loan(amount: int, months: int = 12, start: date = date(2025, 6, 1)) -> LoanTerms:
    return LoanTerms("LN-1", amount, 385, months, start)


def test_without_an_auction_price_rights_are_valued_at_shaoxings_17000_cny_per_tonne() -> None:
    a = _appraise(2_500)
    assert SHAOXING_REFERENCE_FEN_PER_TONNE == 1_700_000
    assert (a.source, a.price_fen_per_tonne, a.value_fen) == (PriceSource.REFERENCE, 1_700_000, 4_250_000)
    assert a.max_loan_fen == 3_400_000  # 80%
    assert a.to_json()["max_loan_fen"] == 3_400_000


def test_the_latest_auction_clearing_price_wins_over_the_reference() -> None:
    a = _appraise(1_000, 2_345_678)
    assert (a.source, a.value_fen) == (PriceSource.AUCTION, 2_345_678)


def test_reference_prices_are_configurable_per_instrument_and_per_jurisdiction() -> None:
    prices = ReferencePrices(by_instrument={"COD": 1_000_000}, by_jurisdiction={("COD", "330281"): 900_000})
    assert prices.price_for("COD", "330281") == 900_000
    assert prices.price_for("COD", "330900") == 1_000_000
    assert prices.price_for("NOX", "330900") == SHAOXING_REFERENCE_FEN_PER_TONNE
    with pytest.raises(InvalidLoanTerms):
        ReferencePrices(default_fen_per_tonne=0)


def test_values_round_down_to_the_fen() -> None:
    assert _appraise(1, 1_999).value_fen == 1  # 1 kg at 19.99 CNY/t is 1.999 fen


def test_appraisal_refuses_floats_unknown_instruments_and_zero_quantities() -> None:
    with pytest.raises(TypeError):
        _appraise(1_000, 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuantity):
        _appraise(0)
    with pytest.raises(UnknownInstrument):
        appraise(
            instrument_code="XYZ",
            jurisdiction="330281",
            quantity_kg=1,
            clearing_price_fen_per_tonne=None,
            policy=POLICY,
        )


def test_a_loan_of_exactly_80_percent_passes_and_one_fen_more_is_refused() -> None:
    a = _appraise(10_000)
    check_loan(_loan(a.max_loan_fen), appraisal=a, valid_until=date(2030, 12, 31))
    with pytest.raises(LoanExceedsValue) as err:
        check_loan(_loan(a.max_loan_fen + 1), appraisal=a, valid_until=date(2030, 12, 31))
    assert err.value.details["field"] == "amount_fen"
    assert "80.00%" in err.value.message


def test_a_loan_maturing_after_the_rights_expire_is_refused() -> None:
    a = _appraise(10_000)
    check_loan(_loan(1, 12), appraisal=a, valid_until=date(2026, 6, 1))
    with pytest.raises(LoanTermBeyondValidity):
        check_loan(_loan(1, 12), appraisal=a, valid_until=date(2026, 5, 31))


def test_the_cap_is_a_policy_between_1_and_10000_basis_points() -> None:
    assert POLICY.max_ltv_bp == MAX_LTV_BP == 8_000
    assert _appraise(1_000, policy=ValuationPolicy(max_ltv_bp=5_000)).max_loan_fen == 850_000
    for bad in (0, 10_001):
        with pytest.raises(InvalidLoanTerms):
            ValuationPolicy(max_ltv_bp=bad)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 11, 15), 2, date(2026, 1, 15)),
        (date(2025, 6, 1), 60, date(2030, 6, 1)),
    ],
)
def test_months_are_added_on_the_calendar_clamped_to_the_month_end(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("rate_bp", {"rate_bp": 10_001}),
        ("term_months", {"term_months": 0}),
        ("term_months", {"term_months": 361}),
        ("loan_id", {"loan_id": ""}),
    ],
)
def test_loan_terms_out_of_range_are_refused_naming_the_field(field: str, kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {
        "loan_id": "L",
        "amount_fen": 1,
        "rate_bp": 385,
        "term_months": 12,
        "start": date(2025, 1, 1),
    }
    with pytest.raises(InvalidLoanTerms) as err:
        LoanTerms(**{**values, **kwargs})  # type: ignore[arg-type]
    assert err.value.field == field
    with pytest.raises(InvalidQuantity):
        LoanTerms("L", 0, 385, 12, date(2025, 1, 1))


def test_loan_to_value_is_reported_rounded_up() -> None:
    assert ltv_bp(8_000, 10_000) == 8_000
    assert ltv_bp(8_001, 10_000) == 8_001
    assert ltv_bp(1, 3) == 3_334


def test_a_forced_sale_pays_the_bank_first_up_to_its_claim() -> None:
    assert forced_sale_split(proceeds_fen=500, claim_fen=800) == (500, 0)
    assert forced_sale_split(proceeds_fen=1_000, claim_fen=800) == (800, 200)
    assert forced_sale_split(proceeds_fen=0, claim_fen=800) == (0, 0)


@given(
    kg=st.integers(1, 10**9),
    price=st.integers(1, 10**7),
    cap=st.integers(1, 10_000),
)
def test_the_largest_loan_allowed_is_exactly_the_cap_rounded_down(kg: int, price: int, cap: int) -> None:
    a = _appraise(kg, price, ValuationPolicy(max_ltv_bp=cap))
    assert a.value_fen * 1_000 <= kg * price < (a.value_fen + 1) * 1_000
    assert a.max_loan_fen * 10_000 <= a.value_fen * cap
    if a.max_loan_fen:
        check_loan(_loan(a.max_loan_fen), appraisal=a, valid_until=date(2030, 1, 1))
    with pytest.raises(LoanExceedsValue):
        check_loan(_loan(a.max_loan_fen + 1), appraisal=a, valid_until=date(2030, 1, 1))


@given(proceeds=st.integers(0, 10**12), claim=st.integers(0, 10**12))
def test_a_forced_sale_split_conserves_the_proceeds(proceeds: int, claim: int) -> None:
    bank, owner = forced_sale_split(proceeds_fen=proceeds, claim_fen=claim)
    assert bank + owner == proceeds
    assert 0 <= bank <= claim
    assert owner == 0 or bank == claim
