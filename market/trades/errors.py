"""Domain errors of bilateral trades and plain transfers, each with a stable code, under the
``ledger.errors`` families (so an adapter that maps families maps these)::

    InvalidInput
    ├── InvalidTrade               a trade that cannot be priced or is not between enterprises
    └── SerializedUnits            serialized credits offered to a plain transfer (they move with serials)
    RuleViolation
    └── CrossJurisdictionTrade     a bilateral trade across jurisdictions (that is 跨地市交易)
"""

from __future__ import annotations

from ledger.errors import InvalidInput, RuleViolation

__all__ = [
    "CrossJurisdictionTrade",
    "InvalidTrade",
    "SerializedUnits",
]


class InvalidTrade(InvalidInput):
    code = "invalid_trade"


class SerializedUnits(InvalidInput):
    """Serialized credits (blue carbon, bamboo carbon) offered to a plain transfer: they move with their
    serials, by the credit routes (a plain transfer would leave the serial book behind the balances)."""

    code = "serialized_units"


class CrossJurisdictionTrade(RuleViolation):
    code = "cross_jurisdiction_trade"
