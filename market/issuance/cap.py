"""The cap in force (总量控制) of a jurisdiction per instrument and lot: setting it moves units from the
bureau's cap account into the reserve (政府储备); its position is cap, allocated and reserve; who sets it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, Target, authorize
from ledger.errors import InvalidInput
from ledger.model import Lot, Posting, TxBody
from ledger.service import Receipt, Registry, balances, new_nonce, submit_all
from ledger.units import check_amount, instrument
from market.consent import Consent, signed_instruction

__all__ = ["CapPosition", "bureau_of", "cap_position", "rights_instrument", "rights_lot", "set_cap"]


def rights_lot(jurisdiction: str, valid_until: date) -> Lot:
    """The lot of rights of ``jurisdiction``'s cap valid until ``valid_until``."""
    return Lot(jurisdiction=jurisdiction, valid_until=valid_until)


def bureau_of(actor: Participant, action: Action) -> str:
    """The jurisdiction of the bureau acting; any other role is refused by the permission table."""
    if actor.role is not Role.BUREAU or actor.jurisdiction is None:
        authorize(actor, action, Target())  # raises: only bureaus hold issuing actions
        raise PermissionDenied(
            f"{actor.party} may not {action.value}: only a bureau does",
            rule="action_not_granted_to_role",
            action=action.value,
            actor=actor.party,
        )
    return actor.jurisdiction


@dataclass(frozen=True, slots=True)
class CapPosition:
    """A jurisdiction's cap for one instrument and lot: ``cap_kg`` in force, ``reserve_kg`` not
    allocated (of which ``reserve_held_kg`` in auction escrow or otherwise held)."""

    jurisdiction: str
    instrument: str
    lot: Lot
    cap_kg: int
    reserve_kg: int
    reserve_held_kg: int

    @property
    def allocated_kg(self) -> int:
        return self.cap_kg - self.reserve_kg

    @property
    def available_kg(self) -> int:
        return self.reserve_kg - self.reserve_held_kg


def cap_position(session: Session, *, jurisdiction: str, instrument: str, valid_until: date) -> CapPosition:
    """The cap in force (minus the cap account's balance) and the reserve, for one lot."""
    bureau = f"bureau:{jurisdiction}"
    lot = rights_lot(jurisdiction, valid_until)
    cap = reserve = held = 0
    for b in balances(session, account=account_id(bureau, "cap", instrument)):
        if b.instrument == instrument and b.lot == lot.key():
            cap = -b.total
    for b in balances(session, account=account_id(bureau, "reserve")):
        if b.instrument == instrument and b.lot == lot.key():
            reserve, held = b.total, b.held
    return CapPosition(jurisdiction, instrument, lot, cap, reserve, held)


def rights_instrument(code: str) -> str:
    """The code of a discharge right or VOCs quota (instruments under a jurisdiction's cap)."""
    inst = instrument(code, field="instrument")
    if not inst.scoped_to_jurisdiction:
        raise InvalidInput(
            f"{inst.code} is not a discharge right or VOCs quota under a cap", field="instrument"
        )
    return inst.code


def set_cap(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    basis: str | None = None,
) -> Receipt:
    """Raise the actor bureau's cap (总量控制) by ``quantity_kg``: cap account -> reserve, one lot
    {jurisdiction, valid_until}. Only the bureau of the jurisdiction; ``basis`` cites the decision."""
    code = rights_instrument(instrument)
    check_amount(quantity_kg, field="quantity_kg")
    jurisdiction = bureau_of(actor, Action.ISSUE_RIGHTS)
    lot = rights_lot(jurisdiction, valid_until)
    meta: dict[str, Any] = {"jurisdiction": jurisdiction, "quantity_kg": quantity_kg}
    if basis is not None:
        meta["basis"] = basis
    body = TxBody(
        "cap.set",
        new_nonce(),
        (
            Posting(account_id(actor.party, "cap", code), code, lot, -quantity_kg),
            Posting(account_id(actor.party, "reserve"), code, lot, quantity_kg),
        ),
        signers=(actor.party,),
        meta=meta,
    )
    ins = signed_instruction(
        session,
        actor=actor,
        action=Action.ISSUE_RIGHTS,
        body=body,
        signed_by=signed_by,
        signers=[actor.party],
    )
    return submit_all(session, [ins], registry=registry)[0]
