"""Domain errors of cross-city transfer (排污权跨地市交易), each with a stable code, under the
``ledger.errors`` families (so an adapter that maps families maps these)::

    InvalidInput ── InvalidTransferTerms   a request that cannot run (same city, nothing delivered)
    NotFound ── UnknownDemand, UnknownTransferRequest
    Conflict ── TransferStateConflict      a step the request's state does not allow (e.g. approving twice)
    RuleViolation
    ├── DemandNotMet                       an offer that does not fit the need (项目需求库): price, quantity
    └── TransferExpired                    a step past the request's expiry; the expiry sweep frees the hold
"""

from __future__ import annotations

from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation

__all__ = [
    "DemandNotMet",
    "InvalidTransferTerms",
    "TransferExpired",
    "TransferStateConflict",
    "UnknownDemand",
    "UnknownTransferRequest",
]


class InvalidTransferTerms(InvalidInput):
    code = "invalid_transfer_terms"


class UnknownDemand(NotFound):
    code = "unknown_demand"


class UnknownTransferRequest(NotFound):
    code = "unknown_transfer_request"


class TransferStateConflict(Conflict):
    code = "transfer_state_conflict"


class DemandNotMet(RuleViolation):
    code = "demand_not_met"


class TransferExpired(RuleViolation):
    code = "transfer_expired"
