"""Rights and quotas near or past the end of their validity (有效期), per city: what the next expiry
run (``market.expiry``) will sweep, and what a holder has left to use, trade or pledge before then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import target_for_account
from ledger.model import Lot
from ledger.service import balances, find_account
from ledger.units import instrument

__all__ = ["ExpiryLine", "expiry_watch"]


@dataclass(frozen=True, slots=True)
class ExpiryLine:
    """One position whose lot ends on ``valid_until``: ``days_left`` below zero means expired (the
    run sweeps the free part; ``held_kg`` under a pledge or escrow stays until its controller acts)."""

    jurisdiction: str
    instrument: str
    valid_until: date
    account: str
    total_kg: int
    held_kg: int
    days_left: int

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def _visible(session: Session, actor: Participant, account: str, seen: dict[str, bool]) -> bool:
    """May ``actor`` read ``account`` (the permission table's object-level check), remembered per account."""
    if account not in seen:
        try:
            authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=account))
            seen[account] = True
        except PermissionDenied:
            seen[account] = False
    return seen[account]


def expiry_watch(
    session: Session, *, actor: Participant, on: date, within_days: int = 90, jurisdiction: str | None = None
) -> list[ExpiryLine]:
    """Positions of rights whose validity ends within ``within_days`` of ``on`` or has ended, that
    ``actor`` may read (a bureau: its jurisdiction's), by city, end date and account. Cap and
    retirement accounts are left out: one runs negative by design, the other is already the end."""
    horizon = on + timedelta(days=within_days)
    seen: dict[str, bool] = {}
    found = []
    for b in balances(session):
        lot = Lot.from_key(b.lot)
        if b.total <= 0 or lot.valid_until is None or lot.valid_until > horizon or lot.jurisdiction is None:
            continue
        if not instrument(b.instrument).has_validity or (jurisdiction and lot.jurisdiction != jurisdiction):
            continue
        info = find_account(session, account=b.account)
        if info is None or info.kind.may_be_negative or not info.kind.may_send:
            continue
        if _visible(session, actor, b.account, seen):
            days = (lot.valid_until - on).days  # 0: its last valid day; below 0: expired
            found.append(
                ExpiryLine(lot.jurisdiction, b.instrument, lot.valid_until, b.account, b.total, b.held, days)
            )
    return sorted(found, key=lambda x: (x.jurisdiction, x.valid_until, x.instrument, x.account))
