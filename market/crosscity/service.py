"""Cross-city transfer of discharge rights (排污权跨地市交易) around a project-demand list (项目需求库),
as in the Zhoushan–Ningbo mechanism: a buyer posts a need, a seller offers, both cities' bureaus approve.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from sqlmodel import Session, col, select

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, target_of
from accounts.service import SessionDirectory, get_participant, submit_as, target_for_account
from ledger.errors import ExpiredUnits, InvalidInput, InvalidLot
from ledger.model import REGISTRY, HoldPlace, HoldSettle, Lot, Posting, Signature, TxBody
from ledger.service import Instruction, Registry, balances, submit_all
from ledger.timeutil import format_utc, parse_utc
from ledger.units import MAX_AMOUNT, check_amount, instrument
from market.consent import Consent, consent, dump_signatures, load_signatures
from market.crosscity.errors import (
    DemandNotMet,
    InvalidTransferTerms,
    TransferExpired,
    TransferStateConflict,
    UnknownDemand,
    UnknownTransferRequest,
)
from market.crosscity.tables import CrossCityTransferRow, DemandRow
from market.pledges.valuation import BP

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
# the settlement (``offered``: its units held, controller the registry); the buyer accepts, signing the
# settlement (``accepted``); each bureau approves by signing it, and the last approval settles in ONE
# record: the seller's units return to the source city's cap (its total quantity control shrinks), the
# destination city's cap issues the delivered units to the buyer (same validity end), the buyer pays.
# Rejection by a party, or the expiry sweep, releases the hold.
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

HOLD_REASON: Final = "crosscity"
_KG_PER_TONNE: Final = 1_000


class DemandStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"


@dataclass(frozen=True, slots=True)
class Demand:
    """A need on the project-demand list: ``quantity_kg`` of one right wanted in ``jurisdiction``."""

    id: str
    buyer: str
    jurisdiction: str
    instrument: str
    quantity_kg: int
    filled_kg: int
    max_price_fen_per_tonne: int
    valid_until: date
    project: str
    status: DemandStatus

    @property
    def remaining_kg(self) -> int:
        return self.quantity_kg - self.filled_kg


class TransferStatus(StrEnum):
    DRAFT = "draft"  # opened by the seller; nothing signed or held
    OFFERED = "offered"  # the seller signed; its units are held
    ACCEPTED = "accepted"  # the buyer signed; waiting for the bureaus
    SETTLED = "settled"  # both bureaus approved; settled in one record
    REJECTED = "rejected"  # a party refused; the hold released
    EXPIRED = "expired"  # past its expiry; the hold released by the sweep


_OPEN: Final = (TransferStatus.DRAFT, TransferStatus.OFFERED, TransferStatus.ACCEPTED)


@dataclass(frozen=True, slots=True)
class CorridorPolicy:
    """Terms between two cities: the buyer receives floor(q x ratio_bp / 10000) (at most 1:1) and
    pays ``fee_bp`` of the price on top, to the source city's bureau."""

    ratio_bp: int = BP
    fee_bp: int = 0

    def __post_init__(self) -> None:
        for name, value, low in (("ratio_bp", self.ratio_bp, 1), ("fee_bp", self.fee_bp, 0)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            if not low <= value <= BP:
                raise InvalidTransferTerms(f"{name} must be {low} to {BP}", field=f"policy.{name}")


ONE_TO_ONE: Final = CorridorPolicy()


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A cross-city transfer request; every amount derives from the stored terms."""

    id: str
    demand_id: str
    seller: str
    buyer: str
    from_account: str
    instrument: str
    source: str
    destination: str
    valid_until: date
    quantity_kg: int
    policy: CorridorPolicy
    price_fen_per_tonne: int
    expires_at: datetime
    status: TransferStatus
    signatures: tuple[Signature, ...] = ()
    settled_seq: int | None = None
    closed_by: str | None = None
    reason: str | None = None

    @property
    def delivered_kg(self) -> int:
        return self.quantity_kg * self.policy.ratio_bp // BP

    @property
    def price_fen(self) -> int:
        """The buyer pays for what it receives: delivered kg x price per tonne, rounded down."""
        return self.delivered_kg * self.price_fen_per_tonne // _KG_PER_TONNE

    @property
    def fee_fen(self) -> int:
        return self.price_fen * self.policy.fee_bp // BP

    @property
    def source_bureau(self) -> str:
        return f"bureau:{self.source}"

    @property
    def destination_bureau(self) -> str:
        return f"bureau:{self.destination}"

    @property
    def hold_id(self) -> str:
        return f"xfer.{self.id}"

    @property
    def required_signers(self) -> tuple[str, ...]:
        return tuple(sorted({self.seller, self.buyer, self.source_bureau, self.destination_bureau}))

    @property
    def signed_by(self) -> frozenset[str]:
        return frozenset(s.party for s in self.signatures)


# -- bodies: pure, so a client holding its own key can build and sign exactly what a step needs ------


def _meta(req: TransferRequest) -> dict[str, Any]:
    return {
        "request": req.id,
        "demand": req.demand_id,
        "source": req.source,
        "destination": req.destination,
        "quantity_kg": req.quantity_kg,
        "delivered_kg": req.delivered_kg,
        "ratio_bp": req.policy.ratio_bp,
        "price_fen_per_tonne": req.price_fen_per_tonne,
        "price_fen": req.price_fen,
        "fee_bp": req.policy.fee_bp,
        "fee_fen": req.fee_fen,
        "fee_to": account_id(req.source_bureau, "cash"),
        "expires_at": format_utc(req.expires_at),
    }


def hold_body(req: TransferRequest) -> TxBody:
    """The seller's units held while the request is pending, controller the registry."""
    lot = Lot(jurisdiction=req.source, valid_until=req.valid_until)
    hold = HoldPlace(
        req.hold_id, req.from_account, req.instrument, lot, req.quantity_kg, HOLD_REASON, REGISTRY
    )
    return TxBody("crosscity.hold", f"{req.id}.hold", holds=(hold,), signers=(req.seller,), meta=_meta(req))


def settlement_body(req: TransferRequest) -> TxBody:
    """The settlement, all legs in one record: seller (lot j=S) -> S's cap; B's cap -> buyer (lot j=B,
    same validity end); buyer's cash -> seller's cash, and the fee to S's bureau; capturing the hold.
    Signers: seller, buyer and both bureaus."""
    src = Lot(jurisdiction=req.source, valid_until=req.valid_until)
    dst = Lot(jurisdiction=req.destination, valid_until=req.valid_until)
    legs: dict[tuple[str, str, Lot], int] = defaultdict(int)
    legs[(req.from_account, req.instrument, src)] -= req.quantity_kg
    legs[(account_id(req.source_bureau, "cap", req.instrument), req.instrument, src)] += req.quantity_kg
    legs[(account_id(req.destination_bureau, "cap", req.instrument), req.instrument, dst)] -= req.delivered_kg
    legs[(account_id(req.buyer, "holding"), req.instrument, dst)] += req.delivered_kg
    legs[(account_id(req.buyer, "cash"), "CNY", Lot())] -= req.price_fen + req.fee_fen
    legs[(account_id(req.seller, "cash"), "CNY", Lot())] += req.price_fen
    legs[(account_id(req.source_bureau, "cash"), "CNY", Lot())] += req.fee_fen
    postings = tuple(Posting(acc, inst, lot, amount) for (acc, inst, lot), amount in legs.items() if amount)
    return TxBody(
        "crosscity.settle",
        f"{req.id}.settle",
        postings=postings,
        holds=(HoldSettle("capture", req.hold_id, req.quantity_kg),),
        signers=req.required_signers,
        meta=_meta(req),
    )


def release_body(req: TransferRequest, *, status: TransferStatus) -> TxBody:
    """The hold released on rejection or expiry; the registry, its controller, seals it alone."""
    return TxBody(
        "crosscity.release",
        f"{req.id}.release",
        holds=(HoldSettle("release", req.hold_id, req.quantity_kg),),
        meta={"request": req.id, "status": status.value},
    )


# -- rows -----------------------------------------------------------------------------------------


def _to_demand(row: DemandRow) -> Demand:
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


def _to_request(row: CrossCityTransferRow) -> TransferRequest:
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
        signatures=tuple(load_signatures(row.signatures).values()),
        settled_seq=row.settled_seq,
        closed_by=row.closed_by,
        reason=row.reason,
    )


