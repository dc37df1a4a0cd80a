"""The one hook of issuance into the household workflow: the attribution an issuance carries when the
journal holds a confirmed roster for its project and monitoring period (``ledger.households``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from ledger.households import attribution_meta, roster_id
from ledger.service import find_roster

__all__ = ["issuance_attribution"]


def issuance_attribution(
    session: Session, *, project: str, start: date, end: date, sink_kg_co2e: int
) -> dict[str, Any]:
    """``{"attribution": ...}`` to merge into a ``bc.issue`` record's meta, or ``{}`` when no roster of
    the project's members for exactly this period was confirmed (the ledger then requires none)."""
    roster = find_roster(session, roster=roster_id(project, start, end))
    if roster is None:
        return {}
    return {"attribution": attribution_meta(roster, sink_kg_co2e)}
