"""Request and response models of project needs (项目需求), auctions (竞价), bids with deposits
(保证金), the signed result, settlements and forfeitures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from api.schemas import Day, Instant, StrictIn
from api.schemas.issuance import Signatures
from market.auctions.model import (
    AuctionDesign,
    AuctionTerms,
    DepositRule,
    FixedDeposit,
    RatioDeposit,
    RejectedBid,
)
from market.auctions.service import AcceptedBid, Auction, AuctionLive, Award, ProjectNeed

__all__ = [
    "AuctionIn",
    "AuctionOut",
    "AwardOut",
    "BidIn",
    "BidOut",
    "ForcedSaleIn",
    "NeedIn",
    "NeedOut",
    "ResultOut",
    "SettlementIn",
    "WinnerIn",
]

Kg = Annotated[int, Field(gt=0, le=10**15, description="kilograms per year")]
FenPerT = Annotated[int, Field(gt=0, le=10**13, description="price in fen per tonne(-year)")]


class NeedIn(StrictIn):
    """A bureau approves a new project's need (项目需求) for one pollutant: what it may bid for."""

    enterprise: str = Field(max_length=128)
    instrument: str = Field(max_length=16)
    approved_kg: Kg
    project: str = Field(min_length=1, max_length=200)


class NeedOut(BaseModel):
    need_id: int
    enterprise: str
    bureau: str
    instrument: str
    jurisdiction: str
    approved_kg: int
    project: str
    approved_at: datetime

    @classmethod
    def of(cls, n: ProjectNeed) -> NeedOut:
        return cls(
            need_id=n.need_id,
            enterprise=n.enterprise,
            bureau=n.bureau,
            instrument=n.instrument,
            jurisdiction=n.jurisdiction,
            approved_kg=n.approved_kg,
            project=n.project,
            approved_at=n.approved_at,
        )


class FixedDepositIn(StrictIn):
    kind: Literal["fixed"]
    amount_fen: int = Field(ge=0, le=10**13, description="the same deposit from every bidder, fen")


class RatioDepositIn(StrictIn):
    kind: Literal["ratio"]
    ratio_bp: int = Field(gt=0, le=10_000, description="share of base price x quantity x years, bp")
    years: int = Field(gt=0, le=50)


class AuctionIn(StrictIn):
    """The terms of an auction of reserve rights (竞价公告), as ``auctions.model.AuctionTerms`` takes them."""

    auction_id: str = Field(min_length=1, max_length=64)
    instrument: str = Field(max_length=16)
    jurisdiction: str = Field(max_length=6, description="the bureau's own division code")
    valid_until: Day
    quantity_kg: Kg
    reserve_price_fen_per_t: FenPerT = Field(description="底价, fen per tonne")
    design: Annotated[AuctionDesign, Strict(False)] = Field(
        description="uniform_price, pay_as_bid, online_bidding (网络竞价) or ascending"
    )
    opens_at: Instant
    closes_at: Instant
    deposit: Annotated[FixedDepositIn | RatioDepositIn, Field(discriminator="kind")]
    base_price_fen_per_t: FenPerT | None = Field(default=None, description="基准价, per tonne-year")
    max_bids_per_bidder: int | None = Field(default=10, gt=0, le=1000)
    start_price_fen_per_t: FenPerT | None = Field(default=None, description="ascending only")
    increment_fen_per_t: FenPerT | None = Field(default=None, description="ascending only")
    extension_s: int = Field(default=240, gt=0, le=86_400, description="ascending timed stage, seconds")
    payment_window_s: int = Field(default=5 * 86_400, gt=0, le=90 * 86_400)

    def terms(self) -> AuctionTerms:
        return AuctionTerms(
            auction_id=self.auction_id,
            instrument=self.instrument,
            jurisdiction=self.jurisdiction,
            quantity_kg=self.quantity_kg,
            reserve_price_fen_per_t=self.reserve_price_fen_per_t,
            design=self.design,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            deposit_rule=_deposit_rule(self.deposit),
            base_price_fen_per_t=self.base_price_fen_per_t,
            max_bids_per_bidder=self.max_bids_per_bidder,
            start_price_fen_per_t=self.start_price_fen_per_t,
            increment_fen_per_t=self.increment_fen_per_t,
            extension=timedelta(seconds=self.extension_s),
        )

    @property
    def payment_window(self) -> timedelta:
        return timedelta(seconds=self.payment_window_s)


def _deposit_rule(deposit: FixedDepositIn | RatioDepositIn) -> DepositRule:
    if isinstance(deposit, FixedDepositIn):
        return FixedDeposit(deposit.amount_fen)
    return RatioDeposit(deposit.ratio_bp, deposit.years)