def _demand_row(session: Session, demand_id: str) -> DemandRow:
    row = session.get(DemandRow, demand_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise UnknownDemand(f"no demand {demand_id}", demand=demand_id, field="demand_id")
    return row


def _request_row(session: Session, request_id: str) -> CrossCityTransferRow:
    """The request's row, locked for the rest of the transaction (one step at a time per request)."""
    row = session.get(CrossCityTransferRow, request_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise UnknownTransferRequest(
            f"no transfer request {request_id}", request=request_id, field="request_id"
        )
    return row


def _expect(row: CrossCityTransferRow, now: datetime, *statuses: TransferStatus) -> None:
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


def _denied(actor: Participant, action: Action, rule: str, why: str) -> PermissionDenied:
    return PermissionDenied(
        f"{actor.party} may not {action.value}: {why} (rule {rule})",
        rule=rule,
        action=action.value,
        actor=actor.party,
    )


def _save(session: Session, row: DemandRow | CrossCityTransferRow) -> None:
    session.add(row)
    session.flush()


def _pending_kg(session: Session, demand_id: str) -> int:
    """Delivered kg of open requests against a need: reserved so offers never oversubscribe it."""
    rows = session.exec(
        select(CrossCityTransferRow).where(
            CrossCityTransferRow.demand_id == demand_id,
            col(CrossCityTransferRow.status).in_([s.value for s in _OPEN]),
        )
    )
    return sum(_to_request(r).delivered_kg for r in rows)


# -- the demand list ------------------------------------------------------------------------------


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
        raise _denied(actor, Action.POST_NEED, "own_needs_only", "a need belongs to a city")
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
    _save(session, row)
    return _to_demand(row)


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
    return [_to_demand(r) for r in session.exec(stmt.order_by(col(DemandRow.posted_at), col(DemandRow.id)))]


# -- the request's steps --------------------------------------------------------------------------


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
    demand = _to_demand(_demand_row(session, demand_id))
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
        signatures="{}",
        created_at=format_utc(now),
    )
    _save(session, row)
    return _to_request(row)


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
    lacking = demand.remaining_kg - _pending_kg(session, demand.id)
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
    """The seller offers: it signs ``hold_body`` and ``settlement_body`` (in that order), and one
    record holds its units for the request, under the registry's control."""
    row = _request_row(session, request_id)
    now = registry.clock()
    _expect(row, now, TransferStatus.DRAFT)
    req = _to_request(row)
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
    row.signatures = dump_signatures({actor.party: settle_sig})
    _save(session, row)
    return _to_request(row)


def accept_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, signed_by: Consent
) -> TransferRequest:
    """The buyer accepts the offer by signing ``settlement_body`` (its payment and the units it receives)."""
    row = _request_row(session, request_id)
    now = registry.clock()
    _expect(row, now, TransferStatus.OFFERED)
    req = _to_request(row)
    authorize(
        actor, Action.TRANSFER_UNITS, target_for_account(session, account=account_id(req.buyer, "cash"))
    )
    (sig,) = consent(session, bodies=[settlement_body(req)], party=actor.party, signed_by=signed_by, at=now)
    row.signatures = dump_signatures({**load_signatures(row.signatures), actor.party: sig})
    row.status = TransferStatus.ACCEPTED.value
    _save(session, row)
    return _to_request(row)


