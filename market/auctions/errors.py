"""Domain errors of the auction workflow (排污权竞价), each with a stable code.

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
codes ``market.auctions.model.RejectReason`` gives a bid that clearing refuses for the same rule, so a
client switches on one vocabulary.
"""

from __future__ import annotations

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
    "TooManyBids",
]


# --- auction workflow ---
# Added to the tree above (market.auctions.service, .bids and .settlement)::
#
#   InvalidInput ── InvalidProjectNeed       a need (项目需求) that cannot be approved (field named)
#   NotFound ── UnknownAuction, UnknownAward
#   Conflict
#   ├── DuplicateAuction                     an auction id already used
#   ├── AuctionClosed                        bidding on or closing an auction whose result is recorded
#   ├── BidsSealed                           the bids of a sealed auction before its result (counts only)
#   └── AwardNotPending                      settling or forfeiting an award already settled or forfeited
#   RuleViolation
#   ├── AuctionStillOpen                     closing before the (possibly extended) close
#   ├── PaymentOverdue                       settling after the payment deadline: the deposit is forfeit
#   └── PaymentWindowOpen                    forfeiting before the payment deadline

__all__ += [
    "AuctionClosed",
    "AuctionStillOpen",
    "AwardNotPending",
    "BidsSealed",
    "DuplicateAuction",
    "InvalidProjectNeed",
    "PaymentOverdue",
    "PaymentWindowOpen",
    "UnknownAuction",
    "UnknownAward",
]


class InvalidProjectNeed(InvalidInput):
    code = "invalid_project_need"


class UnknownAuction(NotFound):
    code = "unknown_auction"


class UnknownAward(NotFound):
    code = "unknown_award"


class AuctionClosed(Conflict):
    code = "auction_closed"


class BidsSealed(Conflict):
    """Sealed bids stay sealed from everyone until the result, the bureau included; ``details`` carry
    how many bids and bidders there are."""

    code = "bids_sealed"


class AwardNotPending(Conflict):
    code = "award_not_pending"


class AuctionStillOpen(RuleViolation):
    code = "auction_still_open"


class PaymentOverdue(RuleViolation):
    code = "payment_overdue"


class PaymentWindowOpen(RuleViolation):
    code = "payment_window_open"
