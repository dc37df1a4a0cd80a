"""Domain errors of issuance under the cap and the reserve, each with a stable code, under the
``ledger.errors`` families (so an adapter that maps families maps these)::

    RuleViolation
    ├── CapExceeded                an allocation beyond the reserve under the cap (总量控制)
    ├── NotInJurisdiction          units allocated to a participant of another jurisdiction
    └── PermitRequired             initial allocation needs a discharge permit (排污许可证)
"""

from __future__ import annotations

from typing import Any

from ledger.errors import RuleViolation

__all__ = [
    "CapExceeded",
    "NotInJurisdiction",
    "PermitRequired",
]


class CapExceeded(RuleViolation):
    """An allocation beyond what the reserve holds under the cap in force (总量控制); ``details``
    carry ``cap``, ``allocated`` (cap minus reserve), ``available`` and ``requested`` in kg/a."""

    code = "cap_exceeded"

    def __init__(self, message: str, *, cap: int, allocated: int, requested: int, **details: Any) -> None:
        super().__init__(message, cap=cap, allocated=allocated, requested=requested, **details)
        self.cap, self.allocated, self.requested = cap, allocated, requested


class NotInJurisdiction(RuleViolation):
    code = "not_in_jurisdiction"


class PermitRequired(RuleViolation):
    code = "permit_required"
