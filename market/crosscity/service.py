"""Cross-city transfer of discharge rights (排污权跨地市交易) around a project-demand list (项目需求库),
as in the Zhoushan–Ningbo mechanism: a buyer posts a need, a seller offers, both cities' bureaus approve.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, denied, target_of
from accounts.service import SessionDirectory, get_participant, submit_as, target_for_account
from ledger.errors import ExpiredUnits, InvalidInput, InvalidLot
from ledger.model import REGISTRY, Lot, TxBody
from ledger.service import Instruction, Registry, lock_head_time
from ledger.timeutil import format_utc
from ledger.units import MAX_AMOUNT, check_amount
from market.consent import Consent, consent
from market.crosscity.errors import (
    DemandNotMet,
    InvalidTransferTerms,
    TransferStateConflict,
    UnknownTransferRequest,
)
from market.crosscity.settlement import close_request, open_settlement, release, sign_settlement
from market.crosscity.tables import CrossCityTransferRow
from market.proposals import service as proposals

# The package's use cases in one place (the request's steps here, the demand list in ``demands``, the
# report in ``report``), so the API and the console import one module.
__all__ = [
    "ONE_TO_ONE",
    "CityReport",
    "CorridorPolicy",
    "Demand",
    "DemandStatus",
    "TransferRequest",
    "TransferStatus",
    "TransferStep",
    "accept_transfer",
    "approve_transfer",
    "bodies_to_sign",
    "city_report",
    "expire_transfers",
    "get_transfer",
    "hold_body",
    "list_transfers",
    "offer_transfer",
    "open_demands",
    "open_transfer",
    "post_demand",
    "reject_transfer",
    "release_body",
    "settlement_body",
]

# A request's life: the seller opens it against a need (``draft``); offers it, signing the hold and
# the settlement (``offered``: its units held, controller the registry), which opens the settlement's
# proposal (``settlement``, the seller's slot signed); the buyer accepts, signing the settlement
# (``accepted``); each bureau approves by signing it, and the last approval settles in ONE record: the
# seller's units return to the source city's cap (its total quantity control shrinks), the destination
# city's cap issues the delivered units to the buyer (same validity end), the buyer pays. Rejection by a
# party, or the expiry sweep, releases the hold. The buyer and the bureaus may equally sign or reject
# from the to-do list (/v1/proposals, /console/todo): the proposal's kind keeps the request in step.
#
# Decisions:
# - The hold's controller is the registry, so a release on rejection or expiry needs no party's key
#   and no party can block it; the settlement's capture is covered by all four parties' signatures.
# - A conversion ratio never exceeds 1:1: a transfer never raises the total quantity controlled across
#   cities. The fee (basis points of the price) is paid by the buyer to the source city's bureau, as
#   compensation to the city whose cap shrinks. Both are terms of the request, covered by every
#   signature: a bureau that disagrees with them rejects the request.
# - A step on an expired request is refused and changes nothing (the caller rolls back); the expiry
#   sweep, a registry job, then marks it expired and releases the hold in its own transaction.
# - Every step takes the journal's lock before the request's row, as signing a proposal does, so two
#   steps on one request never wait on each other in opposite orders.

# -- the request's steps --------------------------------------------------------------------------
from market.crosscity.demands import open_demands, post_demand
from market.crosscity.model import (
    ONE_TO_ONE,
    OPEN_STATUSES,
    CorridorPolicy,
    Demand,
    DemandStatus,
    TransferRequest,
    TransferStatus,
    hold_body,
    release_body,
    settlement_body,
)
from market.crosscity.report import CityReport, city_report
from market.crosscity.store import (
    demand_row,
    expect_open,
    pending_kg,
    request_of,
    request_row,
    requests_of,
    save_row,
    to_demand,
    to_request,
)


def open_transfer(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    demand_id: str,
    lot: Lot,
    quantity_kg: int,
    price_fen_per_tonne: int,
    expires_at: datetime,
    policy: CorridorPolicy = ONE_TO_ONE,
) -> TransferRequest:
    """A holder (or a bureau, from its reserve) in another city opens an offer against a need: units
    of ``lot`` (the source city's), at a price within the need's ceiling, for at most what the need
    still lacks after other open offers. Nothing is held until the seller offers (signs)."""
    demand = to_demand(demand_row(session, demand_id))
    now = registry.clock()
    if lot.jurisdiction is None or lot.valid_until is None:
        raise InvalidLot("rights offered need a jurisdiction and a validity end", field="lot")
    if lot.jurisdiction == demand.jurisdiction:
        raise InvalidTransferTerms("source and destination are the same city", field="lot.jurisdiction")
    if lot.valid_until < now.date():
        raise ExpiredUnits(
            f"rights valid until {lot.valid_until} have expired",
            field="lot",
            valid_until=str(lot.valid_until),
        )
    if expires_at.tzinfo is None or not now < expires_at:
        raise InvalidTransferTerms("expires_at must be a UTC instant in the future", field="expires_at")
    for party in (f"bureau:{lot.jurisdiction}", f"bureau:{demand.jurisdiction}"):
        get_participant(session, party=party)
    from_account = account_id(actor.party, "reserve" if actor.role is Role.BUREAU else "holding")
    req = TransferRequest(
        id=f"xc-{secrets.token_hex(8)}",
        demand_id=demand.id,
        seller=actor.party,
        buyer=demand.buyer,
        from_account=from_account,
        instrument=demand.instrument,
        source=lot.jurisdiction,
        destination=demand.jurisdiction,
        valid_until=lot.valid_until,
        quantity_kg=check_amount(quantity_kg, field="quantity_kg"),
        policy=policy,
        price_fen_per_tonne=check_amount(price_fen_per_tonne, field="price_fen_per_tonne", allow_zero=True),
        expires_at=expires_at,
        status=TransferStatus.DRAFT,
    )
    authorize(actor, Action.TRANSFER_UNITS, target_of(hold_body(req), (), SessionDirectory(session)))
    _check_fits(session, demand, req, now)
    row = CrossCityTransferRow(
        id=req.id,
        demand_id=req.demand_id,
        seller=req.seller,
        buyer=req.buyer,
        from_account=from_account,
        instrument=req.instrument,
        source=req.source,
        destination=req.destination,
        valid_until=req.valid_until.isoformat(),
        quantity_kg=req.quantity_kg,
        ratio_bp=policy.ratio_bp,
        price_fen_per_tonne=req.price_fen_per_tonne,
        fee_bp=policy.fee_bp,
        expires_at=format_utc(expires_at),
        status=TransferStatus.DRAFT.value,
        created_at=format_utc(now),
    )
    save_row(session, row)
    return to_request(row)


def _check_fits(session: Session, demand: Demand, req: TransferRequest, now: datetime) -> None:
    """An offer fits the need: open and valid, within its price ceiling and what it still lacks."""
    if req.buyer == req.seller:
        raise InvalidTransferTerms("a seller cannot fill its own need", field="demand_id")
    if req.delivered_kg < 1:
        raise InvalidTransferTerms("the conversion ratio leaves nothing to deliver", field="quantity_kg")
    if req.price_fen + req.fee_fen > MAX_AMOUNT:
        raise InvalidTransferTerms("the price exceeds the ledger's range", field="price_fen_per_tonne")
    if demand.status is not DemandStatus.OPEN or demand.valid_until < now.date():
        raise DemandNotMet(f"need {demand.id} is no longer open", field="demand_id", demand=demand.id)
    if req.price_fen_per_tonne > demand.max_price_fen_per_tonne:
        raise DemandNotMet(
            f"{req.price_fen_per_tonne} fen/t is above the ceiling of {demand.max_price_fen_per_tonne}",
            field="price_fen_per_tonne",
            demand=demand.id,
        )
    lacking = demand.remaining_kg - pending_kg(session, demand.id)
    if req.delivered_kg > lacking:
        raise DemandNotMet(
            f"the need lacks {max(lacking, 0)} kg after open offers; this one delivers {req.delivered_kg}",
            field="quantity_kg",
            demand=demand.id,
            lacking_kg=max(lacking, 0),
        )


def offer_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, signed_by: Consent
) -> TransferRequest:
    """The seller offers: it signs ``hold_body`` and ``settlement_body`` (in that order), one record
    holds its units for the request, under the registry's control, and the settlement is proposed to
    the buyer and the bureaus (``settlement``), the seller's signature in its slot."""
    lock_head_time(session)
    row = request_row(session, request_id)
    now = registry.clock()
    expect_open(row, now, TransferStatus.DRAFT)
    req = to_request(row)
    hold, settle = hold_body(req), settlement_body(req)
    authorize(actor, Action.TRANSFER_UNITS, target_of(hold, (), SessionDirectory(session)))
    hold_sig, settle_sig = consent(
        session, bodies=[hold, settle], party=actor.party, signed_by=signed_by, at=now
    )
    receipt = submit_as(
        session,
        registry=registry,
        actor=actor,
        action=Action.TRANSFER_UNITS,
        instruction=Instruction(hold, (hold_sig,)),
    )
    row.hold_seq, row.status = receipt.seq, TransferStatus.OFFERED.value
    save_row(session, row)  # offered first: the proposal's body is drawn up from a held request
    open_settlement(session, actor=actor, row=row, signature=settle_sig, now=now)
    return request_of(session, row)


def accept_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, signed_by: Consent
) -> TransferRequest:
    """The buyer accepts the offer by signing ``settlement_body`` (its payment and the units it
    receives): its slot of the settlement's proposal, which marks the request accepted."""
    lock_head_time(session)
    row = request_row(session, request_id)
    now = registry.clock()
    expect_open(row, now, TransferStatus.OFFERED)
    req = to_request(row)
    authorize(
        actor, Action.TRANSFER_UNITS, target_for_account(session, account=account_id(req.buyer, "cash"))
    )
    sign_settlement(session, registry=registry, actor=actor, row=row, signed_by=signed_by, now=now)
    return request_of(session, row)


