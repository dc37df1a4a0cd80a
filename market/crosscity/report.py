"""The per-city report of cross-city transfer: what each city sent and received, its cap's change and
the fees it earned, from the journal's settled records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, authorize
from accounts.service import get_participant, target_for_account
from ledger.model import Lot
from ledger.service import balances
from ledger.units import instrument
from market.crosscity.model import TransferStatus

# -- the per-city report --------------------------------------------------------------------------
from market.crosscity.store import to_request
from market.crosscity.tables import CrossCityTransferRow


@dataclass(frozen=True, slots=True)
class CityReport:
    """One city's position in one right: ``cap_kg`` in force = ``reserve_kg`` + ``allocated_kg``
    (units of its lots outside the cap and reserve; ``held_kg`` of them pledged or in escrow), and
    what cross-city transfers moved: ``transferred_out_kg`` (sold, source kg), ``transferred_in_kg``
    (received, delivered kg), ``pending_out_kg`` (on hold in open requests)."""

    jurisdiction: str
    instrument: str
    cap_kg: int
    reserve_kg: int
    allocated_kg: int
    held_kg: int
    transferred_in_kg: int
    transferred_out_kg: int
    pending_out_kg: int


def city_report(
    session: Session, *, actor: Participant, jurisdiction: str, instrument_code: str
) -> CityReport:
    """The per-city report, for the city's bureau, the bureaus above it, auditors and the operator."""
    code = instrument(instrument_code, field="instrument_code").code
    bureau = get_participant(session, party=f"bureau:{jurisdiction}").party
    cap_account, reserve = account_id(bureau, "cap", code), account_id(bureau, "reserve")
    authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=cap_account))
    cap = reserve_kg = allocated = held = 0
    for b in balances(session):
        if b.instrument != code or Lot.from_key(b.lot).jurisdiction != jurisdiction:
            continue
        if b.account == cap_account:
            cap -= b.total
        elif b.account == reserve:
            reserve_kg += b.total
        else:
            allocated += b.total
            held += b.held
    return CityReport(
        jurisdiction,
        code,
        cap,
        reserve_kg,
        allocated,
        held,
        _transferred(session, code, destination=jurisdiction, statuses=(TransferStatus.SETTLED,)),
        _transferred(session, code, source=jurisdiction, statuses=(TransferStatus.SETTLED,)),
        _transferred(
            session, code, source=jurisdiction, statuses=(TransferStatus.OFFERED, TransferStatus.ACCEPTED)
        ),
    )


def _transferred(
    session: Session,
    code: str,
    *,
    statuses: Sequence[TransferStatus],
    source: str | None = None,
    destination: str | None = None,
) -> int:
    t = CrossCityTransferRow
    stmt = select(t).where(t.instrument == code, col(t.status).in_([s.value for s in statuses]))
    if source is not None:
        stmt = stmt.where(t.source == source)
    if destination is not None:
        stmt = stmt.where(t.destination == destination)
    requests = [to_request(r) for r in session.exec(stmt)]
    return sum(r.delivered_kg if destination is not None else r.quantity_kg for r in requests)
