"""The four auction designs (竞价规则) on plain bids, and the money rules: payment rounding and deposit
(保证金) formulas. Pure: the ledger re-runs them on revealed bids; ``market.auctions.model`` imports them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import islice
from operator import attrgetter
from typing import Protocol, TypeVar

from ledger.units import check_amount

__all__ = [
    "QUZHOU_DEPOSIT",
    "Allocation",
    "AuctionDesign",
    "BidLike",
    "DepositRule",
    "FixedDeposit",
    "RatioDeposit",
    "RejectReason",
    "RejectedBid",
    "allocate",
    "ascending_price_problem",
    "deposit_for",
    "fill",
    "in_priority_order",
    "payment_fen",
    "priority",
    "screen_ascending",
    "screen_sealed",
    "timed_close",
    "top_share",
    "winning_share",
]


class AuctionDesign(StrEnum):
    UNIFORM_PRICE = "uniform_price"  # sealed bid; every winner pays the clearing price (RGGI, EU ETS)
    PAY_AS_BID = "pay_as_bid"  # sealed bid; every winner pays its own bid
    ONLINE_BIDDING = "online_bidding"  # 网络竞价: one round, top 70% of bidders, each pays its own bid
    ASCENDING = "ascending"  # 宁夏 增价竞价: start price, increment, timed stage that extends on each bid


class RejectReason(StrEnum):
    """Why clearing gave a bid nothing. The first seven equal the codes of ``market.auctions.errors``."""

    NOT_ELIGIBLE = "not_eligible"
    OUTSIDE_WINDOW = "bid_outside_window"
    BELOW_RESERVE = "bid_below_reserve"
    BELOW_START_PRICE = "bid_below_start_price"
    NOT_AN_INCREMENT = "bid_not_an_increment"
    EXCEEDS_NEED = "bid_exceeds_need"
    TOO_MANY_BIDS = "too_many_bids"
    OUTSIDE_WINNING_SHARE = "outside_winning_share"  # 网络竞价: bidder not in the top 70%
    NEED_FILLED = "need_filled"  # the bidder's higher bids already met its whole need
    SUPPLY_EXHAUSTED = "supply_exhausted"  # outbid: higher bids took every kg
    LOST_THE_TIE = "lost_the_tie"  # an earlier bid at the same price took the rest, or the last place
    NOT_REVEALED = "not_revealed"  # a sealed bid whose bidder kept its salt and never revealed it


class BidLike(Protocol):
    @property
    def bidder(self) -> str: ...
    @property
    def price_fen_per_t(self) -> int: ...
    @property
    def quantity_kg(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...


# The rules, in one place (tests/unit/test_auction_*.py holds an example of each):
# - Units: quantities are int kg (of a t/a right), prices int fen per tonne. The payment for q kg
#   at p fen/t is q * p / 1000 fen, rounded half up to the fen once per allocation (a bidder's
#   kilograms at one price), never per kg; revenue is the sum of those integers. Deposits round
#   the same way. No float anywhere; Decimal stays at the API edge.
# - Priority: price descending, then arrival order (``seq``) ascending. RGGI's Auction Notices and
#   the EU Auctioning Regulation (1031/2010 art. 7(2)) break ties at the clearing price by random
#   selection; we use time priority because Zhejiang's rule is "at equal prices the earlier bid
#   wins", and it keeps clearing deterministic and replayable. The marginal bid is partly filled.
# - Each bid is one step of its bidder's demand; what a bidder wins over all its bids never
#   exceeds its approved need (项目需求, summed over its projects for this pollutant and place).
# - Uniform price: when the supply is exhausted the price is the lowest accepted bid; when it is
#   not (undersubscribed), the reserve price (底价), as in RGGI's undersubscribed auctions.
# - 网络竞价: only the top max(1, round-half-up(0.7 x bidders)) bidders, ranked by best bid, win.
# - Sealed windows are half-open: opens_at <= at < closes_at. A bidder's bids past the limit (10)
#   are refused by arrival order, whatever their price.
# - Ascending (Ningxia): bids replayed by ``seq``; a price is start + k x increment and at least one
#   increment above the standing bid; the timed stage closes ``extension`` after the quotation
#   period and each accepted bid in it moves the close to bid time + ``extension``. At the close
#   the standing bids fill down the price ladder, each at its own price: one bid for the whole lot
#   (the usual case) gives the lot to the highest bidder.

B = TypeVar("B", bound=BidLike)


@dataclass(frozen=True, slots=True)
class RejectedBid:
    """A bid that won nothing, with the rule that stopped it."""

    seq: int
    bidder: str
    reason: RejectReason


_by_seq = attrgetter("seq")
_by_bidder = attrgetter("bidder")


def priority(bid: BidLike) -> tuple[int, int]:
    """Higher price first; at equal prices the earlier bid (lower ``seq``) first: Zhejiang's rule."""
    return (-bid.price_fen_per_t, bid.seq)


