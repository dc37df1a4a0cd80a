"""Instruments and exact minor units: parsing display amounts, formatting, refusing floats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.errors import InvalidInput, InvalidQuantity, UnknownInstrument
from ledger.units import (
    INSTRUMENTS,
    MAX_AMOUNT,
    Instrument,
    InstrumentKind,
    UnitClass,
    check_amount,
    format_amount,
    instrument,
    is_money,
    parse_amount,
)

COD = instrument("COD")
CNY = instrument("CNY")
BC = instrument("BC")


@pytest.mark.parametrize(
    ("text", "inst", "minor"),
    [
        ("1.234", COD, 1234),
        ("1.5", COD, 1500),
        ("1", COD, 1000),
        ("0.001", COD, 1),
        ("1.2340", COD, 1234),
        ("12.34", CNY, 1234),
        ("0.01", CNY, 1),
        ("2.5", BC, 2500),
        ("0", COD, 0),
    ],
)
def test_a_display_amount_becomes_an_exact_count_of_minor_units(text: str, inst, minor: int) -> None:
    assert parse_amount(text, inst) == minor


def test_a_decimal_is_accepted_like_its_text() -> None:
    assert parse_amount(Decimal("1.234"), COD) == 1234


@pytest.mark.parametrize(
    ("text", "inst"), [("1.2345", COD), ("0.0001", COD), ("12.345", CNY), ("0.001", CNY)]
)
def test_more_decimal_places_than_the_minor_unit_holds_are_refused_not_rounded(text: str, inst) -> None:
    with pytest.raises(InvalidQuantity, match="decimal places") as caught:
        parse_amount(text, inst, field="body.quantity")
    assert caught.value.field == "body.quantity"
    assert caught.value.code == "invalid_quantity"


@pytest.mark.parametrize("value", [1.5, 0.001, float("nan")])
def test_a_float_is_refused_with_a_type_error(value: float) -> None:
    with pytest.raises(TypeError, match="floats"):
        parse_amount(value, COD)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["abc", "", "1,5", "NaN", "Infinity", "-Infinity", "sNaN"])
def test_text_that_is_not_a_finite_number_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidQuantity) as caught:
        parse_amount(text, COD, field="price")
    assert caught.value.field == "price"


def test_a_negative_display_amount_is_refused() -> None:
    with pytest.raises(InvalidQuantity, match="positive") as caught:
        parse_amount("-1", COD)
    assert caught.value.field == "quantity"


def test_an_amount_beyond_the_canonical_integer_range_is_refused() -> None:
    with pytest.raises(InvalidQuantity, match="exceeds"):
        parse_amount("9007199254740.992", COD)
    assert parse_amount("9007199254740.991", COD) == MAX_AMOUNT


def test_a_huge_exponent_is_refused_as_an_invalid_quantity() -> None:
    with pytest.raises(InvalidQuantity):
        parse_amount("1e999999", COD)


@pytest.mark.parametrize(
    ("amount", "inst", "text"),
    [
        (1500, COD, "1.500 t/a"),
        (1, COD, "0.001 t/a"),
        (0, COD, "0.000 t/a"),
        (-1500, COD, "-1.500 t/a"),
        (1234567, COD, "1,234.567 t/a"),
        (12345, CNY, "123.45 CNY"),
        (5, CNY, "0.05 CNY"),
        (-1, CNY, "-0.01 CNY"),
        (123456789, CNY, "1,234,567.89 CNY"),
        (2500, BC, "2.500 tCO2e"),
    ],
)
def test_minor_units_are_formatted_in_the_display_unit(amount: int, inst, text: str) -> None:
    assert format_amount(amount, inst) == text


def test_formatting_and_parsing_round_trip_for_fen() -> None:
    for fen in (1, 99, 100, 101, 999_999):
        shown = format_amount(fen, CNY).removesuffix(" CNY").replace(",", "")
        assert parse_amount(shown, CNY) == fen


def test_an_unknown_instrument_raises_unknown_instrument_naming_the_field() -> None:
    with pytest.raises(UnknownInstrument) as caught:
        instrument("PM25", field="body.postings[0].instrument")
    assert caught.value.code == "unknown_instrument"
    assert caught.value.field == "body.postings[0].instrument"
    assert caught.value.details["value"] == "PM25"
    assert isinstance(caught.value, InvalidInput)


@pytest.mark.parametrize("code", [None, 3, ["COD"], "cod", " COD"])
def test_a_code_that_is_not_exactly_a_known_instrument_is_unknown(code: object) -> None:
    with pytest.raises(UnknownInstrument):
        instrument(code)  # type: ignore[arg-type]


def test_rights_and_quotas_are_scoped_to_a_jurisdiction_and_credits_and_money_are_not() -> None:
    assert COD.scoped_to_jurisdiction
    assert COD.has_validity
    assert instrument("VOCS").kind is InstrumentKind.VOCS_QUOTA
    assert instrument("VOCS").scoped_to_jurisdiction
    assert not BC.scoped_to_jurisdiction
    assert not CNY.scoped_to_jurisdiction
    assert CNY.kind is InstrumentKind.MONEY


def test_each_instrument_is_one_of_capped_serialized_or_money_and_its_class_follows() -> None:
    classes = {code: inst.unit_class for code, inst in INSTRUMENTS.items()}
    assert classes == {
        **dict.fromkeys(("COD", "NH3-N", "SO2", "NOX", "TN", "TP", "VOCS"), UnitClass.RIGHT),
        "BC": UnitClass.CREDIT,
        "BBC": UnitClass.CREDIT,
        "CNY": UnitClass.MONEY,
    }
    assert [c for c, i in INSTRUMENTS.items() if i.has_validity] == [
        c for c, i in INSTRUMENTS.items() if i.capped
    ]
    assert [c for c, i in INSTRUMENTS.items() if i.carbon] == ["BC", "BBC"]
    assert [c for c, i in INSTRUMENTS.items() if i.issued_by_bureau] == [c for c in INSTRUMENTS if c != "CNY"]
    assert (instrument("BBC").label("zh"), instrument("BBC").label("en")) == (
        "竹林碳汇",
        "bamboo forest carbon credit",
    )
    assert (is_money("CNY"), is_money("BC"), is_money("nope")) == (True, False, False)


@pytest.mark.parametrize(
    "flags",
    [{}, {"capped": True, "money": True}, {"serialized": True, "has_validity": True}],
)
def test_an_instrument_that_is_not_exactly_one_shape_is_refused(flags: dict[str, bool]) -> None:
    with pytest.raises(ValueError, match="XX"):
        Instrument("XX", InstrumentKind.FOREST_CARBON, "x", "x", "kg", "t", 1000, 3, **flags)


@pytest.mark.parametrize("value", [1.0, True, False, "5", None, Decimal(5)])
def test_check_amount_refuses_anything_but_an_int_by_type(value: object) -> None:
    with pytest.raises(InvalidQuantity, match="whole number") as caught:
        check_amount(value, field="amount")
    assert caught.value.field == "amount"


@pytest.mark.parametrize("value", [0, -1, MAX_AMOUNT + 1])
def test_check_amount_refuses_zero_negative_and_huge_amounts(value: int) -> None:
    with pytest.raises(InvalidQuantity) as caught:
        check_amount(value, field="amount")
    assert caught.value.details["value"] == value


def test_check_amount_accepts_zero_only_when_allowed_and_the_maximum() -> None:
    assert check_amount(0, field="amount", allow_zero=True) == 0
    assert check_amount(MAX_AMOUNT, field="amount") == MAX_AMOUNT
    assert MAX_AMOUNT == 2**53 - 1
