"""What a registered pledge is now (released? enforced? in forced sale?), for whoever holds a certificate
of it that verified offline: the online half of the pledge certificate check (``certificate``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ledger.service import find_hold
from market.pledges.service import PledgeStatus
from market.pledges.tables import PledgeRow

__all__ = ["Standing", "standing_of"]


@dataclass(frozen=True, slots=True)
class Standing:
    """A registered pledge now: ``status`` (``active``, ``partly_released``, ``released``, ``enforced``,
    ``forced_auction``; ``unknown`` when this registry has no such registration), what is still held,
    and ``changed_seq``: the journal record that made it so (the registration while nothing changed)."""

    status: str
    pledged_kg: int = 0
    held_kg: int = 0
    released_kg: int = 0
    enforced_kg: int = 0
    changed_seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "pledged_kg": self.pledged_kg,
            "held_kg": self.held_kg,
            "released_kg": self.released_kg,
            "enforced_kg": self.enforced_kg,
            "changed_seq": self.changed_seq,
        }


def standing_of(session: Session, *, pledge_id: str, record_seq: int) -> Standing:
    """The pledge registered by record ``record_seq`` as it stands now, from the ledger's hold (what is
    still held) and the pledge's last settlement record. For whoever holds a certificate of it that
    verified under this registry's key: the certificate already shows them the pledge."""
    row = session.get(PledgeRow, pledge_id)
    if row is None or row.record_seq != record_seq or row.approved_kg is None:
        return Standing("unknown")
    hold = find_hold(session, hold=f"pledge.{pledge_id}")
    held = hold.amount if hold is not None and hold.status == "open" else 0
    if row.status == PledgeStatus.ENFORCED.value or (hold is not None and hold.status == "captured"):
        status = "enforced"
    elif held == 0:
        status = "released"
    elif row.status == PledgeStatus.FORCED_AUCTION.value:
        status = "forced_auction"
    else:
        status = "partly_released" if held < row.approved_kg else "active"
    return Standing(
        status, row.approved_kg, held, row.released_kg, row.enforced_kg, row.last_seq or row.record_seq
    )
