"""Cross-city rows read back as values, the lookups every step shares, and the quantity still pending
against a need on the project-demand list (项目需求库)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from ledger.model import Signature
from ledger.timeutil import parse_utc
from market.crosscity.errors import (
    TransferExpired,
    TransferStateConflict,
    UnknownDemand,
    UnknownTransferRequest,
)

# -- rows -----------------------------------------------------------------------------------------
from market.crosscity.model import (
    OPEN_STATUSES,
    CorridorPolicy,
    Demand,
    DemandStatus,
    TransferRequest,
    TransferStatus,
)
from market.crosscity.tables import CrossCityTransferRow, DemandRow
from market.proposals.reads import signatures_of


def to_demand(row: DemandRow) -> Demand:
    return Demand(
        row.id,
        row.buyer,
        row.jurisdiction,
        row.instrument,
        row.quantity_kg,
        row.filled_kg,
        row.max_price_fen_per_tonne,
        date.fromisoformat(row.valid_until),
        row.project,
        DemandStatus(row.status),
    )


def to_request(row: CrossCityTransferRow, signatures: tuple[Signature, ...] = ()) -> TransferRequest:
    """The request of ``row``; ``signatures``: those its proposal holds (``request_of`` reads them)."""
    return TransferRequest(
        id=row.id,
        demand_id=row.demand_id,
        seller=row.seller,
        buyer=row.buyer,
        from_account=row.from_account,
        instrument=row.instrument,
        source=row.source,
        destination=row.destination,
        valid_until=date.fromisoformat(row.valid_until),
        quantity_kg=row.quantity_kg,
        policy=CorridorPolicy(row.ratio_bp, row.fee_bp),
        price_fen_per_tonne=row.price_fen_per_tonne,
        expires_at=parse_utc(row.expires_at),
        status=TransferStatus(row.status),
        signatures=signatures,
        settled_seq=row.settled_seq,
        closed_by=row.closed_by,
        reason=row.reason,
        proposal_id=row.proposal,
    )


def requests_of(session: Session, rows: Sequence[CrossCityTransferRow]) -> list[TransferRequest]:
    """The requests with the signatures over their settlements that their proposals hold (kept after
    a proposal closes, so a settled request still names its four signers), read in one query."""
    held = signatures_of(session, (r.proposal for r in rows if r.proposal is not None))
    return [to_request(r, () if r.proposal is None else held.get(r.proposal, ())) for r in rows]


def request_of(session: Session, row: CrossCityTransferRow) -> TransferRequest:
    (req,) = requests_of(session, [row])
    return req


def demand_row(session: Session, demand_id: str) -> DemandRow:
    row = session.get(DemandRow, demand_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise UnknownDemand(f"no demand {demand_id}", demand=demand_id, field="demand_id")
    return row


def request_row(session: Session, request_id: str) -> CrossCityTransferRow:
    """The request's row, locked for the rest of the transaction (one step at a time per request)."""
    row = session.get(CrossCityTransferRow, request_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise UnknownTransferRequest(
            f"no transfer request {request_id}", request=request_id, field="request_id"
        )
    return row


def expect_open(row: CrossCityTransferRow, now: datetime, *statuses: TransferStatus) -> None:
    if row.status not in statuses:
        wanted = " or ".join(s.value for s in statuses)
        raise TransferStateConflict(
            f"transfer request {row.id} is {row.status}; this step needs it {wanted}",
            request=row.id,
            status=row.status,
        )
    if now >= parse_utc(row.expires_at):
        raise TransferExpired(
            f"transfer request {row.id} expired at {row.expires_at}; the expiry sweep releases its hold",
            request=row.id,
            expires_at=row.expires_at,
        )


def save_row(session: Session, row: DemandRow | CrossCityTransferRow) -> None:
    session.add(row)
    session.flush()


def pending_kg(session: Session, demand_id: str) -> int:
    """Delivered kg of open requests against a need: reserved so offers never oversubscribe it."""
    rows = session.exec(
        select(CrossCityTransferRow).where(
            CrossCityTransferRow.demand_id == demand_id,
            col(CrossCityTransferRow.status).in_([s.value for s in OPEN_STATUSES]),
        )
    )
    return sum(to_request(r).delivered_kg for r in rows)
