"""Project needs (项目需求) at auction: what each enterprise may still bid for in one auction, its approved
needs less what the other auctions of the jurisdiction awarded it or its bids there reserve.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func
from sqlmodel import Session, col, select

from market.auctions.model import Need
from market.auctions.state import Auction, AuctionStatus, AwardStatus
from market.auctions.tables import AuctionAwardRow, AuctionBidRow, AuctionRow, ProjectNeedRow

__all__ = ["approved_needs", "need_left", "open_needs", "reserved_elsewhere"]


def open_needs(session: Session, auction: Auction) -> list[Need]:
    """Each eligible bidder's need left for this auction: approved, less what other auctions of the same
    right and jurisdiction awarded it (forfeited awards give the need back) and less what its bids in
    the others still open reserve (``reserved_elsewhere``), so no accepted bid is voided later."""
    terms = auction.terms
    approved = approved_needs(session, terms.instrument, terms.jurisdiction)
    used = reserved_elsewhere(session, auction)
    return [
        Need(bidder, terms.instrument, terms.jurisdiction, kg - used.get(bidder, 0))
        for bidder, kg in sorted(approved.items())
        if kg > used.get(bidder, 0)
    ]


def approved_needs(session: Session, instrument: str, jurisdiction: str) -> dict[str, int]:
    """Each enterprise's approved needs (项目需求) for one right in one jurisdiction, summed."""
    approved: dict[str, int] = defaultdict(int)
    rows = session.exec(
        select(ProjectNeedRow).where(
            ProjectNeedRow.instrument == instrument, ProjectNeedRow.jurisdiction == jurisdiction
        )
    )
    for row in rows:
        approved[row.enterprise] += row.approved_kg
    return approved


def reserved_elsewhere(session: Session, auction: Auction) -> dict[str, int]:
    """Per bidder, the need other auctions of the same right and jurisdiction hold: the awards of the
    closed ones (forfeited awards give it back), and in each still open the most its bids there could
    win, min(the largest need a bid reserved, the quantity offered). Reserved when a bid is accepted,
    so a later auction never takes what an earlier one's accepted bids may win."""
    terms = auction.terms
    same = (
        AuctionRow.instrument == terms.instrument,
        AuctionRow.jurisdiction == terms.jurisdiction,
        AuctionRow.auction_id != terms.auction_id,
    )
    awarded = session.exec(
        select(AuctionAwardRow.bidder, func.sum(AuctionAwardRow.quantity_kg))
        .join(AuctionRow, col(AuctionRow.auction_id) == col(AuctionAwardRow.auction_id))
        .where(*same, AuctionAwardRow.status != AwardStatus.FORFEITED.value)
        .group_by(col(AuctionAwardRow.bidder))
    )
    used: dict[str, int] = defaultdict(int)
    for bidder, kg in awarded:
        used[bidder] += int(kg)
    # Bids placed before reservations (no need_kg) reserve their own quantity, the least they may win.
    most = func.max(func.coalesce(col(AuctionBidRow.need_kg), col(AuctionBidRow.quantity_kg)))
    reserved = session.exec(
        select(AuctionBidRow.bidder, AuctionRow.quantity_kg, most)
        .join(AuctionRow, col(AuctionRow.auction_id) == col(AuctionBidRow.auction_id))
        .where(*same, AuctionRow.status == AuctionStatus.OPEN.value)
        .group_by(col(AuctionBidRow.auction_id), col(AuctionBidRow.bidder), col(AuctionRow.quantity_kg))
    )
    for bidder, offered, need in reserved:
        used[bidder] += min(int(need), int(offered))
    return dict(used)


def need_left(session: Session, auction: Auction, bidder: str) -> tuple[int, int]:
    """The bidder's approved need (项目需求) for the auction's right and jurisdiction, and what of it is
    left for this auction: less the awards of other auctions and the reservations of those still open."""
    approved = approved_needs(session, auction.terms.instrument, auction.terms.jurisdiction).get(bidder, 0)
    return approved, max(0, approved - reserved_elsewhere(session, auction).get(bidder, 0))
