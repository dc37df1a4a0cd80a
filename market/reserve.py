"""The government reserve (政府储备): buying rights back into it (收储) against payment, delivery
versus payment in one record, and allocating reserved quota to a major project (预留指标).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant
from ledger.model import Lot, Posting, TxBody
from ledger.service import Receipt, Registry, new_nonce, submit_all
from ledger.units import check_amount
from market.issuance import (
    DEFAULT_TERM_YEARS,
    Allocation,
    Keys,
    allocate,
    authorized_instruction,
    bureau_of,
    rights_instrument,
    rights_lot,
)

__all__ = ["allocate_to_major_project", "buy_back"]


def buy_back(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    keys: Keys,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    amount_fen: int,
    basis: str | None = None,
) -> Receipt:
    """Buy rights back into the reserve (收储): enterprise holding -> bureau reserve and
    ``amount_fen`` bureau cash -> enterprise cash in ONE record that both sign, so neither leg
    happens without the other (delivery versus payment). Only the bureau of the jurisdiction;
    units under a pledge or expired cannot be sold back (the ledger refuses them)."""
    code = rights_instrument(instrument)
    check_amount(quantity_kg, field="quantity_kg")
    check_amount(amount_fen, field="amount_fen")
    jurisdiction = bureau_of(actor, Action.BUY_BACK_RESERVE)
    ent = get_participant(session, party=enterprise)
    lot = rights_lot(jurisdiction, valid_until)
    meta: dict[str, Any] = {"enterprise": ent.party, "quantity_kg": quantity_kg, "amount_fen": amount_fen}
    if basis is not None:
        meta["basis"] = basis
    body = TxBody(
        "reserve.buy_back",
        new_nonce(),
        (
            Posting(account_id(ent.party, "holding"), code, lot, -quantity_kg),
            Posting(account_id(actor.party, "reserve"), code, lot, quantity_kg),
            Posting(account_id(actor.party, "cash"), "CNY", Lot(), -amount_fen),
            Posting(account_id(ent.party, "cash"), "CNY", Lot(), amount_fen),
        ),
        signers=(actor.party, ent.party),
        meta=meta,
    )
    ins = authorized_instruction(
        session,
        actor=actor,
        action=Action.BUY_BACK_RESERVE,
        body=body,
        keys=keys,
        signers=[actor.party, ent.party],
    )
    return submit_all(session, [ins], registry=registry)[0]


def allocate_to_major_project(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    keys: Keys,
    enterprise: str,
    project: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    paid_use: bool = True,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
) -> Allocation:
    """Allocate reserved quota (预留指标) to an enterprise's major project (重大项目): reserve ->
    enterprise holding under the cap, no permit needed yet; ``project`` names it in the record.
    Same rules and fee as ``issuance.allocate``."""
    return allocate(
        session,
        registry=registry,
        actor=actor,
        keys=keys,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose="major_project",
        project=project,
        paid_use=paid_use,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
    )
