"""The auction workflow's state: its values (auction, result, awards, bids, needs), how they are
stored in ``market.auctions.tables`` and read back, and the signing and authorization every step shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar

from sqlmodel import Session, col, select

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, Target, authorize
from ledger.errors import InvalidInput
from ledger.model import Lot
from ledger.service import balances, find_hold
from ledger.timeutil import format_date, format_utc, parse_date, parse_utc
from market.auctions.errors import UnknownAuction
from market.auctions.model import (
    Allocation,
    AuctionDesign,
    AuctionTerms,
    Bid,
    DepositRule,
    FixedDeposit,
    RatioDeposit,
)
from market.auctions.tables import (
    AuctionAllocationRow,
    AuctionAwardRow,
    AuctionBidRow,
    AuctionRow,
    ProjectNeedRow,
)

__all__ = [
    "DEFAULT_PAYMENT_WINDOW",
    "AcceptedBid",
    "Auction",
    "AuctionResult",
    "AuctionStatus",
    "Award",
    "AwardStatus",
    "ProjectNeed",
    "auction_bid_list",
    "auction_row",
    "authorize_bureau",
    "aware",
    "find_auction",
    "free_units",
    "get_auction",
    "held_amount",
    "need_from_row",
]


#: Winners pay the balance within 5 days of the result (Zhejiang notices: 成交后5个工作日内缴款).
DEFAULT_PAYMENT_WINDOW: Final = timedelta(days=5)
_T = TypeVar("_T")


class AuctionStatus(StrEnum):
    OPEN = "open"  # taking bids (until the possibly extended close)
    CLOSED = "closed"  # result recorded; awards pending settlement
    SETTLED = "settled"  # every award settled or forfeited


class AwardStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    FORFEITED = "forfeited"


@dataclass(frozen=True, slots=True)
class ProjectNeed:
    """A project need (项目需求) a bureau approved: what ``enterprise`` may buy of one right at auction."""

    need_id: int
    enterprise: str
    bureau: str
    instrument: str
    jurisdiction: str
    approved_kg: int
    project: str
    approved_at: datetime


@dataclass(frozen=True, slots=True)
class AcceptedBid:
    """A bid the auction took; ``deposit_fen`` is the deposit it placed (0 if none was due), under
    ``deposit_hold`` by the journal record ``deposit_seq``. Since bids are journal records:
    ``record_seq`` is its ``auction.bid`` record, ``need_kg`` the need reserved for the auction when
    it was placed, ``commitment`` and ``salt`` (hex) its seal in the sealed designs."""

    bid: Bid
    deposit_fen: int
    deposit_hold: str | None
    deposit_seq: int | None
    record_seq: int | None = None
    need_kg: int | None = None
    commitment: str | None = None
    salt: str | None = None


@dataclass(frozen=True, slots=True)
class Award:
    """What one winner won in total, what it owes, its deposit, and whether it settled; ``hold`` holds
    its rights in the reserve until it settles or forfeits."""

    bidder: str
    quantity_kg: int
    amount_fen: int
    deposit_fen: int
    hold: str
    status: AwardStatus
    done_seq: int | None
    payment_proposal: str | None = None  # the proposal (auction.payment) the winner pays by signing

    @property
    def balance_due_fen(self) -> int:
        """What the winner pays beyond its deposit (保证金 counts toward the price, 成交价)."""
        return max(0, self.amount_fen - self.deposit_fen)


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """The recorded result: ``closed_at`` ends bidding; winners settle before ``payment_due``."""

    closed_at: datetime
    payment_due: datetime
    clearing_price_fen_per_t: int | None
    winning_share: int | None
    allocations: tuple[Allocation, ...]
    sold_kg: int
    unsold_kg: int
    revenue_fen: int
    result_seq: int
    awards: tuple[Award, ...]

    def award(self, bidder: str) -> Award | None:
        return next((a for a in self.awards if a.bidder == bidder), None)


@dataclass(frozen=True, slots=True)
class Auction:
    """An auction as opened (terms, the reserve lot on hold ``hold``) and, once closed, its result."""

    terms: AuctionTerms
    bureau: str
    lot: Lot
    payment_window: timedelta
    hold: str
    status: AuctionStatus
    opened_seq: int
    result: AuctionResult | None
    pledge: str | None = None  # a forced auction (拍卖处置): the defaulted pledge whose rights it sells
    seller: str | None = None  # ... and the bank whose holding they are in

    @property
    def auction_id(self) -> str:
        return self.terms.auction_id

    @property
    def source_account(self) -> str:
        """Where the units sold are: the bureau's reserve, or a forced auction's bank holding."""
        return account_id(self.seller, "holding") if self.seller else account_id(self.bureau, "reserve")


# -- signing and authorization ---------------------------------------------------------------


def aware(moment: object, *, field: str = "now") -> datetime:
    """The workflow clock: a timezone-aware instant, never naive."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    return moment


