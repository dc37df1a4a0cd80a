"""The project-demand list (项目需求库): a buyer posts a need for rights from other cities, and anyone may
read the needs still open."""

from __future__ import annotations

import secrets
from datetime import date

from sqlmodel import Session, col, select

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, authorize, denied
from accounts.service import target_for_account
from ledger.errors import InvalidInput
from ledger.service import Registry
from ledger.timeutil import format_utc
from ledger.units import check_amount, instrument
from market.crosscity.model import Demand, DemandStatus

# -- the demand list ------------------------------------------------------------------------------
from market.crosscity.store import save_row, to_demand
from market.crosscity.tables import DemandRow


def post_demand(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    instrument_code: str,
    quantity_kg: int,
    max_price_fen_per_tonne: int,
    valid_until: date,
    project: str,
) -> Demand:
    """An enterprise posts a project's need on the demand list (项目需求库): a quantity of one right
    for its own jurisdiction, a price ceiling per tonne, a date after which offers are refused."""
    authorize(actor, Action.POST_NEED, target_for_account(session, account=account_id(actor.party, "cash")))
    if actor.jurisdiction is None:  # an enterprise always has one; the table grants no one else
        raise denied(actor, Action.POST_NEED, "own_needs_only", "a need belongs to a city")
    inst = instrument(instrument_code, field="instrument_code")
    if not inst.scoped_to_jurisdiction:
        raise InvalidInput(f"{inst.code} is not a discharge right or VOCs quota", field="instrument_code")
    check_amount(quantity_kg, field="quantity_kg")
    check_amount(max_price_fen_per_tonne, field="max_price_fen_per_tonne")
    now = registry.clock()
    if valid_until < now.date():
        raise InvalidInput("valid_until is in the past", field="valid_until")
    if not isinstance(project, str) or not project.strip() or len(project) > 200:
        raise InvalidInput("project must be 1-200 characters", field="project")
    row = DemandRow(
        id=f"dm-{secrets.token_hex(8)}",
        buyer=actor.party,
        jurisdiction=actor.jurisdiction,
        instrument=inst.code,
        quantity_kg=quantity_kg,
        filled_kg=0,
        max_price_fen_per_tonne=max_price_fen_per_tonne,
        valid_until=valid_until.isoformat(),
        project=project,
        status=DemandStatus.OPEN.value,
        posted_at=format_utc(now),
    )
    save_row(session, row)
    return to_demand(row)


def open_demands(
    session: Session, *, on: date, instrument_code: str | None = None, jurisdiction: str | None = None
) -> list[Demand]:
    """The demand list as sellers see it on day ``on``: open needs still valid, oldest first.
    Public to every participant: publishing needs is what the list is for."""
    stmt = select(DemandRow).where(
        DemandRow.status == DemandStatus.OPEN.value, DemandRow.valid_until >= on.isoformat()
    )
    if instrument_code is not None:
        stmt = stmt.where(DemandRow.instrument == instrument_code)
    if jurisdiction is not None:
        stmt = stmt.where(DemandRow.jurisdiction == jurisdiction)
    return [to_demand(r) for r in session.exec(stmt.order_by(col(DemandRow.posted_at), col(DemandRow.id)))]
