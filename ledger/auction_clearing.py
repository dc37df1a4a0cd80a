"""Pure clearing of bureau auctions of reserve discharge rights and VOCs quotas (排污权竞价): terms, bids,
deposits (保证金) and the clearing itself; no I/O, no clock. The ledger re-runs it on every recorded result.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

from ledger.auction_designs import Allocation as Allocation
from ledger.auction_designs import (
    AuctionDesign,
    BidLike,
    DepositRule,
    FixedDeposit,
    RatioDeposit,
    RejectedBid,
    allocate,
    deposit_for,
    fill,
    in_priority_order,
    screen_ascending,
    screen_sealed,
    timed_close,
    top_share,
)
from ledger.auction_errors import BidSequenceConflict, InvalidAuctionTerms, InvalidBid
from ledger.units import check_amount, instrument

__all__ = [
    "AuctionTerms",
    "Bid",
    "ClearingResult",
    "DepositOutcome",
    "Need",
    "clear",
    "clear_with_caps",
    "effective_close",
    "eligible_needs",
    "required_deposit",
    "settle_deposits",
]


def _aware(moment: object, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidAuctionTerms(f"{field} must be a timezone-aware datetime", field=field)
    return moment


# -- terms, bids, needs ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuctionTerms:
    """What a bureau opens: which right, how much, the reserve (底价), the design and its window.

    For ``ASCENDING``, ``closes_at`` ends the quotation period; the timed stage then runs for
    ``extension`` (Ningxia: 4 minutes) and every accepted bid in it restarts that countdown.
    ``start_price_fen_per_t`` defaults to the reserve. Ascending auctions usually pass
    ``max_bids_per_bidder=None``; 网络竞价 keeps the provincial limit of 10.
    """

    auction_id: str
    instrument: str
    jurisdiction: str
    quantity_kg: int
    reserve_price_fen_per_t: int
    design: AuctionDesign
    opens_at: datetime
    closes_at: datetime
    deposit_rule: DepositRule
    base_price_fen_per_t: int | None = None  # per tonne-year; required by a RatioDeposit
    max_bids_per_bidder: int | None = 10
    start_price_fen_per_t: int | None = None  # ascending only
    increment_fen_per_t: int | None = None  # ascending only, required there
    extension: timedelta = timedelta(minutes=4)  # ascending only

    def __post_init__(self) -> None:
        for name in ("auction_id", "jurisdiction"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidAuctionTerms(f"{name} must be a non-empty string", field=name)
        if not instrument(self.instrument).scoped_to_jurisdiction:
            raise InvalidAuctionTerms("only rights and VOCs quotas are auctioned", field="instrument")
        check_amount(self.quantity_kg, field="quantity_kg")
        check_amount(self.reserve_price_fen_per_t, field="reserve_price_fen_per_t")
        if not isinstance(self.design, AuctionDesign):
            raise InvalidAuctionTerms(f"unknown design {self.design!r}", field="design")
        if _aware(self.closes_at, "closes_at") <= _aware(self.opens_at, "opens_at"):
            raise InvalidAuctionTerms("closes_at must be after opens_at", field="closes_at")
        self._check_deposit()
        if self.max_bids_per_bidder is not None:
            check_amount(self.max_bids_per_bidder, field="max_bids_per_bidder")
        if self.design is AuctionDesign.ASCENDING:
            self._check_ascending()
        elif self.start_price_fen_per_t is not None or self.increment_fen_per_t is not None:
            raise InvalidAuctionTerms("only ascending auctions take a start price", field="design")

    def _check_deposit(self) -> None:
        if not isinstance(self.deposit_rule, FixedDeposit | RatioDeposit):
            raise InvalidAuctionTerms("not a FixedDeposit or RatioDeposit", field="deposit_rule")
        if self.base_price_fen_per_t is not None:
            check_amount(self.base_price_fen_per_t, field="base_price_fen_per_t")
        elif isinstance(self.deposit_rule, RatioDeposit):
            raise InvalidAuctionTerms("a ratio deposit needs the base price", field="base_price_fen_per_t")

    def _check_ascending(self) -> None:
        if self.increment_fen_per_t is None:
            raise InvalidAuctionTerms("an ascending auction needs an increment", field="increment_fen_per_t")
        check_amount(self.increment_fen_per_t, field="increment_fen_per_t")
        if self.start_price_fen_per_t is not None:
            check_amount(self.start_price_fen_per_t, field="start_price_fen_per_t")
            if self.start_price_fen_per_t < self.reserve_price_fen_per_t:
                raise InvalidAuctionTerms("start price below the reserve", field="start_price_fen_per_t")
        if not isinstance(self.extension, timedelta) or self.extension <= timedelta(0):
            raise InvalidAuctionTerms("extension must be a positive timedelta", field="extension")

    @property
    def start_fen_per_t(self) -> int:
        """The ascending design's first acceptable price: the start price, else the reserve."""
        if self.start_price_fen_per_t is None:
            return self.reserve_price_fen_per_t
        return self.start_price_fen_per_t


