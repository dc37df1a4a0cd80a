"""Paid-use allocation offers (有偿使用): the bureau signs one allocation body with its fee and the
offer waits; the enterprise consents with its own signature and rights and fee move in one record.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlmodel import Session, col, or_, select

from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.model import TxBody
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_date, format_utc, parse_date
from market.auctions.state import aware
from market.consent import Consent, consent, dump_signatures, load_signatures
from market.issuance.errors import NotInJurisdiction
from market.issuance.service import DEFAULT_TERM_YEARS, Allocation, allocate, allocation_draft, bureau_of
from market.issuance.tables import AllocationOfferRow
from market.trades.offers import OfferStatus

__all__ = [
    "AllocationOffer",
    "AllocationOfferNotPending",
    "UnknownAllocationOffer",
    "accept_allocation",
    "allocation_offers_of",
    "get_allocation_offer",
    "offer_allocation",
    "withdraw_allocation",
]

Purpose = Literal["initial", "major_project"]


class UnknownAllocationOffer(NotFound):
    code = "unknown_allocation_offer"


class AllocationOfferNotPending(Conflict):
    code = "allocation_offer_not_pending"


@dataclass(frozen=True, slots=True)
class AllocationOffer:
    """An offer: the allocation's terms (which with ``nonce`` fix the body both sign), its fee, state."""

    id: str
    bureau: str
    enterprise: str
    instrument: str
    valid_until: date
    quantity_kg: int
    purpose: Purpose
    project: str | None
    years: int
    price_fen_per_tonne_year: int | None  # None: the base price
    fee_fen: int
    nonce: str
    status: OfferStatus
    allocation_seq: int | None
    body: TxBody  # what both sign: the bureau did, the enterprise's consent completes it


def offer_allocation(
    session: Session,
    *,
    actor: Participant,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Purpose,
    signed_by: Consent,
    now: datetime,
    project: str | None = None,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
    nonce: str | None = None,
) -> AllocationOffer:
    """The bureau (``actor``) offers rights from its reserve for the paid-use fee and signs the body
    now; nothing moves until the enterprise consents (``accept_allocation``).

    The allocation's rules (the enterprise of this jurisdiction, its permit, a known price) are
    checked at once; the reserve, when the enterprise accepts, as rights may have gone meanwhile.
    """
    now = aware(now)
    jurisdiction = bureau_of(actor, Action.ISSUE_RIGHTS)
    body = allocation_draft(
        session,
        actor=actor,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose=purpose,
        nonce=nonce or new_nonce(),
        project=project,
        paid_use=True,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
    )
    if body.signers[0] != actor.party:
        raise NotInJurisdiction(
            f"{enterprise} is not of {actor.party}'s jurisdiction {jurisdiction}", field="enterprise"
        )
    fee = int(body.meta["paid_use"]["fee_fen"])
    if fee <= 0:
        raise InvalidInput("a free allocation needs no consent: allocate it directly", field="price")
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    row = AllocationOfferRow(
        id=secrets.token_hex(8),
        bureau=actor.party,
        enterprise=enterprise,
        instrument=body.postings[0].instrument,
        valid_until=format_date(valid_until),
        quantity_kg=quantity_kg,
        purpose=purpose,
        project=project,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
        fee_fen=fee,
        nonce=body.nonce,
        bureau_signature=dump_signatures({actor.party: sig}),
        status=OfferStatus.PENDING.value,
        created_at=format_utc(now),
    )
    session.add(row)
    session.flush()
    return _offer(session, row)


