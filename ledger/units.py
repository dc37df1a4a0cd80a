"""Instruments the registry keeps and their exact minor units.

Every quantity in the ledger is an ``int`` of a minor unit (kg, kg CO2e, fen); the display
unit (t/a, tCO2e, CNY) exists only at the edges, converted with ``Decimal`` and never float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from ledger.errors import InvalidQuantity, UnknownInstrument

__all__ = [
    "CURRENCY",
    "INSTRUMENTS",
    "MAX_AMOUNT",
    "Instrument",
    "InstrumentKind",
    "UnitClass",
    "check_amount",
    "format_amount",
    "instrument",
    "is_money",
    "parse_amount",
]

# RFC 8785 numbers are IEEE doubles: integers beyond 2**53 - 1 would not survive an
# auditor's re-encoding. 2**53 fen is about 90 trillion CNY, kg likewise ample.
MAX_AMOUNT = 2**53 - 1


class InstrumentKind(StrEnum):
    """What a unit is, for people. Nothing branches on it: code asks the properties below."""

    DISCHARGE_RIGHT = "discharge_right"  # 排污权
    VOCS_QUOTA = "vocs_quota"  # VOCs 排放指标
    BLUE_CARBON = "blue_carbon"  # 蓝碳 (贻贝养殖碳汇)
    FOREST_CARBON = "forest_carbon"  # 林业碳汇 (竹林碳汇)
    MONEY = "money"


class UnitClass(StrEnum):
    """The three shapes of unit the typed movements (``ledger.movements``) tell apart: which
    accounts may hold it and which body types may move it. Derived from the properties, so a new
    instrument of an existing shape needs no new row there."""

    RIGHT = "right"  # capped: a jurisdiction's total quantity control (总量控制), rights and quotas
    CREDIT = "credit"  # serialized sink credits, issued from a bureau's cap in vintage batches
    MONEY = "money"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One kind of unit the ledger counts: its units and the properties the rules read.

    ``capped``: counts against a jurisdiction's total quantity control (总量控制); its lots carry
    the jurisdiction and it moves between jurisdictions only by a cross-city settlement.
    ``has_validity``: its lots carry a validity date after which the expiry run retires them.
    ``serialized``: a credit issued in vintage batches with one serial per display unit (tonne),
    moving only with its serials (``market.bluecarbon.serials``), verified by a methodology.
    ``carbon``: counted in CO2 equivalent. ``money``: the settlement currency (no lot attributes).
    """

    code: str
    kind: InstrumentKind
    name: str  # English
    name_zh: str
    minor_unit: str
    display_unit: str
    minor_per_display: int
    display_places: int
    capped: bool = False
    has_validity: bool = False
    serialized: bool = False
    carbon: bool = False
    money: bool = False

    def __post_init__(self) -> None:
        if [self.capped, self.serialized, self.money].count(True) != 1:
            raise ValueError(f"{self.code}: an instrument is exactly one of capped, serialized or money")
        if self.has_validity and not self.capped:
            raise ValueError(f"{self.code}: only capped rights carry a validity period")

    @property
    def unit_class(self) -> UnitClass:
        if self.money:
            return UnitClass.MONEY
        return UnitClass.RIGHT if self.capped else UnitClass.CREDIT

    @property
    def scoped_to_jurisdiction(self) -> bool:
        """Its lots name a jurisdiction that the rules keep: the capped rights and quotas."""
        return self.capped

    @property
    def issued_by_bureau(self) -> bool:
        """Issued out of a bureau's cap account (``bureau:J.cap.<code>``): rights and credits."""
        return not self.money

    def label(self, lang: str) -> str:
        """The instrument's name in ``lang`` ("zh" or "en")."""
        return self.name_zh if lang == "zh" else self.name


#: The settlement currency's code (its postings are built with it; tests of a code use ``is_money``).
CURRENCY = "CNY"


def _right(code: str, name: str, name_zh: str) -> Instrument:
    return Instrument(
        code,
        InstrumentKind.DISCHARGE_RIGHT,
        name,
        name_zh,
        "kg/a",
        "t/a",
        1000,
        3,
        capped=True,
        has_validity=True,
    )


def _credit(code: str, kind: InstrumentKind, name: str, name_zh: str) -> Instrument:
    """A sink credit counted in kg CO2e, one serial per tonne; a methodology in
    ``methodologies/`` names it as the instrument it issues."""
    return Instrument(code, kind, name, name_zh, "kg CO2e", "tCO2e", 1000, 3, serialized=True, carbon=True)