def approve_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, signed_by: Consent
) -> TransferRequest:
    """A bureau of either side approves an accepted request by signing ``settlement_body``; a bureau
    of neither side is refused (rule ``bureau_party_to_cross_city``). The LAST approval settles it in
    one record signed by seller, buyer and both bureaus, and fills the need by the delivered kg (the
    settlement proposal's last slot, ``settlement``)."""
    lock_head_time(session)
    row = request_row(session, request_id)
    now = registry.clock()
    expect_open(row, now, TransferStatus.ACCEPTED)
    req = request_of(session, row)
    body = settlement_body(req)
    authorize(actor, Action.APPROVE_CROSS_CITY, target_of(body, req.signatures, SessionDirectory(session)))
    if actor.party not in (req.source_bureau, req.destination_bureau):
        raise denied(
            actor,
            Action.APPROVE_CROSS_CITY,
            "bureau_party_to_cross_city",
            "only the two cities' bureaus approve",
        )
    if actor.party in req.signed_by:
        raise TransferStateConflict(f"{actor.party} already signed request {req.id}", request=req.id)
    sign_settlement(session, registry=registry, actor=actor, row=row, signed_by=signed_by, now=now)
    return request_of(session, row)


def reject_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, reason: str
) -> TransferRequest:
    """A party ends an open request: either bureau rejects it, the buyer declines, the seller
    withdraws. If units were held, one record (sealed by the registry, the hold's controller)
    releases them; the settlement's proposal closes with it (rejected, withdrawn or ended)."""
    lock_head_time(session)
    row = request_row(session, request_id)
    if row.status not in OPEN_STATUSES:
        raise TransferStateConflict(f"transfer request {row.id} is {row.status}", request=row.id)
    req = to_request(row)
    if actor.party in (req.source_bureau, req.destination_bureau):
        authorize(
            actor, Action.APPROVE_CROSS_CITY, target_of(settlement_body(req), (), SessionDirectory(session))
        )
    elif actor.party not in (req.seller, req.buyer):
        raise denied(
            actor, Action.TRANSFER_UNITS, "transfer_parties_only", "only a party to the request ends it"
        )
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason must be 1-500 characters", field="reason")
    close_request(session, registry=registry, actor=actor, row=row, now=registry.clock())
    row.closed_by, row.reason = actor.party, reason
    save_row(session, row)
    return request_of(session, row)


