"""The government reserve (政府储备): buying rights back into it (收储) against payment, delivery
versus payment in one record, and allocating reserved quota to a major project (预留指标).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, get_participant
from ledger.errors import InvalidInput
from ledger.model import Lot, Posting, TxBody
from ledger.service import Receipt, Registry, new_nonce, submit_all
from ledger.units import check_amount
from market.consent import Consent, signed_instruction
from market.issuance.service import (
    DEFAULT_TERM_YEARS,
    Allocation,
    allocate,
    bureau_of,
    rights_instrument,
    rights_lot,
)

__all__ = ["allocate_to_major_project", "buy_back", "buy_back_draft"]


def buy_back(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    amount_fen: int,
    basis: str | None = None,
    nonce: str | None = None,
) -> Receipt:
    """Buy rights back into the reserve (收储): enterprise holding -> bureau reserve and
    ``amount_fen`` bureau cash -> enterprise cash in ONE record that both sign, so neither leg
    happens without the other (delivery versus payment). Only the bureau of the jurisdiction;
    units under a pledge or expired cannot be sold back (the ledger refuses them). The enterprise's
    consent may come as its own signatures over what ``buy_back_draft`` returns for the same ``nonce``."""
    jurisdiction = bureau_of(actor, Action.BUY_BACK_RESERVE)
    ent = get_participant(session, party=enterprise)
    body = _buy_back_body(
        actor.party, ent.party, jurisdiction, instrument, quantity_kg, valid_until, amount_fen, basis, nonce
    )
    ins = signed_instruction(
        session,
        actor=actor,
        action=Action.BUY_BACK_RESERVE,
        body=body,
        signed_by=signed_by,
        signers=[actor.party, ent.party],
    )
    return submit_all(session, [ins], registry=registry)[0]


def buy_back_draft(
    session: Session,
    *,
    actor: Participant,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    amount_fen: int,
    nonce: str,
    basis: str | None = None,
) -> TxBody:
    """The body ``buy_back`` by the enterprise's own bureau would record for these terms and ``nonce``,
    for the enterprise to sign; shown to the enterprise and the bureaus over it. Writes nothing."""
    authorize(actor, Action.READ_ACCOUNT, party_target(enterprise, SessionDirectory(session)))
    jurisdiction = get_participant(session, party=enterprise).jurisdiction
    if jurisdiction is None:
        raise InvalidInput(f"{enterprise} belongs to no jurisdiction", field="enterprise")
    return _buy_back_body(
        f"bureau:{jurisdiction}",
        enterprise,
        jurisdiction,
        instrument,
        quantity_kg,
        valid_until,
        amount_fen,
        basis,
        nonce,
    )


def _buy_back_body(
    bureau: str,
    enterprise: str,
    jurisdiction: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    amount_fen: int,
    basis: str | None,
    nonce: str | None,
) -> TxBody:
    code = rights_instrument(instrument)
    check_amount(quantity_kg, field="quantity_kg")
    check_amount(amount_fen, field="amount_fen")
    lot = rights_lot(jurisdiction, valid_until)
    meta: dict[str, Any] = {"enterprise": enterprise, "quantity_kg": quantity_kg, "amount_fen": amount_fen}
    if basis is not None:
        meta["basis"] = basis
    return TxBody(
        "reserve.buy_back",
        nonce or new_nonce(),
        (
            Posting(account_id(enterprise, "holding"), code, lot, -quantity_kg),
            Posting(account_id(bureau, "reserve"), code, lot, quantity_kg),
            Posting(account_id(bureau, "cash"), "CNY", Lot(), -amount_fen),
            Posting(account_id(enterprise, "cash"), "CNY", Lot(), amount_fen),
        ),
        signers=(bureau, enterprise),
        meta=meta,
    )


def allocate_to_major_project(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    enterprise: str,
    project: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    paid_use: bool = True,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
    nonce: str | None = None,
) -> Allocation:
    """Allocate reserved quota (预留指标) to an enterprise's major project (重大项目): reserve ->
    enterprise holding under the cap, no permit needed yet; ``project`` names it in the record.
    Same rules and fee as ``issuance.allocate``."""
    return allocate(
        session,
        registry=registry,
        actor=actor,
        signed_by=signed_by,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose="major_project",
        project=project,
        paid_use=paid_use,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
        nonce=nonce,
    )
