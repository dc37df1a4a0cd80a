"""Auctions of reserve discharge rights and VOCs quotas (排污权竞价) as the workflow sees them: the
bid-time checks here, and the pure terms, bids and clearing the ledger re-runs (``ledger.auction_clearing``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ledger.auction_clearing import (
    AuctionTerms,
    Bid,
    ClearingResult,
    DepositOutcome,
    Need,
    clear,
    clear_with_caps,
    effective_close,
    eligible_needs,
    required_deposit,
    settle_deposits,
)
from ledger.auction_designs import (
    QUZHOU_DEPOSIT,
    Allocation,
    AuctionDesign,
    DepositRule,
    FixedDeposit,
    RatioDeposit,
    RejectedBid,
    RejectReason,
    ascending_price_problem,
    deposit_for,
    payment_fen,
    winning_share,
)
from market.auctions.errors import (
    BidBelowReserve,
    BidBelowStartPrice,
    BidExceedsNeed,
    BidNotAnIncrement,
    BidOutsideWindow,
    BidSequenceConflict,
    InvalidBid,
    NotEligible,
    TooManyBids,
)

__all__ = [
    "QUZHOU_DEPOSIT",
    "Allocation",
    "AuctionDesign",
    "AuctionTerms",
    "Bid",
    "ClearingResult",
    "DepositOutcome",
    "DepositRule",
    "FixedDeposit",
    "Need",
    "RatioDeposit",
    "RejectReason",
    "RejectedBid",
    "check_bid",
    "clear",
    "clear_with_caps",
    "deposit_for",
    "effective_close",
    "eligible_needs",
    "payment_fen",
    "required_deposit",
    "settle_deposits",
    "winning_share",
]


def check_bid(
    terms: AuctionTerms, bid: Bid, *, needs: Iterable[Need], existing_bids: Iterable[Bid], now: datetime
) -> None:
    """Refuses, at submission, a bid that clearing would refuse; the error names the bid field.

    ``needs`` are the registered needs (only the bidder's matter), ``existing_bids`` the bids the
    auction accepted so far, ``now`` the registry's clock, which must equal ``bid.at``. Checked in
    order: sequence, eligibility, window, price, need, count.
    """
    if bid.at != now:
        raise InvalidBid("a bid is stamped with the time the registry receives it", field="at")
    existing = tuple(existing_bids)
    if any(b.seq >= bid.seq for b in existing):
        raise BidSequenceConflict(f"seq {bid.seq} is not after every accepted bid", field="seq", seq=bid.seq)
    need_kg = eligible_needs(terms, needs).get(bid.bidder)
    if need_kg is None:
        raise NotEligible(
            f"{bid.bidder} has no {terms.instrument} need registered in {terms.jurisdiction}",
            field="bidder",
            bidder=bid.bidder,
        )
    close = effective_close(terms, existing)
    if not terms.opens_at <= now < close:
        window = {"opens_at": terms.opens_at.isoformat(), "closes_at": close.isoformat()}
        raise BidOutsideWindow(
            f"bids are taken from {window['opens_at']} until {window['closes_at']}", field="at", **window
        )
    _check_price(terms, bid, existing)
    if bid.quantity_kg > need_kg:
        raise BidExceedsNeed(
            f"{bid.quantity_kg} kg exceeds the approved need of {need_kg} kg",
            field="quantity_kg",
            quantity_kg=bid.quantity_kg,
            need_kg=need_kg,
        )
    limit = terms.max_bids_per_bidder
    if limit is not None and sum(b.bidder == bid.bidder for b in existing) >= limit:
        raise TooManyBids(f"at most {limit} bids per bidder", field="bidder", limit=limit)


def _check_price(terms: AuctionTerms, bid: Bid, existing: tuple[Bid, ...]) -> None:
    price = bid.price_fen_per_t
    if terms.design is not AuctionDesign.ASCENDING:
        if price < terms.reserve_price_fen_per_t:
            raise BidBelowReserve(
                f"{price} fen/t is below the reserve of {terms.reserve_price_fen_per_t} fen/t",
                field="price_fen_per_t",
                minimum_fen_per_t=terms.reserve_price_fen_per_t,
            )
        return
    assert terms.increment_fen_per_t is not None  # guaranteed by AuctionTerms for ascending
    standing = max((b.price_fen_per_t for b in existing), default=None)
    problem = ascending_price_problem(
        price,
        start_fen_per_t=terms.start_fen_per_t,
        increment_fen_per_t=terms.increment_fen_per_t,
        standing_fen_per_t=standing,
    )
    if problem is RejectReason.BELOW_START_PRICE:
        raise BidBelowStartPrice(
            f"{price} fen/t is below the start price of {terms.start_fen_per_t} fen/t",
            field="price_fen_per_t",
            minimum_fen_per_t=terms.start_fen_per_t,
        )
    if problem is RejectReason.NOT_AN_INCREMENT:
        minimum = terms.start_fen_per_t if standing is None else standing + terms.increment_fen_per_t
        raise BidNotAnIncrement(
            f"{price} fen/t must be the start price plus whole increments of "
            f"{terms.increment_fen_per_t} fen/t, at least {minimum} fen/t",
            field="price_fen_per_t",
            increment_fen_per_t=terms.increment_fen_per_t,
            minimum_fen_per_t=minimum,
        )