def expire_transfers(session: Session, *, registry: Registry) -> list[TransferRequest]:
    """The expiry sweep, a registry job (not a participant's request): every open request past its
    expiry is marked expired and its held units released, its proposal ended. Idempotent."""
    lock_head_time(session)
    at = registry.clock()
    now = format_utc(at)
    rows = list(
        session.exec(
            select(CrossCityTransferRow)
            .where(col(CrossCityTransferRow.status).in_([s.value for s in OPEN_STATUSES]))
            .where(CrossCityTransferRow.expires_at <= now)
            .order_by(col(CrossCityTransferRow.id))
            .with_for_update()
        )
    )
    release(session, registry, rows, TransferStatus.EXPIRED)
    for r in rows:
        r.closed_by, r.reason = REGISTRY, "expired"
        session.add(r)
        if r.proposal is not None:  # it lapses with the request, so this is a no-op unless they differ
            proposals.end(session, actor=None, proposal_id=r.proposal, now=at)
    session.flush()
    return requests_of(session, rows)


def get_transfer(session: Session, *, actor: Participant, request_id: str) -> TransferRequest:
    """A request, for its seller, buyer and the two bureaus, and whoever may read the seller's account."""
    row = session.get(CrossCityTransferRow, request_id)
    if row is None:
        raise UnknownTransferRequest(
            f"no transfer request {request_id}", request=request_id, field="request_id"
        )
    req = to_request(row)
    if actor.party not in (req.seller, req.buyer, req.source_bureau, req.destination_bureau):
        authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=req.from_account))
    return request_of(session, row)


