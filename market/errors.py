"""Domain errors of the market workflows (auctions first), each with a stable code.

Every class sits under a ``ledger.errors`` family, so an adapter that maps families maps these::

    DomainError
    ├── InvalidInput
    │   ├── InvalidAuctionTerms      terms that cannot run (field named)
    │   └── InvalidBid               a malformed bid, e.g. a naive time (field named)
    ├── Conflict
    │   └── BidSequenceConflict      two bids share a ``seq``, or a new one is not the latest
    └── RuleViolation
        └── BidRefused               a well-formed bid that an auction rule refuses (field named)
            ├── NotEligible          no project need (项目需求) for this pollutant in this jurisdiction
            ├── BidOutsideWindow     before the opening or after the (possibly extended) close
            ├── BidBelowReserve      below the reserve price (底价)
            │   └── BidBelowStartPrice   ascending design: below the start price (起拍价)
            ├── BidNotAnIncrement    ascending design: off the increment grid or not one step above
            ├── BidExceedsNeed       more than the bidder's approved need
            └── TooManyBids          past the per-bidder limit (网络竞价: 10)

The auction classes above are defined in ``ledger.auction_errors`` (the ledger re-checks the
auction rules on its records) and re-exported here. The ``BidRefused`` codes equal the reason
codes ``market.auction.RejectReason`` gives a bid that clearing refuses for the same rule, so a
client switches on one vocabulary.
"""

from __future__ import annotations

from typing import Any

from ledger.auction_errors import (  # the auction rules live in the ledger, which re-checks them
    BidBelowReserve,
    BidBelowStartPrice,
    BidExceedsNeed,
    BidNotAnIncrement,
    BidOutsideWindow,
    BidRefused,
    BidSequenceConflict,
    DuplicateAuction,
    InvalidAuctionTerms,
    InvalidBid,
    NotEligible,
    TooManyBids,
)
from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation

__all__ = [
    "BidBelowReserve",
    "BidBelowStartPrice",
    "BidExceedsNeed",
    "BidNotAnIncrement",
    "BidOutsideWindow",
    "BidRefused",
    "BidSequenceConflict",
    "InvalidAuctionTerms",
    "InvalidBid",
    "NotEligible",
    "SerializedUnits",
    "TooManyBids",
]


# --- issuance, reserve, expiry, blue carbon ---
# Added to the tree above (market.issuance, market.reserve, market.expiry, market.bluecarbon,
# market.serials)::
#
#   InvalidInput ── WholeTonnesOnly          blue carbon moves in whole tonnes (one serial each)
#   NotFound ── UnknownProject, UnknownMonitoringReport, UnknownBatch
#   Conflict ── DuplicateProject, OverlappingMonitoringPeriod, ReportAlreadyIssued
#   RuleViolation
#   ├── CapExceeded                          an allocation beyond the reserve under the cap (总量控制)
#   ├── NotInJurisdiction                    units allocated to a participant of another jurisdiction
#   ├── PermitRequired                       initial allocation needs a discharge permit (排污许可证)
#   ├── NothingToIssue                       a verified report worth less than one whole tonne
#   └── SerialError                          the serial book's rules (serials.SerialBook)
#       ├── SerialsNotHeld                   a debit of serials the account does not hold
#       ├── SerialRangeConflict              a batch range that overlaps or skips (double issuance)
#       └── RetiredSerialsImmovable          a retired serial never moves again

__all__ += [
    "CapExceeded",
    "DuplicateProject",
    "NotInJurisdiction",
    "NothingToIssue",
    "OverlappingMonitoringPeriod",
    "PermitRequired",
    "ReportAlreadyIssued",
    "RetiredSerialsImmovable",
    "SerialError",
    "SerialRangeConflict",
    "SerialsNotHeld",
    "UnknownBatch",
    "UnknownMonitoringReport",
    "UnknownProject",
    "WholeTonnesOnly",
]


class WholeTonnesOnly(InvalidInput):
    code = "whole_tonnes_only"


class UnknownProject(NotFound):
    code = "unknown_project"


class UnknownMonitoringReport(NotFound):
    code = "unknown_monitoring_report"


class UnknownBatch(NotFound):
    code = "unknown_batch"


class DuplicateProject(Conflict):
    code = "duplicate_project"


class OverlappingMonitoringPeriod(Conflict):
    """A monitoring period overlapping an earlier report of the project would count a harvest twice."""

    code = "overlapping_monitoring_period"


class ReportAlreadyIssued(Conflict):
    code = "report_already_issued"


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


class NothingToIssue(RuleViolation):
    code = "nothing_to_issue"


class SerialError(RuleViolation):
    code = "serial_error"


class SerialsNotHeld(SerialError):
    code = "serials_not_held"


class SerialRangeConflict(SerialError):
    code = "serial_range_conflict"


class RetiredSerialsImmovable(SerialError):
    code = "retired_serials_immovable"


class SerializedUnits(InvalidInput):
    """Blue-carbon credits offered to a plain transfer: they move with their serials, by the
    blue-carbon routes (a plain transfer would leave the serial book behind the balances)."""

    code = "serialized_units"