def approve_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, signed_by: Consent
) -> TransferRequest:
    """A bureau of either side approves an accepted request by signing ``settlement_body``; a bureau
    of neither side is refused (rule ``bureau_party_to_cross_city``). The LAST approval settles it in
    one record signed by seller, buyer and both bureaus, and fills the need by the delivered kg."""
    row = _request_row(session, request_id)
    now = registry.clock()
    _expect(row, now, TransferStatus.ACCEPTED)
    req = _to_request(row)
    body = settlement_body(req)
    authorize(actor, Action.APPROVE_CROSS_CITY, target_of(body, req.signatures, SessionDirectory(session)))
    if actor.party not in (req.source_bureau, req.destination_bureau):
        raise _denied(
            actor,
            Action.APPROVE_CROSS_CITY,
            "bureau_party_to_cross_city",
            "only the two cities' bureaus approve",
        )
    if actor.party in req.signed_by:
        raise TransferStateConflict(f"{actor.party} already signed request {req.id}", request=req.id)
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    sigs = {**load_signatures(row.signatures), actor.party: sig}
    row.signatures = dump_signatures(sigs)
    if set(req.required_signers) <= set(sigs):
        instruction = Instruction(body, tuple(sigs[p] for p in req.required_signers))
        receipt = submit_as(
            session, registry=registry, actor=actor, action=Action.APPROVE_CROSS_CITY, instruction=instruction
        )
        row.settled_seq, row.status = receipt.seq, TransferStatus.SETTLED.value
        demand = _demand_row(session, req.demand_id)
        demand.filled_kg += req.delivered_kg
        if demand.filled_kg >= demand.quantity_kg:
            demand.status = DemandStatus.FILLED.value
        _save(session, demand)
    _save(session, row)
    return _to_request(row)