def in_priority_order(bids: Iterable[B]) -> list[B]:
    """The bids sorted once by ``priority``, with the pair packed into one int key for speed.

    ``-price * 2**64 + seq`` orders exactly as ``(-price, seq)`` because ``0 <= seq < 2**64``
    (``Bid`` holds it within ``ledger.units.MAX_AMOUNT``); the sort runs about 2.5x faster than on tuples.
    """
    return sorted(bids, key=lambda bid: bid.seq - (bid.price_fen_per_t << 64))


def winning_share(bidder_count: int) -> int:
    """网络竞价: how many bidders may win: 70% of them rounded half up, at least one if any bid.

    1 -> 1, 2 -> 1 (1.4), 3 -> 2 (2.1), 5 -> 4 (3.5 rounds up), 10 -> 7.
    """
    if bidder_count <= 0:
        return 0
    return max(1, (7 * bidder_count + 5) // 10)


def ascending_price_problem(
    price_fen_per_t: int, *, start_fen_per_t: int, increment_fen_per_t: int, standing_fen_per_t: int | None
) -> RejectReason | None:
    """Ascending design: a price is the start price plus whole increments, one step above the standing bid."""
    if price_fen_per_t < start_fen_per_t:
        return RejectReason.BELOW_START_PRICE
    if (price_fen_per_t - start_fen_per_t) % increment_fen_per_t:
        return RejectReason.NOT_AN_INCREMENT
    if standing_fen_per_t is not None and price_fen_per_t < standing_fen_per_t + increment_fen_per_t:
        return RejectReason.NOT_AN_INCREMENT
    return None


def screen_sealed(
    bids: Iterable[B],
    needs_kg: Mapping[str, int],
    *,
    reserve_fen_per_t: int,
    opens_at: datetime,
    closes_at: datetime,
    max_bids: int | None,
) -> tuple[list[B], list[RejectedBid]]:
    """Sealed designs: the bids that may compete, and the others with the rule each one breaks.

    Checked in the order ``check_bid`` checks them, so a bid gets the same reason live and at
    clearing. The window is half-open: ``opens_at <= at < closes_at``.
    """
    valid: list[B] = []
    refused: list[RejectedBid] = []
    for bid in bids:
        need = needs_kg.get(bid.bidder)
        if need is None:
            reason = RejectReason.NOT_ELIGIBLE
        elif not opens_at <= bid.at < closes_at:
            reason = RejectReason.OUTSIDE_WINDOW
        elif bid.price_fen_per_t < reserve_fen_per_t:
            reason = RejectReason.BELOW_RESERVE
        elif bid.quantity_kg > need:
            reason = RejectReason.EXCEEDS_NEED
        else:
            valid.append(bid)
            continue
        refused.append(RejectedBid(bid.seq, bid.bidder, reason))
    if max_bids is not None:
        valid = _within_bid_limit(valid, max_bids, refused)
    return valid, refused


def _within_bid_limit(valid: list[B], max_bids: int, refused: list[RejectedBid]) -> list[B]:
    """A bidder's first ``max_bids`` valid bids by arrival count; later ones are refused."""
    if max(Counter(map(_by_bidder, valid)).values(), default=0) <= max_bids:
        return valid
    counts: dict[str, int] = {}
    kept: list[B] = []
    for bid in sorted(valid, key=_by_seq):  # one pass in arrival order, whatever the bidders
        n = counts.get(bid.bidder, 0)
        if n < max_bids:
            counts[bid.bidder] = n + 1
            kept.append(bid)
        else:
            refused.append(RejectedBid(bid.seq, bid.bidder, RejectReason.TOO_MANY_BIDS))
    return kept


def screen_ascending(
    bids: Iterable[B],
    needs_kg: Mapping[str, int],
    *,
    start_fen_per_t: int,
    increment_fen_per_t: int,
    opens_at: datetime,
    closes_at: datetime,
    extension: timedelta,
    max_bids: int | None,
) -> tuple[list[B], list[RejectedBid], datetime]:
    """Ascending design, bids replayed in arrival order: the valid ones, the refused, the final close.

    ``closes_at`` ends the quotation period (自由报价期); the timed stage (限时竞价) then runs for
    ``extension`` and every accepted bid arriving before the current close moves it to bid time
    plus ``extension`` (anti-sniping). A refused bid neither raises the standing price nor extends.
    """
    close = closes_at + extension
    standing: int | None = None
    counts: Counter[str] = Counter()
    valid: list[B] = []
    refused: list[RejectedBid] = []
    for bid in sorted(bids, key=_by_seq):
        need = needs_kg.get(bid.bidder)
        problem: RejectReason | None
        if need is None:
            problem = RejectReason.NOT_ELIGIBLE
        elif not opens_at <= bid.at < close:
            problem = RejectReason.OUTSIDE_WINDOW
        else:
            problem = ascending_price_problem(
                bid.price_fen_per_t,
                start_fen_per_t=start_fen_per_t,
                increment_fen_per_t=increment_fen_per_t,
                standing_fen_per_t=standing,
            )
            if problem is None and bid.quantity_kg > need:
                problem = RejectReason.EXCEEDS_NEED
            elif problem is None and max_bids is not None and counts[bid.bidder] >= max_bids:
                problem = RejectReason.TOO_MANY_BIDS
        if problem is not None:
            refused.append(RejectedBid(bid.seq, bid.bidder, problem))
            continue
        valid.append(bid)
        standing = bid.price_fen_per_t
        counts[bid.bidder] += 1
        close = max(close, bid.at + extension)
    return valid, refused, close


def timed_close(accepted: Iterable[BidLike], *, closes_at: datetime, extension: timedelta) -> datetime:
    """Ascending design: the timed stage's close after the accepted bids, replayed in arrival order."""
    close = closes_at + extension
    for bid in sorted(accepted, key=_by_seq):
        if bid.at < close:
            close = max(close, bid.at + extension)
    return close


def top_share(order: Iterable[BidLike]) -> tuple[frozenset[str], int, frozenset[str]]:
    """网络竞价: the bidders allowed to win (the top 70%, ranked by best bid), their number, and the
    bidders left out only by the tie rule (best bid equal to the last winning place's, but later).

    ``order`` is already in priority order, so a bidder's first appearance is its best bid and
    the earlier of two equal best bids ranks higher.
    """
    best: dict[str, int] = {}
    for bid in order:  # first appearances, in rank order
        best.setdefault(bid.bidder, bid.price_fen_per_t)
    quota = winning_share(len(best))
    allowed = frozenset(islice(best, quota))
    if len(best) <= quota:
        return allowed, quota, frozenset()
    last_price = best[next(islice(best, quota - 1, None))]
    tied = frozenset(b for b, p in islice(best.items(), quota, None) if p == last_price)
    return allowed, quota, tied


def fill(
    order: Iterable[B],
    supply_kg: int,
    needs_kg: Mapping[str, int],
    *,
    allowed: frozenset[str] | None = None,
    tied: frozenset[str] = frozenset(),
) -> tuple[list[B], list[int], list[RejectedBid], int]:
    """Fill bids in priority order until the supply runs out: bids filled, kg each, refusals, unsold.

    Each bid gets the least of its quantity, the supply left and its bidder's need left, so the
    marginal bid takes the remainder (a partial fill) and a later bid at the same price gets only
    what the earlier one left (``LOST_THE_TIE``): time priority, no pro-rata split. With ``allowed``
    (网络竞价's top share) the bids of other bidders get nothing, whatever the supply; those of
    ``tied`` bidders lost the share's last place to an earlier equal bid.
    """
    remaining = supply_kg
    need_left = dict(needs_kg)
    filled: list[B] = []
    filled_kg: list[int] = []
    refused: list[RejectedBid] = []
    for bid in order:
        if allowed is not None and bid.bidder not in allowed:
            out = RejectReason.LOST_THE_TIE if bid.bidder in tied else RejectReason.OUTSIDE_WINNING_SHARE
            refused.append(RejectedBid(bid.seq, bid.bidder, out))
            continue
        if remaining == 0:
            tie = filled and filled[-1].price_fen_per_t == bid.price_fen_per_t
            out = RejectReason.LOST_THE_TIE if tie else RejectReason.SUPPLY_EXHAUSTED
            refused.append(RejectedBid(bid.seq, bid.bidder, out))
            continue
        room = need_left[bid.bidder]
        if room == 0:
            refused.append(RejectedBid(bid.seq, bid.bidder, RejectReason.NEED_FILLED))
            continue
        got = min(bid.quantity_kg, remaining, room)
        filled.append(bid)
        filled_kg.append(got)
        remaining -= got
        need_left[bid.bidder] = room - got
    return filled, filled_kg, refused, remaining


# -- money and deposits (保证金) ------------------------------------------------------------------


def payment_fen(quantity_kg: int, price_fen_per_t: int) -> int:
    """What ``quantity_kg`` costs at ``price_fen_per_t``: q * p / 1000 fen, rounded half up to the fen."""
    return (quantity_kg * price_fen_per_t + 500) // 1000


@dataclass(frozen=True, slots=True)
class FixedDeposit:
    """The same deposit from every bidder (the auction being the lot)."""

    amount_fen: int

    def __post_init__(self) -> None:
        check_amount(self.amount_fen, field="amount_fen", allow_zero=True)


@dataclass(frozen=True, slots=True)
class RatioDeposit:
    """A share of the base price x quantity x years, the share in basis points (1000 = 10%)."""

    ratio_bp: int
    years: int

    def __post_init__(self) -> None:
        check_amount(self.ratio_bp, field="ratio_bp")
        check_amount(self.years, field="years")


DepositRule = FixedDeposit | RatioDeposit

# Quzhou: 10% x base price x quantity x 5 years (DESIGN.md, "Discharge-right trading in Zhejiang").
QUZHOU_DEPOSIT = RatioDeposit(ratio_bp=1000, years=5)


def deposit_for(rule: DepositRule, quantity_kg: int, base_price_fen_per_t: int) -> int:
    """The deposit in fen: the fixed amount, or ratio x base price x quantity x years, half up.

    ``base_price_fen_per_t`` is the government base price per tonne-year (基准价; Jinhua: COD
    4,000 CNY = 400,000 fen). Quzhou, 1 t of COD: 10% x 400,000 x 1 x 5 = 200,000 fen.
    """
    if isinstance(rule, FixedDeposit):
        return rule.amount_fen
    numerator = rule.ratio_bp * base_price_fen_per_t * quantity_kg * rule.years
    return (numerator + 5_000_000) // 10_000_000  # / (10,000 bp x 1,000 kg per t), half up


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one winner gets at one price; ``bid_seqs`` are the bids filled, in priority order."""

    bidder: str
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int  # payment_fen(quantity_kg, price_fen_per_t)
    bid_seqs: tuple[int, ...]


def allocate(
    filled: Sequence[BidLike], filled_kg: Sequence[int], uniform_fen_per_t: int | None
) -> tuple[Allocation, ...]:
    """One allocation per (bidder, price paid), in fill order; each rounded once.

    ``filled`` and ``filled_kg`` are ``fill``'s parallel lists. A group of one bid keeps its seq as
    a bare int until a second bid joins it: most groups are single, and fewer objects means less
    garbage-collector work on large auctions.
    """
    kg_by: dict[tuple[str, int], int] = {}
    seqs_by: dict[tuple[str, int], int | list[int]] = {}
    for bid, kg in zip(filled, filled_kg, strict=True):
        key = (bid.bidder, bid.price_fen_per_t if uniform_fen_per_t is None else uniform_fen_per_t)
        seqs = seqs_by.get(key)
        if seqs is None:
            seqs_by[key] = bid.seq
            kg_by[key] = kg
        else:
            if isinstance(seqs, int):
                seqs_by[key] = [seqs, bid.seq]
            else:
                seqs.append(bid.seq)
            kg_by[key] += kg
    return tuple(  # both dicts hold the keys in the same (insertion) order
        Allocation(
            bidder, kg, price, payment_fen(kg, price), (seqs,) if isinstance(seqs, int) else tuple(seqs)
        )
        for ((bidder, price), seqs), kg in zip(seqs_by.items(), kg_by.values(), strict=True)
    )