class ForcedSaleIn(StrictIn):
    """A forced auction (拍卖处置) of a defaulted pledge's enforced rights, under any of the designs; the
    instrument, jurisdiction and lot are the pledge's, bidding opens when the registry records it."""

    auction_id: str = Field(min_length=1, max_length=64)
    quantity_kg: Kg = Field(description="of the enforced rights still free in the bank's holding")
    reserve_price_fen_per_t: FenPerT = Field(description="底价, fen per tonne")
    design: Annotated[AuctionDesign, Strict(False)] = Field(
        description="uniform_price, pay_as_bid, online_bidding (网络竞价) or ascending"
    )
    closes_at: Instant
    deposit: Annotated[FixedDepositIn | RatioDepositIn, Field(discriminator="kind")]
    base_price_fen_per_t: FenPerT | None = Field(default=None, description="基准价, per tonne-year")
    max_bids_per_bidder: int | None = Field(default=10, gt=0, le=1000)
    start_price_fen_per_t: FenPerT | None = Field(default=None, description="ascending only")
    increment_fen_per_t: FenPerT | None = Field(default=None, description="ascending only")
    extension_s: int = Field(default=240, gt=0, le=86_400, description="ascending timed stage, seconds")
    payment_window_s: int = Field(default=5 * 86_400, gt=0, le=90 * 86_400)
    reason: str = Field(min_length=1, max_length=500, description="why (e.g. the loan is overdue)")

    def terms(self, *, instrument: str, jurisdiction: str, opens_at: datetime) -> AuctionTerms:
        return AuctionTerms(
            auction_id=self.auction_id,
            instrument=instrument,
            jurisdiction=jurisdiction,
            quantity_kg=self.quantity_kg,
            reserve_price_fen_per_t=self.reserve_price_fen_per_t,
            design=self.design,
            opens_at=opens_at,
            closes_at=self.closes_at,
            deposit_rule=_deposit_rule(self.deposit),
            base_price_fen_per_t=self.base_price_fen_per_t,
            max_bids_per_bidder=self.max_bids_per_bidder,
            start_price_fen_per_t=self.start_price_fen_per_t,
            increment_fen_per_t=self.increment_fen_per_t,
            extension=timedelta(seconds=self.extension_s),
        )

    @property
    def payment_window(self) -> timedelta:
        return timedelta(seconds=self.payment_window_s)


class LiveOut(BaseModel):
    """What every bidder may watch: the (extended) close; in an ascending auction the standing price,
    the next acceptable one and the bid count. Sealed designs show none of those before the result."""

    closes_at: datetime
    standing_fen_per_t: int | None
    next_fen_per_t: int | None
    bids: int | None = Field(description="ascending: public; sealed: the running bureau's count only")
    bidders: int | None = Field(default=None, description="as ``bids``: how many bidders")


class AllocationOut(BaseModel):
    bidder: str
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int
    bid_seqs: list[int]


class AwardOut(BaseModel):
    bidder: str
    quantity_kg: int
    amount_fen: int
    deposit_fen: int
    balance_due_fen: int
    status: str
    done_seq: int | None
    payment_proposal: str | None = Field(
        default=None,
        description="the proposal (auction.payment) the winner signs to pay, e.g. by "
        "/v1/proposals/{id}/sign; the bureau signed it at the close (none for a forced auction: both "
        "sign at settlement)",
    )

    @classmethod
    def of(cls, a: Award) -> AwardOut:
        return cls(
            bidder=a.bidder,
            quantity_kg=a.quantity_kg,
            amount_fen=a.amount_fen,
            deposit_fen=a.deposit_fen,
            balance_due_fen=a.balance_due_fen,
            status=a.status.value,
            done_seq=a.done_seq,
            payment_proposal=a.payment_proposal,
        )


class RejectedOut(BaseModel):
    seq: int = Field(description="the bid's arrival order in the auction")
    bidder: str
    reason: str = Field(description="below reserve, over need, lost the tie, outbid (supply_exhausted), ...")


class ResultOut(BaseModel):
    """The signed result (成交公示): clearing price (uniform design), allocations and awards, and (from
    ``GET /v1/auctions/{id}/result``) every bid that won nothing with its reason."""

    auction_id: str
    closed_at: datetime
    payment_due: datetime
    clearing_price_fen_per_t: int | None
    winning_share: int | None
    sold_kg: int
    unsold_kg: int
    revenue_fen: int
    result_seq: int
    allocations: list[AllocationOut]
    awards: list[AwardOut]
    rejected: list[RejectedOut] | None = None

    @classmethod
    def of(cls, auction: Auction, rejected: Sequence[RejectedBid] | None = None) -> ResultOut | None:
        r = auction.result
        if r is None:
            return None
        return cls(
            auction_id=auction.auction_id,
            closed_at=r.closed_at,
            payment_due=r.payment_due,
            clearing_price_fen_per_t=r.clearing_price_fen_per_t,
            winning_share=r.winning_share,
            sold_kg=r.sold_kg,
            unsold_kg=r.unsold_kg,
            revenue_fen=r.revenue_fen,
            result_seq=r.result_seq,
            allocations=[
                AllocationOut(
                    bidder=a.bidder,
                    quantity_kg=a.quantity_kg,
                    price_fen_per_t=a.price_fen_per_t,
                    amount_fen=a.amount_fen,
                    bid_seqs=list(a.bid_seqs),
                )
                for a in r.allocations
            ],
            awards=[AwardOut.of(a) for a in r.awards],
            rejected=None
            if rejected is None
            else [RejectedOut(seq=x.seq, bidder=x.bidder, reason=x.reason.value) for x in rejected],
        )