# Adding an instrument is one entry here (and, for a credit, a methodology module that issues it):
# the rules, workflows, console and reports read its properties, never its code.
INSTRUMENTS: dict[str, Instrument] = {
    i.code: i
    for i in (
        _right("COD", "chemical oxygen demand discharge right", "化学需氧量排污权"),
        _right("NH3-N", "ammonia nitrogen discharge right", "氨氮排污权"),
        _right("SO2", "sulphur dioxide discharge right", "二氧化硫排污权"),
        _right("NOX", "nitrogen oxides discharge right", "氮氧化物排污权"),
        _right("TN", "total nitrogen discharge right", "总氮排污权"),
        _right("TP", "total phosphorus discharge right", "总磷排污权"),
        Instrument(
            "VOCS", InstrumentKind.VOCS_QUOTA, "VOCs quota", "挥发性有机物排放指标", "kg/a", "t/a", 1000, 3,
            capped=True, has_validity=True,
        ),
        _credit("BC", InstrumentKind.BLUE_CARBON, "blue carbon (mussel farming)", "蓝碳(贻贝养殖碳汇)"),
        _credit("BBC", InstrumentKind.FOREST_CARBON, "bamboo forest carbon credit", "竹林碳汇"),
        Instrument(CURRENCY, InstrumentKind.MONEY, "renminbi", "人民币", "fen", "CNY", 100, 2, money=True),
    )
}  # fmt: skip


def instrument(code: str, *, field: str = "instrument") -> Instrument:
    """The instrument with this code, or ``UnknownInstrument`` naming the field."""
    try:
        return INSTRUMENTS[code]
    except (KeyError, TypeError):
        raise UnknownInstrument(
            f"unknown instrument {code!r}; known: {', '.join(INSTRUMENTS)}", field=field, value=code
        ) from None


def is_money(code: str) -> bool:
    """Whether ``code`` is the settlement currency; False for a code no instrument has, so a
    rule may ask it before (or without) refusing an unknown code."""
    found = INSTRUMENTS.get(code) if isinstance(code, str) else None
    return found is not None and found.money


def check_amount(value: object, *, field: str, allow_zero: bool = False) -> int:
    """A strictly positive int of minor units within the canonical range; anything else refused.

    Floats and bools are refused by type, not converted: 0.1 t is not a number of kilograms.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuantity(
            f"{field} must be a whole number of minor units, got {type(value).__name__}",
            field=field,
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidQuantity(f"{field} must be positive, got {value}", field=field, value=value)
    if value > MAX_AMOUNT:
        raise InvalidQuantity(f"{field} exceeds {MAX_AMOUNT}", field=field, value=value)
    return value


_DECIMAL_TEXT = re.compile(r"[0-9]{1,16}(\.[0-9]{1,16})?")


def parse_amount(text: str | Decimal, inst: Instrument, *, field: str = "quantity") -> int:
    """Display units to minor units: ``parse_amount("1.5", COD)`` is 1500 (kg/a).

    Accepts plain decimal text only (no exponent, sign, spaces or underscores: ``"1_000"``
    must not quietly mean a thousand tonnes), and refuses more decimal places than the minor
    unit holds rather than rounding.
    """
    if isinstance(text, float):
        raise TypeError("floats are not accepted for quantities; pass a str or Decimal")
    if isinstance(text, Decimal):
        if not text.is_finite() or text.adjusted() > 15:  # checked before any arithmetic
            raise InvalidQuantity(f"{field} is out of range", field=field)
        text = format(text, "f")
    if isinstance(text, str) and text.startswith("-"):
        raise InvalidQuantity(f"{field} must be positive, got {text}", field=field, value=text)
    if not isinstance(text, str) or not _DECIMAL_TEXT.fullmatch(text):
        raise InvalidQuantity(f"{field} must be a plain decimal number, got {text!r}", field=field)
    minor = Decimal(text) * inst.minor_per_display
    if minor != minor.to_integral_value(rounding=ROUND_DOWN):
        raise InvalidQuantity(
            f"{field} has more than {inst.display_places} decimal places of {inst.display_unit}",
            field=field,
            value=text,
        )
    return check_amount(int(minor), field=field, allow_zero=True)


def format_amount(amount: int, inst: Instrument) -> str:
    """Minor units to display text: 1500 kg/a of COD is ``"1.500 t/a"``."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), inst.minor_per_display)
    return f"{sign}{whole:,}.{frac:0{inst.display_places}d} {inst.display_unit}"
