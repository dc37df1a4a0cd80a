"""Rows of the auction workflow: auctions, approved project needs, bids, allocations and awards.
Dumb storage: the rules live in ``model`` and ``service`` beside this module; the journal is the truth.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

__all__ = ["AuctionAllocationRow", "AuctionAwardRow", "AuctionBidRow", "AuctionRow", "ProjectNeedRow"]


def _bigint(*, primary_key: bool = False, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, primary_key=primary_key, nullable=nullable, autoincrement=False)


def _auction_fk(*, primary_key: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(String, ForeignKey("auction.auction_id"), primary_key=primary_key, nullable=False)


class AuctionRow(SQLModel, table=True):
    """An auction's terms as opened, its state and, once closed, the totals of its result.

    Times are the ledger's UTC text; ``deposit_kind`` is ``fixed`` or ``ratio``; ``status`` is
    ``open``, ``closed`` (result recorded, awards pending) or ``settled`` (every award done).
    """

    __tablename__ = "auction"
    auction_id: str = Field(primary_key=True)
    bureau: str = Field(index=True)
    instrument: str
    jurisdiction: str = Field(index=True)
    valid_until: str  # YYYY-MM-DD: the reserve lot sold
    quantity_kg: int = Field(sa_column=_bigint())
    reserve_price_fen_per_t: int = Field(sa_column=_bigint())
    design: str
    opens_at: str
    closes_at: str
    deposit_kind: str
    deposit_amount_fen: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    deposit_ratio_bp: int | None = None
    deposit_years: int | None = None
    base_price_fen_per_t: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    max_bids_per_bidder: int | None = None
    start_price_fen_per_t: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    increment_fen_per_t: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    extension_us: int = Field(sa_column=_bigint())
    payment_window_us: int = Field(sa_column=_bigint())
    hold: str
    status: str
    opened_seq: int = Field(sa_column=_bigint())
    result_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    closed_at: str | None = None  # when bidding ended (the extended close, for ascending auctions)
    payment_due: str | None = None  # winners settle before this; afterwards their deposits are forfeit
    clearing_price_fen_per_t: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    winning_share: int | None = None
    sold_kg: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    unsold_kg: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    revenue_fen: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    # A forced auction (拍卖处置) of a defaulted pledge: the pledge, and the bank whose holding sells.
    pledge: str | None = None
    seller: str | None = None


class ProjectNeedRow(SQLModel, table=True):
    """A project need (项目需求) a bureau approved; ``need_id`` is assigned on insert."""

    __tablename__ = "auction_project_need"
    need_id: int | None = Field(default=None, primary_key=True)
    enterprise: str = Field(index=True)
    bureau: str
    instrument: str
    jurisdiction: str
    approved_kg: int = Field(sa_column=_bigint())
    project: str
    approved_at: str


class AuctionBidRow(SQLModel, table=True):
    """One accepted bid; ``deposit_fen`` is the deposit (保证金) it placed under ``deposit_hold`` by the
    journal record ``deposit_seq`` (a bidder's first bid, or a top-up; otherwise 0 and None). Its price
    and quantity are the registry's to keep sealed until the result: no read shows them before."""

    __tablename__ = "auction_bid"
    auction_id: str = Field(sa_column=_auction_fk(primary_key=True))
    seq: int = Field(sa_column=_bigint(primary_key=True))
    bidder: str = Field(index=True)
    price_fen_per_t: int = Field(sa_column=_bigint())
    quantity_kg: int = Field(sa_column=_bigint())
    at: str
    deposit_fen: int = Field(sa_column=_bigint())
    deposit_hold: str | None = None
    deposit_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    # Since bids are journal records (ledger.auction_rules); None on bids placed before:
    record_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))  # the auction.bid record
    need_kg: int | None = Field(default=None, sa_column=_bigint(nullable=True))  # need reserved for it
    commitment: str | None = None  # sealed designs: what the record holds instead of the terms
    salt: str | None = None  # hex; kept by the registry for custody bidders until the result reveals it


class AuctionAllocationRow(SQLModel, table=True):
    """One allocation of the result (a winner's kilograms at one price), in priority order."""

    __tablename__ = "auction_allocation"
    auction_id: str = Field(sa_column=_auction_fk(primary_key=True))
    idx: int = Field(primary_key=True)
    bidder: str
    quantity_kg: int = Field(sa_column=_bigint())
    price_fen_per_t: int = Field(sa_column=_bigint())
    amount_fen: int = Field(sa_column=_bigint())
    bid_seqs: str  # the bids filled, comma-separated, in priority order


class AuctionAwardRow(SQLModel, table=True):
    """A winner's award: what it owes and its deposit; ``status`` pending, settled or forfeited.

    At the close its rights move from the auction's hold to the award's own hold ``hold``."""

    __tablename__ = "auction_award"
    auction_id: str = Field(sa_column=_auction_fk(primary_key=True))
    bidder: str = Field(primary_key=True)
    quantity_kg: int = Field(sa_column=_bigint())
    amount_fen: int = Field(sa_column=_bigint())
    deposit_fen: int = Field(sa_column=_bigint())
    hold: str
    status: str
    done_seq: int | None = Field(default=None, sa_column=_bigint(nullable=True))
    payment_proposal: str | None = None  # its proposal of kind auction.payment (market.auctions.payment)