class AuctionOut(BaseModel):
    auction_id: str
    bureau: str
    status: str
    instrument: str
    jurisdiction: str
    valid_until: date | None
    quantity_kg: int
    reserve_price_fen_per_t: int
    design: str
    opens_at: datetime
    closes_at: datetime
    deposit: FixedDepositIn | RatioDepositIn
    base_price_fen_per_t: int | None
    max_bids_per_bidder: int | None
    start_price_fen_per_t: int | None
    increment_fen_per_t: int | None
    extension_s: int | None
    payment_window_s: int
    opened_seq: int
    live: LiveOut | None = Field(default=None, description="while open (GET /v1/auctions/{id} only)")
    result: ResultOut | None

    @classmethod
    def of(cls, a: Auction, live: AuctionLive | None = None) -> AuctionOut:
        t, rule = a.terms, a.terms.deposit_rule
        deposit: FixedDepositIn | RatioDepositIn = (
            FixedDepositIn(kind="fixed", amount_fen=rule.amount_fen)
            if isinstance(rule, FixedDeposit)
            else RatioDepositIn(kind="ratio", ratio_bp=rule.ratio_bp, years=rule.years)
        )
        ascending = t.design is AuctionDesign.ASCENDING
        return cls(
            auction_id=a.auction_id,
            bureau=a.bureau,
            status=a.status.value,
            instrument=t.instrument,
            jurisdiction=t.jurisdiction,
            valid_until=a.lot.valid_until,
            quantity_kg=t.quantity_kg,
            reserve_price_fen_per_t=t.reserve_price_fen_per_t,
            design=t.design.value,
            opens_at=t.opens_at,
            closes_at=t.closes_at,
            deposit=deposit,
            base_price_fen_per_t=t.base_price_fen_per_t,
            max_bids_per_bidder=t.max_bids_per_bidder,
            start_price_fen_per_t=t.start_fen_per_t if ascending else None,
            increment_fen_per_t=t.increment_fen_per_t,
            extension_s=int(t.extension.total_seconds()) if ascending else None,
            payment_window_s=int(a.payment_window.total_seconds()),
            opened_seq=a.opened_seq,
            live=None
            if live is None
            else LiveOut(
                closes_at=live.closes_at,
                standing_fen_per_t=live.standing_fen_per_t,
                next_fen_per_t=live.next_fen_per_t,
                bids=live.bids,
                bidders=live.bidders,
            ),
            result=ResultOut.of(a),
        )


class BidIn(StrictIn):
    price_fen_per_t: FenPerT
    quantity_kg: Kg


class BidOut(BaseModel):
    """A bid, shown to its bidder (and to the running bureau once bids are no longer sealed)."""

    seq: int | None = Field(
        description="arrival order in the auction; a sealed bid's shows after the result (it would tell "
        "how many bids came before)"
    )
    bidder: str
    price_fen_per_t: int
    quantity_kg: int
    at: datetime
    deposit_fen: int = Field(description="deposit (保证金) this bid placed in escrow, fen")
    deposit_hold: str | None
    deposit_seq: int | None
    record_seq: int | None = Field(
        description="the auction.bid journal record (none before bids were records)"
    )
    commitment: str | None = Field(description="sealed designs: SHA-256 over the terms and a secret salt")

    @classmethod
    def of(cls, b: AcceptedBid, *, sealed: bool) -> BidOut:
        return cls(
            seq=None if sealed else b.bid.seq,
            bidder=b.bid.bidder,
            price_fen_per_t=b.bid.price_fen_per_t,
            quantity_kg=b.bid.quantity_kg,
            at=b.bid.at,
            deposit_fen=b.deposit_fen,
            deposit_hold=b.deposit_hold,
            deposit_seq=b.deposit_seq,
            record_seq=b.record_seq,
            commitment=b.commitment,
        )


class SettlementIn(StrictIn):
    """Settle one winner's award, delivery versus payment. The submitter (the bureau or the winner)
    signs with its custody key; the other party's consent is its signature over
    ``GET /v1/auctions/{id}/settlements/{bidder}/draft``."""

    bidder: str = Field(max_length=128)
    signatures: Signatures


class WinnerIn(StrictIn):
    bidder: str = Field(max_length=128)