# --- auction workflow and trades ---
# Added to the tree above (market.auctions, market.trades)::
#
#   InvalidInput ── InvalidProjectNeed       a need (项目需求) that cannot be approved (field named)
#                ── InvalidTrade             a trade that cannot be priced or is not between enterprises
#   NotFound ── UnknownAuction, UnknownAward
#   Conflict
#   ├── DuplicateAuction                     an auction id already used
#   ├── AuctionClosed                        bidding on or closing an auction whose result is recorded
#   ├── BidsSealed                           the bids of a sealed auction before its result (counts only)
#   └── AwardNotPending                      settling or forfeiting an award already settled or forfeited
#   RuleViolation
#   ├── AuctionStillOpen                     closing before the (possibly extended) close
#   ├── PaymentOverdue                       settling after the payment deadline: the deposit is forfeit
#   ├── PaymentWindowOpen                    forfeiting before the payment deadline
#   └── CrossJurisdictionTrade               a bilateral trade across jurisdictions (that is 跨地市交易)

from ledger import errors as _ledger_errors  # noqa: E402  (appended block)

__all__ += [
    "AuctionClosed",
    "AuctionStillOpen",
    "AwardNotPending",
    "BidsSealed",
    "CrossJurisdictionTrade",
    "DuplicateAuction",
    "InvalidProjectNeed",
    "InvalidTrade",
    "PaymentOverdue",
    "PaymentWindowOpen",
    "UnknownAuction",
    "UnknownAward",
]


class InvalidProjectNeed(_ledger_errors.InvalidInput):
    code = "invalid_project_need"


class InvalidTrade(_ledger_errors.InvalidInput):
    code = "invalid_trade"


class UnknownAuction(_ledger_errors.NotFound):
    code = "unknown_auction"


class UnknownAward(_ledger_errors.NotFound):
    code = "unknown_award"


class AuctionClosed(_ledger_errors.Conflict):
    code = "auction_closed"


class BidsSealed(_ledger_errors.Conflict):
    """Sealed bids stay sealed from everyone until the result, the bureau included; ``details`` carry
    how many bids and bidders there are."""

    code = "bids_sealed"


class AwardNotPending(_ledger_errors.Conflict):
    code = "award_not_pending"


class AuctionStillOpen(_ledger_errors.RuleViolation):
    code = "auction_still_open"


class PaymentOverdue(_ledger_errors.RuleViolation):
    code = "payment_overdue"


class PaymentWindowOpen(_ledger_errors.RuleViolation):
    code = "payment_window_open"


class CrossJurisdictionTrade(_ledger_errors.RuleViolation):
    code = "cross_jurisdiction_trade"


# --- cross-city transfer and pledges ---
# Added to the tree above (market.crosscity, market.pledge, market.valuation, market.certificate)::
#
#   InvalidInput
#   ├── InvalidTransferTerms          a cross-city request that cannot run (same city, nothing delivered)
#   ├── InvalidLoanTerms              a loan that cannot be recorded (rate, term or amount out of range)
#   └── MalformedCertificate          a pledge certificate that does not parse
#   NotFound ── UnknownDemand, UnknownTransferRequest, UnknownPledge
#   Conflict
#   ├── TransferStateConflict         a step the request's state does not allow (e.g. approving twice)
#   └── PledgeStateConflict           a step the pledge's state does not allow (e.g. confirming unapproved)
#   RuleViolation
#   ├── DemandNotMet                  an offer that does not fit the need (项目需求库): price, quantity
#   ├── TransferExpired               a step on a request past its expiry; the expiry sweep releases the hold
#   ├── CollateralUnavailable         units already pledged (to this or another bank) or not held free
#   ├── LoanExceedsValue              a loan above the loan-to-value cap (80% of the appraised value)
#   └── LoanTermBeyondValidity        a loan maturing after the pledged right's validity ends

from ledger import errors as _collateral_base  # noqa: E402  (appended block)

__all__ += [
    "CollateralUnavailable",
    "DemandNotMet",
    "InvalidLoanTerms",
    "InvalidTransferTerms",
    "LoanExceedsValue",
    "LoanTermBeyondValidity",
    "MalformedCertificate",
    "PledgeStateConflict",
    "TransferExpired",
    "TransferStateConflict",
    "UnknownDemand",
    "UnknownPledge",
    "UnknownTransferRequest",
]


class InvalidTransferTerms(_collateral_base.InvalidInput):
    code = "invalid_transfer_terms"


class InvalidLoanTerms(_collateral_base.InvalidInput):
    code = "invalid_loan_terms"


class MalformedCertificate(_collateral_base.InvalidInput):
    code = "malformed_certificate"


class UnknownDemand(_collateral_base.NotFound):
    code = "unknown_demand"


class UnknownTransferRequest(_collateral_base.NotFound):
    code = "unknown_transfer_request"


class UnknownPledge(_collateral_base.NotFound):
    code = "unknown_pledge"


class TransferStateConflict(_collateral_base.Conflict):
    code = "transfer_state_conflict"


class PledgeStateConflict(_collateral_base.Conflict):
    code = "pledge_state_conflict"


class DemandNotMet(_collateral_base.RuleViolation):
    code = "demand_not_met"


class TransferExpired(_collateral_base.RuleViolation):
    code = "transfer_expired"


class CollateralUnavailable(_collateral_base.RuleViolation):
    """Units that cannot be pledged: ``details`` carry ``available_kg``, ``requested_kg`` and the
    ``pledged_to`` banks already holding (or applying for) the same units."""

    code = "collateral_unavailable"


class LoanExceedsValue(_collateral_base.RuleViolation):
    code = "loan_exceeds_value"


class LoanTermBeyondValidity(_collateral_base.RuleViolation):
    code = "loan_term_beyond_validity"
