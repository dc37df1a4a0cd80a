"""Pledges as stored and read back: rows to values, lookups visible to the parties, the collateral check
against free units, and the clearing-price seam of the appraisal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from sqlalchemy import desc
from sqlmodel import Session, col, select

from accounts.errors import PermissionDenied
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize
from accounts.service import target_for_account
from ledger.model import Lot
from ledger.service import balances
from market.auctions.tables import AuctionRow
from market.consent import load_signatures
from market.pledges.errors import CollateralUnavailable, PledgeStateConflict, UnknownPledge

# -- valuation seam -------------------------------------------------------------------------------
from market.pledges.model import HOLDING_STATUSES, IN_PROGRESS_STATUSES, Pledge, PledgeStatus
from market.pledges.tables import PledgeRow
from market.pledges.valuation import Appraisal, LoanTerms, PriceSource

__all__ = [
    "ClearingPrices",
    "get_pledge",
    "latest_clearing_price",
    "list_pledges",
    "pledges_on",
]


class ClearingPrices(Protocol):
    """Where the latest auction clearing price per tonne comes from (a test passes a double)."""

    def __call__(self, session: Session, *, instrument: str, jurisdiction: str) -> int | None: ...


def latest_clearing_price(session: Session, *, instrument: str, jurisdiction: str) -> int | None:
    """The clearing price (fen per tonne) of the latest closed bureau auction of ``instrument`` in
    ``jurisdiction``, or None when none has cleared."""
    stmt = (
        select(AuctionRow.clearing_price_fen_per_t)
        .where(AuctionRow.instrument == instrument, AuctionRow.jurisdiction == jurisdiction)
        .where(col(AuctionRow.clearing_price_fen_per_t).is_not(None), col(AuctionRow.closed_at).is_not(None))
        .order_by(desc(col(AuctionRow.closed_at)))
        .limit(1)
    )
    return session.exec(stmt).first()


# -- rows -----------------------------------------------------------------------------------------


def to_pledge(row: PledgeRow) -> Pledge:
    loan = appraisal = None
    if row.loan_id is not None:
        assert row.loan_amount_fen is not None
        assert row.rate_bp is not None
        assert row.term_months is not None
        assert row.loan_start is not None
        loan = LoanTerms(row.loan_id, row.loan_amount_fen, row.rate_bp, row.term_months, _day(row.loan_start))
    if row.appraised_fen is not None:
        assert row.price_fen_per_tonne is not None
        assert row.price_source is not None
        assert row.max_ltv_bp is not None
        appraisal = Appraisal(
            row.instrument,
            Lot.from_key(row.lot).jurisdiction or "",
            row.approved_kg or 0,
            row.price_fen_per_tonne,
            PriceSource(row.price_source),
            row.appraised_fen,
            row.max_ltv_bp,
            row.reference_fen_per_tonne,
            None if row.reference_source is None else PriceSource(row.reference_source),
            row.bank_fen_per_tonne,
        )
    return Pledge(
        id=row.id,
        enterprise=row.enterprise,
        bank=row.bank,
        bureau=row.bureau,
        account=row.account,
        instrument=row.instrument,
        lot=Lot.from_key(row.lot),
        applied_kg=row.applied_kg,
        status=PledgeStatus(row.status),
        approved_kg=row.approved_kg,
        certificate_no=row.certificate_no,
        signatures=tuple(load_signatures(row.signatures).values()),
        loan=loan,
        appraisal=appraisal,
        held_kg=row.held_kg,
        released_kg=row.released_kg,
        enforced_kg=row.enforced_kg,
        settlements=row.settlements,
        record_seq=row.record_seq,
        claim_fen=row.claim_fen,
        closed_by=row.closed_by,
        reason=row.reason,
    )


def _day(text: str) -> date:
    return date.fromisoformat(text)


def pledge_row(session: Session, pledge_id: str) -> PledgeRow:
    """The pledge's row, locked for the rest of the transaction (one step at a time per pledge)."""
    row = session.get(PledgeRow, pledge_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise UnknownPledge(f"no pledge {pledge_id}", pledge=pledge_id, field="pledge_id")
    return row


def expect_row_status(row: PledgeRow, *statuses: PledgeStatus) -> None:
    if row.status not in statuses:
        wanted = " or ".join(s.value for s in statuses)
        raise PledgeStateConflict(
            f"pledge {row.id} is {row.status}; this step needs it {wanted}", pledge=row.id, status=row.status
        )


def save_pledge(session: Session, row: PledgeRow) -> Pledge:
    session.add(row)
    session.flush()
    return to_pledge(row)


def get_pledge(session: Session, *, actor: Participant, pledge_id: str) -> Pledge:
    """The pledge, for its enterprise, bank and bureau, and whoever may read the pledged account
    (supervising bureaus, auditors, the operator); ``UnknownPledge`` if there is none."""
    row = session.get(PledgeRow, pledge_id)
    if row is None:
        raise UnknownPledge(f"no pledge {pledge_id}", pledge=pledge_id, field="pledge_id")
    if actor.party not in (row.enterprise, row.bank, row.bureau):
        authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=row.account))
    return to_pledge(row)


