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
    "MAX_AMOUNT",
    "Instrument",
    "InstrumentKind",
    "check_amount",
    "format_amount",
    "instrument",
    "parse_amount",
]

# RFC 8785 numbers are IEEE doubles: integers beyond 2**53 - 1 would not survive an
# auditor's re-encoding. 2**53 fen is about 90 trillion CNY, kg likewise ample.
MAX_AMOUNT = 2**53 - 1


class InstrumentKind(StrEnum):
    DISCHARGE_RIGHT = "discharge_right"  # 排污权
    VOCS_QUOTA = "vocs_quota"  # VOCs 排放指标
    BLUE_CARBON = "blue_carbon"  # 蓝碳 (贻贝养殖碳汇)
    MONEY = "money"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One kind of unit the ledger counts, with its minor and display units."""

    code: str
    kind: InstrumentKind
    name: str
    minor_unit: str
    display_unit: str
    minor_per_display: int
    display_places: int

    @property
    def scoped_to_jurisdiction(self) -> bool:
        """Rights and quotas belong to a jurisdiction's total quantity control (总量控制)."""
        return self.kind in (InstrumentKind.DISCHARGE_RIGHT, InstrumentKind.VOCS_QUOTA)

    @property
    def has_validity(self) -> bool:
        return self.scoped_to_jurisdiction


def _right(code: str, name: str) -> Instrument:
    return Instrument(code, InstrumentKind.DISCHARGE_RIGHT, name, "kg/a", "t/a", 1000, 3)


INSTRUMENTS: dict[str, Instrument] = {
    i.code: i
    for i in (
        _right("COD", "chemical oxygen demand discharge right (化学需氧量)"),
        _right("NH3-N", "ammonia nitrogen discharge right (氨氮)"),
        _right("SO2", "sulphur dioxide discharge right (二氧化硫)"),
        _right("NOX", "nitrogen oxides discharge right (氮氧化物)"),
        _right("TN", "total nitrogen discharge right (总氮)"),
        _right("TP", "total phosphorus discharge right (总磷)"),
        Instrument("VOCS", InstrumentKind.VOCS_QUOTA, "VOCs quota (挥发性有机物)", "kg/a", "t/a", 1000, 3),
        Instrument(
            "BC", InstrumentKind.BLUE_CARBON, "blue-carbon credit (蓝碳)", "kg CO2e", "tCO2e", 1000, 3
        ),
        Instrument("CNY", InstrumentKind.MONEY, "renminbi", "fen", "CNY", 100, 2),
    )
}


def instrument(code: str, *, field: str = "instrument") -> Instrument:
    """The instrument with this code, or ``UnknownInstrument`` naming the field."""
    try:
        return INSTRUMENTS[code]
    except (KeyError, TypeError):
        raise UnknownInstrument(
            f"unknown instrument {code!r}; known: {', '.join(INSTRUMENTS)}", field=field, value=code
        ) from None


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
