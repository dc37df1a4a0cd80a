"""Errors of auctions on the journal: malformed terms and bids, bids an auction rule refuses, and the
ledger's own refusals of a bid or result record. ``market.auctions.errors`` re-exports the workflow's ones.

Each class sits under a ``ledger.errors`` family::

    DomainError
    ├── InvalidInput
    │   ├── InvalidAuctionTerms      terms that cannot run (field named)
    │   └── InvalidBid               a malformed bid, e.g. a naive time (field named)
    ├── Conflict
    │   ├── BidSequenceConflict      two bids share a ``seq``, or a new one is not the latest
    │   └── DuplicateAuction         an auction id already used
    └── RuleViolation
        ├── BidRefused               a well-formed bid that an auction rule refuses (field named)
        │   ├── NotEligible          no project need (项目需求) for this pollutant in this jurisdiction
        │   ├── BidOutsideWindow     before the opening or after the (possibly extended) close
        │   ├── BidBelowReserve      below the reserve price (底价)
        │   │   └── BidBelowStartPrice   ascending design: below the start price (起拍价)
        │   ├── BidNotAnIncrement    ascending design: off the increment grid or not one step above
        │   ├── BidExceedsNeed       more than the bidder's need left (reserved across open auctions)
        │   └── TooManyBids          past the per-bidder limit (网络竞价: 10)
        ├── AuctionNotOpen           a bid or result for an auction the journal has not open
        ├── AuctionNotOver           a result recorded before the (possibly extended) close
        ├── BidCommitmentMismatch    revealed terms and salt that do not hash to the sealed commitment
        └── AuctionResultMismatch    a result whose awards, prices or rejections differ from the clearing

The ``BidRefused`` codes equal the reason codes ``RejectReason`` gives a bid that clearing refuses
for the same rule, so a client switches on one vocabulary.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import Conflict, InvalidInput, RuleViolation

__all__ = [
    "AuctionNotOpen",
    "AuctionNotOver",
    "AuctionResultMismatch",
    "BidBelowReserve",
    "BidBelowStartPrice",
    "BidCommitmentMismatch",
    "BidExceedsNeed",
    "BidNotAnIncrement",
    "BidOutsideWindow",
    "BidRefused",
    "BidSequenceConflict",
    "DuplicateAuction",
    "InvalidAuctionTerms",
    "InvalidBid",
    "NotEligible",
    "TooManyBids",
]


class InvalidAuctionTerms(InvalidInput):
    code = "invalid_auction_terms"


class InvalidBid(InvalidInput):
    code = "invalid_bid"


class BidSequenceConflict(Conflict):
    code = "bid_sequence_conflict"


class DuplicateAuction(Conflict):
    code = "duplicate_auction"


class BidRefused(RuleViolation):
    """A bid an auction rule refuses; ``field`` names the bid field at fault."""

    code = "bid_refused"

    def __init__(self, message: str, *, field: str, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class NotEligible(BidRefused):
    code = "not_eligible"


class BidOutsideWindow(BidRefused):
    code = "bid_outside_window"


class BidBelowReserve(BidRefused):
    code = "bid_below_reserve"


class BidBelowStartPrice(BidBelowReserve):
    code = "bid_below_start_price"


class BidNotAnIncrement(BidRefused):
    code = "bid_not_an_increment"


class BidExceedsNeed(BidRefused):
    code = "bid_exceeds_need"


class TooManyBids(BidRefused):
    code = "too_many_bids"


class AuctionNotOpen(RuleViolation):
    code = "auction_not_open"


class AuctionNotOver(RuleViolation):
    code = "auction_not_over"


class BidCommitmentMismatch(RuleViolation):
    code = "bid_commitment_mismatch"


class AuctionResultMismatch(RuleViolation):
    code = "auction_result_mismatch"
