"""What remains of a project need (项目需求): per enterprise, right and jurisdiction, the approved needs
less what auctions awarded (forfeited awards give it back) and what bids in open auctions reserve.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory
from market.auctions.state import AuctionStatus, AwardStatus
from market.auctions.tables import AuctionAwardRow, AuctionBidRow, AuctionRow, ProjectNeedRow

__all__ = ["NeedStanding", "need_standing"]


@dataclass(frozen=True, slots=True)
class NeedStanding:
    """One enterprise's needs for one right in one jurisdiction, and what is left of them (kg/a)."""

    enterprise: str
    instrument: str
    jurisdiction: str
    approved_kg: int
    awarded_kg: int
    reserved_kg: int

    @property
    def remaining_kg(self) -> int:
        return max(0, self.approved_kg - self.awarded_kg - self.reserved_kg)


Key = tuple[str, str]  # (instrument, jurisdiction)


def _awarded(session: Session, enterprise: str) -> dict[Key, int]:
    rows = session.exec(
        select(AuctionRow.instrument, AuctionRow.jurisdiction, func.sum(AuctionAwardRow.quantity_kg))
        .join(AuctionRow, col(AuctionRow.auction_id) == col(AuctionAwardRow.auction_id))
        .where(AuctionAwardRow.bidder == enterprise, AuctionAwardRow.status != AwardStatus.FORFEITED.value)
        .group_by(col(AuctionRow.instrument), col(AuctionRow.jurisdiction))
    )
    return {(code, where): int(kg) for code, where, kg in rows}


def _reserved(session: Session, enterprise: str) -> dict[Key, int]:
    """In each open auction, the most the enterprise's bids there could win: min(the largest need a
    bid reserved, the quantity offered), the rule ``auction_needs.reserved_elsewhere`` applies."""
    most = func.max(func.coalesce(col(AuctionBidRow.need_kg), col(AuctionBidRow.quantity_kg)))
    rows = session.exec(
        select(AuctionRow.instrument, AuctionRow.jurisdiction, AuctionRow.quantity_kg, most)
        .join(AuctionRow, col(AuctionRow.auction_id) == col(AuctionBidRow.auction_id))
        .where(AuctionBidRow.bidder == enterprise, AuctionRow.status == AuctionStatus.OPEN.value)
        .group_by(
            col(AuctionBidRow.auction_id),
            col(AuctionRow.instrument),
            col(AuctionRow.jurisdiction),
            col(AuctionRow.quantity_kg),
        )
    )
    out: dict[Key, int] = defaultdict(int)
    for code, where, offered, need in rows:
        out[(code, where)] += min(int(need), int(offered))
    return dict(out)


def need_standing(session: Session, *, actor: Participant, enterprise: str) -> list[NeedStanding]:
    """The enterprise's approved needs summed per right and jurisdiction, with what auctions awarded
    it and its open bids reserve, for itself and the bureaus over its jurisdiction (as ``needs_of``)."""
    authorize(actor, Action.READ_ACCOUNT, party_target(enterprise, SessionDirectory(session)))
    approved: dict[Key, int] = defaultdict(int)
    for row in session.exec(select(ProjectNeedRow).where(ProjectNeedRow.enterprise == enterprise)):
        approved[(row.instrument, row.jurisdiction)] += row.approved_kg
    awarded, reserved = _awarded(session, enterprise), _reserved(session, enterprise)
    return [
        NeedStanding(
            enterprise, code, where, kg, awarded.get((code, where), 0), reserved.get((code, where), 0)
        )
        for (code, where), kg in sorted(approved.items())
    ]