def pledges_on(
    session: Session, *, account: str, instrument: str, lot: Lot, statuses: Sequence[PledgeStatus] = ()
) -> list[Pledge]:
    """Pledges on one position (account, instrument, lot), oldest first; optionally of some statuses."""
    stmt = select(PledgeRow).where(
        PledgeRow.account == account, PledgeRow.instrument == instrument, PledgeRow.lot == lot.key()
    )
    if statuses:
        stmt = stmt.where(col(PledgeRow.status).in_([s.value for s in statuses]))
    return [to_pledge(r) for r in session.exec(stmt.order_by(col(PledgeRow.applied_at), col(PledgeRow.id)))]


def list_pledges(session: Session, *, actor: Participant, status: PledgeStatus | None = None) -> list[Pledge]:
    """Pledges the actor may see, newest first, optionally of one status: those it is a party to
    (enterprise, bank, bureau), and, for supervisors, auditors and the operator, those whose pledged
    account it may read (the same rule as ``get_pledge``)."""
    stmt = select(PledgeRow)
    if status is not None:
        stmt = stmt.where(PledgeRow.status == status.value)
    mine = (
        (col(PledgeRow.enterprise) == actor.party)
        | (col(PledgeRow.bank) == actor.party)
        | (col(PledgeRow.bureau) == actor.party)
    )
    if actor.role in (Role.ENTERPRISE, Role.BANK, Role.COOPERATIVE):
        stmt = stmt.where(mine)  # they read no one else's accounts: skip the per-row checks
    out = []
    for row in session.exec(stmt.order_by(col(PledgeRow.applied_at).desc(), col(PledgeRow.id))):
        if actor.party not in (row.enterprise, row.bank, row.bureau):
            try:
                authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=row.account))
            except PermissionDenied:
                continue
        out.append(to_pledge(row))
    return out


def _free_kg(session: Session, *, account: str, instrument_code: str, lot: Lot) -> int:
    for b in balances(session, account=account):
        if b.instrument == instrument_code and b.lot == lot.key():
            return b.available
    return 0


def check_collateral(session: Session, *, pledge: Pledge, quantity_kg: int, count_in_progress: bool) -> None:
    """A bank cannot take the same units twice, nor two banks the same units: the units asked for
    must be free of holds (and, when applying, of other pledges still in progress)."""
    others = [
        p
        for p in pledges_on(
            session,
            account=pledge.account,
            instrument=pledge.instrument,
            lot=pledge.lot,
            statuses=(*HOLDING_STATUSES, *IN_PROGRESS_STATUSES),
        )
        if p.id != pledge.id
    ]
    free = _free_kg(session, account=pledge.account, instrument_code=pledge.instrument, lot=pledge.lot)
    reserved = sum(p.approved_kg or p.applied_kg for p in others if p.status in IN_PROGRESS_STATUSES)
    available = free - reserved if count_in_progress else free
    if quantity_kg > available:
        pledged_to = sorted({p.bank for p in others})
        raise CollateralUnavailable(
            f"{pledge.account} has {max(available, 0)} kg of {pledge.instrument} ({pledge.lot.key()}) free "
            f"to pledge, {quantity_kg} asked"
            + (f"; already pledged or being pledged to {', '.join(pledged_to)}" if pledged_to else ""),
            account=pledge.account,
            available_kg=max(available, 0),
            requested_kg=quantity_kg,
            pledged_to=pledged_to,
        )