def authorize_bureau(actor: Participant, auction: Auction) -> None:
    """Only the bureau that runs an auction acts on it, in its own jurisdiction (permission table)."""
    target = Target(owners=frozenset({auction.bureau}), jurisdictions=frozenset({auction.terms.jurisdiction}))
    authorize(actor, Action.OPEN_AUCTION, target)
    if actor.party != auction.bureau:  # one bureau per jurisdiction: a second line, never expected
        raise PermissionDenied(
            f"{actor.party} does not run auction {auction.auction_id}",
            rule="bureau_own_jurisdiction",
            action=Action.OPEN_AUCTION.value,
            actor=actor.party,
        )


# -- storage ------------------------------------------------------------------------------------


def need_from_row(row: ProjectNeedRow) -> ProjectNeed:
    return ProjectNeed(
        _req(row.need_id),
        row.enterprise,
        row.bureau,
        row.instrument,
        row.jurisdiction,
        row.approved_kg,
        row.project,
        parse_utc(row.approved_at),
    )


def free_units(session: Session, *, account: str, instrument: str, lot: Lot) -> int:
    """Units of one lot in ``account`` that no hold encumbers."""
    key = lot.key()
    return sum(
        b.available for b in balances(session, account=account) if b.instrument == instrument and b.lot == key
    )


def auction_row(
    terms: AuctionTerms, bureau: str, valid_until: date, window: timedelta, hold: str, seq: int
) -> AuctionRow:
    rule = terms.deposit_rule
    fixed = isinstance(rule, FixedDeposit)
    return AuctionRow(
        auction_id=terms.auction_id,
        bureau=bureau,
        instrument=terms.instrument,
        jurisdiction=terms.jurisdiction,
        valid_until=format_date(valid_until),
        quantity_kg=terms.quantity_kg,
        reserve_price_fen_per_t=terms.reserve_price_fen_per_t,
        design=terms.design.value,
        opens_at=format_utc(terms.opens_at),
        closes_at=format_utc(terms.closes_at),
        deposit_kind="fixed" if fixed else "ratio",
        deposit_amount_fen=rule.amount_fen if isinstance(rule, FixedDeposit) else None,
        deposit_ratio_bp=rule.ratio_bp if isinstance(rule, RatioDeposit) else None,
        deposit_years=rule.years if isinstance(rule, RatioDeposit) else None,
        base_price_fen_per_t=terms.base_price_fen_per_t,
        max_bids_per_bidder=terms.max_bids_per_bidder,
        start_price_fen_per_t=terms.start_price_fen_per_t,
        increment_fen_per_t=terms.increment_fen_per_t,
        extension_us=_micros(terms.extension),
        payment_window_us=_micros(window),
        hold=hold,
        status=AuctionStatus.OPEN.value,
        opened_seq=seq,
    )


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def auction_bid_list(session: Session, auction_id: str, *, bidder: str | None = None) -> list[AcceptedBid]:
    """Every accepted bid of an auction (or of one ``bidder`` in it), in arrival order (no
    authorization: for workflows)."""
    stmt = select(AuctionBidRow).where(AuctionBidRow.auction_id == auction_id)
    if bidder is not None:  # settlement reads one winner's deposits, not the whole book each time
        stmt = stmt.where(AuctionBidRow.bidder == bidder)
    stmt = stmt.order_by(col(AuctionBidRow.seq))
    return [
        AcceptedBid(
            Bid(r.bidder, r.price_fen_per_t, r.quantity_kg, r.seq, parse_utc(r.at)),
            r.deposit_fen,
            r.deposit_hold,
            r.deposit_seq,
            r.record_seq,
            r.need_kg,
            r.commitment,
            r.salt,
        )
        for r in session.exec(stmt)
    ]