def reject_transfer(
    session: Session, *, registry: Registry, actor: Participant, request_id: str, reason: str
) -> TransferRequest:
    """A party ends an open request: either bureau rejects it, the buyer declines, the seller
    withdraws. If units were held, one record (sealed by the registry, the hold's controller)
    releases them."""
    row = _request_row(session, request_id)
    if row.status not in _OPEN:
        raise TransferStateConflict(f"transfer request {row.id} is {row.status}", request=row.id)
    req = _to_request(row)
    if actor.party in (req.source_bureau, req.destination_bureau):
        authorize(
            actor, Action.APPROVE_CROSS_CITY, target_of(settlement_body(req), (), SessionDirectory(session))
        )
    elif actor.party not in (req.seller, req.buyer):
        raise _denied(
            actor, Action.TRANSFER_UNITS, "transfer_parties_only", "only a party to the request ends it"
        )
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason must be 1-500 characters", field="reason")
    _close(session, registry, [row], TransferStatus.REJECTED)
    row.closed_by, row.reason = actor.party, reason
    _save(session, row)
    return _to_request(row)


def _close(
    session: Session, registry: Registry, rows: Sequence[CrossCityTransferRow], status: TransferStatus
) -> None:
    """Close requests, releasing the holds of those offered, all in one batch (all or none)."""
    held = [r for r in rows if r.status != TransferStatus.DRAFT.value]
    bodies = [release_body(_to_request(r), status=status) for r in held]
    receipts = submit_all(session, [Instruction(b) for b in bodies], registry=registry) if bodies else []
    for r, receipt in zip(held, receipts, strict=True):
        r.closed_seq = receipt.seq
    for r in rows:
        r.status = status.value


def expire_transfers(session: Session, *, registry: Registry) -> list[TransferRequest]:
    """The expiry sweep, a registry job (not a participant's request): every open request past its
    expiry is marked expired and its held units released. Idempotent."""
    now = format_utc(registry.clock())
    rows = list(
        session.exec(
            select(CrossCityTransferRow)
            .where(col(CrossCityTransferRow.status).in_([s.value for s in _OPEN]))
            .where(CrossCityTransferRow.expires_at <= now)
            .order_by(col(CrossCityTransferRow.id))
            .with_for_update()
        )
    )
    _close(session, registry, rows, TransferStatus.EXPIRED)
    for r in rows:
        r.closed_by, r.reason = REGISTRY, "expired"
        session.add(r)
    session.flush()
    return [_to_request(r) for r in rows]


def get_transfer(session: Session, *, actor: Participant, request_id: str) -> TransferRequest:
    """A request, for its seller, buyer and the two bureaus, and whoever may read the seller's account."""
    row = session.get(CrossCityTransferRow, request_id)
    if row is None:
        raise UnknownTransferRequest(
            f"no transfer request {request_id}", request=request_id, field="request_id"
        )
    req = _to_request(row)
    if actor.party not in (req.seller, req.buyer, req.source_bureau, req.destination_bureau):
        authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=req.from_account))
    return req


def list_transfers(
    session: Session, *, actor: Participant, status: TransferStatus | None = None
) -> list[TransferRequest]:
    """Requests the actor may see, newest first, optionally of one status: those it is the seller,
    buyer or a bureau of, and others whose seller's account it may read (as ``get_transfer``)."""
    stmt = select(CrossCityTransferRow)
    if status is not None:
        stmt = stmt.where(CrossCityTransferRow.status == status.value)
    out = []
    for row in session.exec(stmt.order_by(col(CrossCityTransferRow.created_at).desc())):
        req = _to_request(row)
        if actor.party not in (req.seller, req.buyer, req.source_bureau, req.destination_bureau):
            try:
                authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=req.from_account))
            except PermissionDenied:
                continue
        out.append(req)
    return out


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


# -- the per-city report --------------------------------------------------------------------------


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
    requests = [_to_request(r) for r in session.exec(stmt)]
    return sum(r.delivered_kg if destination is not None else r.quantity_kg for r in requests)