@dataclass(frozen=True, slots=True)
class Bid:
    """One bid: ``seq`` is its arrival order in the auction (unique), ``at`` when it arrived (UTC)."""

    bidder: str
    price_fen_per_t: int
    quantity_kg: int
    seq: int
    at: datetime

    def __post_init__(self) -> None:
        check_amount(self.price_fen_per_t, field="price_fen_per_t")
        check_amount(self.quantity_kg, field="quantity_kg")
        check_amount(self.seq, field="seq", allow_zero=True)
        if not isinstance(self.at, datetime) or self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidBid("at must be a timezone-aware datetime", field="at")


@dataclass(frozen=True, slots=True)
class Need:
    """A registered project need (项目需求): the quantity of one pollutant a bureau approved."""

    bidder: str
    instrument: str
    jurisdiction: str
    approved_kg: int

    def __post_init__(self) -> None:
        check_amount(self.approved_kg, field="approved_kg")


def eligible_needs(terms: AuctionTerms, needs: Iterable[Need]) -> dict[str, int]:
    """Each eligible bidder's cap in kg: its needs for this instrument and jurisdiction, summed."""
    caps: dict[str, int] = {}
    for need in needs:
        if need.instrument == terms.instrument and need.jurisdiction == terms.jurisdiction:
            caps[need.bidder] = caps.get(need.bidder, 0) + need.approved_kg
    return caps


def effective_close(terms: AuctionTerms, accepted_bids: Iterable[BidLike]) -> datetime:
    """When bidding ends: ``closes_at``, or for ascending auctions the timed stage's extended close.

    Replays the accepted bids in arrival order; each one before the current close moves it to its
    time plus ``terms.extension``.
    """
    if terms.design is not AuctionDesign.ASCENDING:
        return terms.closes_at
    return timed_close(accepted_bids, closes_at=terms.closes_at, extension=terms.extension)


# -- clearing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClearingResult:
    """The outcome: allocations in priority order, rejected bids by ``seq``, and the totals.

    ``clearing_price_fen_per_t`` is set for uniform-price auctions that sold something;
    ``winning_share`` is the 网络竞价 bidder quota; ``closed_at`` the (extended) close.
    """

    auction_id: str
    design: AuctionDesign
    closed_at: datetime
    clearing_price_fen_per_t: int | None
    winning_share: int | None
    allocations: tuple[Allocation, ...]
    rejected: tuple[RejectedBid, ...]
    offered_kg: int
    sold_kg: int
    unsold_kg: int
    revenue_fen: int

    def winners(self) -> tuple[str, ...]:
        """Bidders who won anything, in priority order of their best filled bid."""
        return tuple(dict.fromkeys(a.bidder for a in self.allocations))

    def awarded_kg(self, bidder: str) -> int:
        return sum(a.quantity_kg for a in self.allocations if a.bidder == bidder)

    def amount_due_fen(self, bidder: str) -> int:
        """What the bidder owes: the sum of its allocations' amounts; zero for a loser."""
        return sum(a.amount_fen for a in self.allocations if a.bidder == bidder)

    def amounts_due_fen(self) -> dict[str, int]:
        """Every winner's ``amount_due_fen`` in one pass, in the order of ``winners()``."""
        dues: dict[str, int] = {}
        for a in self.allocations:
            dues[a.bidder] = dues.get(a.bidder, 0) + a.amount_fen
        return dues


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Clearing allocates many small acyclic objects; with the cyclic collector on, its generation
    # scans over every live bid cost about a quarter of a 100,000-bid clearing (bench/auction_bench.py).
    # Nothing here makes a cycle, so pausing it frees nothing late.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def clear(terms: AuctionTerms, bids: Iterable[Bid], needs: Iterable[Need]) -> ClearingResult:
    """Clears an auction by its design; refuses no bid by raising, but reports each with a reason.

    Bids are screened with ``market.auctions.model.check_bid``'s rules, sorted once by (price desc, seq),
    cut to the top 70% of bidders for 网络竞价, then filled up to the supply and each bidder's
    need. Uniform price charges every winner the clearing price, the other designs each bid's own
    price. Raises only ``BidSequenceConflict`` if two bids share a ``seq``. O(n log n); the result
    does not depend on the order ``bids`` come in.
    """
    return clear_with_caps(terms, bids, eligible_needs(terms, needs))