def held_amount(session: Session, hold: str) -> int:
    found = find_hold(session, hold=hold)
    return 0 if found is None else found.amount


# -- reads -----------------------------------------------------------------------------------------


def find_auction(session: Session, *, auction_id: str) -> Auction | None:
    """An auction with its result, or None. Terms and results are public (竞价公告, 成交公示)."""
    row = session.get(AuctionRow, auction_id)
    return None if row is None else _auction(session, row)


def get_auction(session: Session, *, auction_id: str) -> Auction:
    """The auction ``auction_id``, or ``UnknownAuction``."""
    found = find_auction(session, auction_id=auction_id)
    if found is None:
        raise UnknownAuction(f"no auction {auction_id}", auction_id=auction_id, field="auction_id")
    return found


def _auction(session: Session, row: AuctionRow) -> Auction:
    rule: DepositRule
    if row.deposit_kind == "fixed":
        rule = FixedDeposit(_req(row.deposit_amount_fen))
    else:
        rule = RatioDeposit(_req(row.deposit_ratio_bp), _req(row.deposit_years))
    design = AuctionDesign(row.design)
    terms = AuctionTerms(
        auction_id=row.auction_id,
        instrument=row.instrument,
        jurisdiction=row.jurisdiction,
        quantity_kg=row.quantity_kg,
        reserve_price_fen_per_t=row.reserve_price_fen_per_t,
        design=design,
        opens_at=parse_utc(row.opens_at),
        closes_at=parse_utc(row.closes_at),
        deposit_rule=rule,
        base_price_fen_per_t=row.base_price_fen_per_t,
        max_bids_per_bidder=row.max_bids_per_bidder,
        start_price_fen_per_t=row.start_price_fen_per_t,
        increment_fen_per_t=row.increment_fen_per_t,
        extension=timedelta(microseconds=row.extension_us),
    )
    lot = Lot(jurisdiction=row.jurisdiction, valid_until=parse_date(row.valid_until))
    return Auction(
        terms,
        row.bureau,
        lot,
        timedelta(microseconds=row.payment_window_us),
        row.hold,
        AuctionStatus(row.status),
        row.opened_seq,
        _result(session, row),
        row.pledge,
        row.seller,
    )


def _result(session: Session, row: AuctionRow) -> AuctionResult | None:
    if row.result_seq is None:
        return None
    allocations = session.exec(
        select(AuctionAllocationRow)
        .where(AuctionAllocationRow.auction_id == row.auction_id)
        .order_by(col(AuctionAllocationRow.idx))
    )
    awards = session.exec(
        select(AuctionAwardRow)
        .where(AuctionAwardRow.auction_id == row.auction_id)
        .order_by(col(AuctionAwardRow.bidder))
    )
    return AuctionResult(
        closed_at=parse_utc(_req(row.closed_at)),
        payment_due=parse_utc(_req(row.payment_due)),
        clearing_price_fen_per_t=row.clearing_price_fen_per_t,
        winning_share=row.winning_share,
        allocations=tuple(
            Allocation(
                a.bidder,
                a.quantity_kg,
                a.price_fen_per_t,
                a.amount_fen,
                tuple(int(s) for s in a.bid_seqs.split(",") if s),
            )
            for a in allocations
        ),
        sold_kg=_req(row.sold_kg),
        unsold_kg=_req(row.unsold_kg),
        revenue_fen=_req(row.revenue_fen),
        result_seq=row.result_seq,
        awards=tuple(
            Award(
                a.bidder,
                a.quantity_kg,
                a.amount_fen,
                a.deposit_fen,
                a.hold,
                AwardStatus(a.status),
                a.done_seq,
                a.payment_proposal,
            )
            for a in awards
        ),
    )


def _req(value: _T | None) -> _T:
    assert value is not None  # the row's other fields say this one is set
    return value