def list_transfers(
    session: Session, *, actor: Participant, status: TransferStatus | None = None
) -> list[TransferRequest]:
    """Requests the actor may see, newest first, optionally of one status: those it is the seller,
    buyer or a bureau of, and others whose seller's account it may read (as ``get_transfer``)."""
    stmt = select(CrossCityTransferRow)
    if status is not None:
        stmt = stmt.where(CrossCityTransferRow.status == status.value)
    visible = []
    for row in session.exec(stmt.order_by(col(CrossCityTransferRow.created_at).desc())):
        req = to_request(row)
        if actor.party not in (req.seller, req.buyer, req.source_bureau, req.destination_bureau):
            try:
                authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=req.from_account))
            except PermissionDenied:
                continue
        visible.append(row)
    return requests_of(session, visible)


class TransferStep(StrEnum):
    """The steps a party signs: the seller offers, the buyer accepts, each bureau approves."""

    OFFER = "offer"  # the seller: hold_body, then settlement_body
    ACCEPT = "accept"  # the buyer: settlement_body
    APPROVE = "approve"  # each bureau: settlement_body


def bodies_to_sign(
    session: Session, *, actor: Participant, request_id: str, step: TransferStep
) -> tuple[TxBody, ...]:
    """The exact bodies ``step`` signs, in order, for a client that signs with its own key
    (self-custody); readable by whoever may read the request (``get_transfer``)."""
    req = get_transfer(session, actor=actor, request_id=request_id)
    if step is TransferStep.OFFER:
        return (hold_body(req), settlement_body(req))
    return (settlement_body(req),)