def clear_with_caps(terms: AuctionTerms, bids: Iterable[Bid], caps: Mapping[str, int]) -> ClearingResult:
    """``clear`` with each eligible bidder's need (kg) given directly: what the ledger re-runs on a
    recorded result, with the needs its bid records carry."""
    with _collector_paused():
        return _clear(terms, bids, caps)


def _clear(terms: AuctionTerms, bids: Iterable[Bid], caps: Mapping[str, int]) -> ClearingResult:
    bids = tuple(bids)
    if len(set(map(attrgetter("seq"), bids))) != len(bids):
        raise BidSequenceConflict("two bids share a seq: arrival order must be unique", field="seq")
    if terms.design is AuctionDesign.ASCENDING:
        assert terms.increment_fen_per_t is not None  # guaranteed by AuctionTerms for ascending
        valid, refused, closed_at = screen_ascending(
            bids,
            caps,
            start_fen_per_t=terms.start_fen_per_t,
            increment_fen_per_t=terms.increment_fen_per_t,
            opens_at=terms.opens_at,
            closes_at=terms.closes_at,
            extension=terms.extension,
            max_bids=terms.max_bids_per_bidder,
        )
    else:
        valid, refused = screen_sealed(
            bids,
            caps,
            reserve_fen_per_t=terms.reserve_price_fen_per_t,
            opens_at=terms.opens_at,
            closes_at=terms.closes_at,
            max_bids=terms.max_bids_per_bidder,
        )
        closed_at = terms.closes_at
    order = in_priority_order(valid)
    share: int | None = None
    allowed: frozenset[str] | None = None
    tied: frozenset[str] = frozenset()
    if terms.design is AuctionDesign.ONLINE_BIDDING:
        allowed, share, tied = top_share(order)
    filled, filled_kg, unfilled, unsold_kg = fill(order, terms.quantity_kg, caps, allowed=allowed, tied=tied)
    refused.extend(unfilled)
    uniform: int | None = None
    if terms.design is AuctionDesign.UNIFORM_PRICE and filled:
        uniform = filled[-1].price_fen_per_t if unsold_kg == 0 else terms.reserve_price_fen_per_t
    allocations = allocate(filled, filled_kg, uniform)
    rejected = sorted(refused, key=attrgetter("seq"))
    return ClearingResult(
        auction_id=terms.auction_id,
        design=terms.design,
        closed_at=closed_at,
        clearing_price_fen_per_t=uniform,
        winning_share=share,
        allocations=allocations,
        rejected=tuple(rejected),
        offered_kg=terms.quantity_kg,
        sold_kg=terms.quantity_kg - unsold_kg,
        unsold_kg=unsold_kg,
        revenue_fen=sum(a.amount_fen for a in allocations),
    )


# -- deposits at the close -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepositOutcome:
    """What happens to one bidder's deposit at the close (winners' count toward payment)."""

    bidder: str
    deposit_fen: int
    applied_fen: int  # taken from escrow toward the payment
    released_fen: int  # returned to the bidder now
    balance_due_fen: int  # still to pay; a winner who does not pay forfeits ``applied_fen``


def required_deposit(terms: AuctionTerms, need_kg: int) -> int:
    """The deposit a bidder places before bidding: the rule applied to the most it could win."""
    base = terms.reserve_price_fen_per_t if terms.base_price_fen_per_t is None else terms.base_price_fen_per_t
    return deposit_for(terms.deposit_rule, min(need_kg, terms.quantity_kg), base)


def settle_deposits(result: ClearingResult, deposits: Mapping[str, int]) -> tuple[DepositOutcome, ...]:
    """Losers' deposits are released whole; a winner's counts toward its payment, any excess released.

    One outcome per bidder that placed a deposit or won, sorted by bidder.
    """
    dues = result.amounts_due_fen()
    outcomes = []
    for bidder in sorted(set(deposits) | set(dues)):
        deposit, due = deposits.get(bidder, 0), dues.get(bidder, 0)
        applied = min(deposit, due)
        outcomes.append(DepositOutcome(bidder, deposit, applied, deposit - applied, due - applied))
    return tuple(outcomes)