def accept_allocation(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    offer_id: str,
    signed_by: Consent,
    now: datetime,
) -> Allocation:
    """The enterprise consents to the fee: its signature joins the bureau's and the allocation is
    recorded, rights and fee in one record (``market.issuance.service.allocate``: a refusal there, such as
    the reserve no longer holding the quantity, leaves the offer pending)."""
    now = aware(now)
    lock_head_time(session)  # one acceptance at a time: an offer is taken once
    row = _row(session, actor, offer_id)
    if actor.party != row.enterprise:
        raise PermissionDenied(
            f"{actor.party} may not consent for {row.enterprise}: only the enterprise accepts its "
            "allocation (rule own_units_only)",
            rule="own_units_only",
            action=Action.ISSUE_RIGHTS.value,
            actor=actor.party,
        )
    offer = _pending(session, row)
    mine = consent(session, bodies=[offer.body], party=actor.party, signed_by=signed_by, at=now)
    stored = tuple(load_signatures(row.bureau_signature).values())
    done = allocate(
        session,
        registry=registry,
        actor=get_participant(session, party=offer.bureau),
        signed_by=Consent.given(stored + mine),
        enterprise=offer.enterprise,
        instrument=offer.instrument,
        quantity_kg=offer.quantity_kg,
        valid_until=offer.valid_until,
        purpose=offer.purpose,
        project=offer.project,
        paid_use=True,
        years=offer.years,
        price_fen_per_tonne_year=offer.price_fen_per_tonne_year,
        nonce=offer.nonce,
    )
    _close(session, row, OfferStatus.ACCEPTED, now, done.receipt.seq)
    return done


def withdraw_allocation(
    session: Session, *, actor: Participant, offer_id: str, now: datetime
) -> AllocationOffer:
    """The bureau withdraws a pending offer, or the enterprise declines it; its signature is never used."""
    row = _row(session, actor, offer_id)
    _pending(session, row)
    _close(session, row, OfferStatus.WITHDRAWN, aware(now), None)
    return _offer(session, row)


def get_allocation_offer(session: Session, *, actor: Participant, offer_id: str) -> AllocationOffer:
    """An offer, to its bureau or enterprise only (``UnknownAllocationOffer`` to anyone else)."""
    return _offer(session, _row(session, actor, offer_id))


def allocation_offers_of(
    session: Session, *, actor: Participant, status: OfferStatus | None = None
) -> list[AllocationOffer]:
    """The offers ``actor`` made (a bureau) or received (an enterprise), newest first."""
    stmt = select(AllocationOfferRow).where(
        or_(col(AllocationOfferRow.bureau) == actor.party, col(AllocationOfferRow.enterprise) == actor.party)
    )
    if status is not None:
        stmt = stmt.where(AllocationOfferRow.status == status.value)
    rows = session.exec(stmt.order_by(col(AllocationOfferRow.created_at).desc(), col(AllocationOfferRow.id)))
    return [_offer(session, r) for r in rows]


def _row(session: Session, actor: Participant, offer_id: str) -> AllocationOfferRow:
    row = session.get(AllocationOfferRow, offer_id) if isinstance(offer_id, str) else None
    if row is None or actor.party not in (row.bureau, row.enterprise):
        raise UnknownAllocationOffer(f"no allocation offer {offer_id}", field="offer_id")
    return row


def _pending(session: Session, row: AllocationOfferRow) -> AllocationOffer:
    if row.status != OfferStatus.PENDING.value:
        raise AllocationOfferNotPending(f"allocation offer {row.id} is {row.status}", offer_id=row.id)
    return _offer(session, row)


def _close(
    session: Session, row: AllocationOfferRow, status: OfferStatus, now: datetime, seq: int | None
) -> None:
    row.status, row.closed_at, row.allocation_seq = status.value, format_utc(now), seq
    session.add(row)
    session.flush()


def _offer(session: Session, row: AllocationOfferRow) -> AllocationOffer:
    purpose: Purpose = "initial" if row.purpose == "initial" else "major_project"
    valid_until = parse_date(row.valid_until)
    body = allocation_draft(  # the same terms and nonce: the same body, which the bureau signed
        session,
        actor=get_participant(session, party=row.bureau),
        enterprise=row.enterprise,
        instrument=row.instrument,
        quantity_kg=row.quantity_kg,
        valid_until=valid_until,
        purpose=purpose,
        nonce=row.nonce,
        project=row.project,
        years=row.years,
        price_fen_per_tonne_year=row.price_fen_per_tonne_year,
    )
    return AllocationOffer(
        row.id,
        row.bureau,
        row.enterprise,
        row.instrument,
        valid_until,
        row.quantity_kg,
        purpose,
        row.project,
        row.years,
        row.price_fen_per_tonne_year,
        row.fee_fen,
        row.nonce,
        OfferStatus(row.status),
        row.allocation_seq,
        body,
    )
