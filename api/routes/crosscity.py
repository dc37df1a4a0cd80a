"""Cross-city transfers: the demand list, offers, two-bureau approval and settlement across caps.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.consent import consent_of
from api.deps import ActorDep, MaybeCustodyKeyDep, PageDep, ReaderDep, RegistryDep
from api.schemas import ErrorOut, Page
from api.schemas.crosscity import (
    CityReportOut,
    DemandIn,
    DemandOut,
    RejectIn,
    TransferIn,
    TransferOut,
    TransferStepIn,
)
from api.schemas.pledges import BodiesOut
from api.write import Write, WriteDep
from ledger.crypto import SigningKey
from market.crosscity.service import (
    TransferRequest,
    TransferStatus,
    TransferStep,
    accept_transfer,
    approve_transfer,
    bodies_to_sign,
    city_report,
    get_transfer,
    list_transfers,
    offer_transfer,
    open_demands,
    open_transfer,
    post_demand,
    reject_transfer,
)

router = APIRouter(prefix="/v1", tags=["crosscity"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
READ_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 422)}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 422)}
InstrumentQuery = Annotated[str | None, Query(max_length=16, description="only needs for this right")]
Step = Callable[..., TransferRequest]  # offer_transfer, accept_transfer, approve_transfer
JurisdictionQuery = Annotated[str | None, Query(max_length=6, description="only needs of this city")]


@router.post("/demands", response_model=DemandOut, responses=ERRORS)
def post_demand_route(payload: DemandIn, w: WriteDep) -> DemandOut:
    """An enterprise posts a project's need on the demand list (项目需求库)."""
    return w.once(
        payload,
        DemandOut,
        lambda: DemandOut.of(
            post_demand(
                w.session,
                registry=w.registry,
                actor=w.actor,
                instrument_code=payload.instrument,
                quantity_kg=payload.quantity_kg,
                max_price_fen_per_tonne=payload.max_price_fen_per_tonne,
                valid_until=payload.day(),
                project=payload.project,
            )
        ),
    )


@router.get("/demands", response_model=Page[DemandOut], responses=LIST_ERRORS)
def get_demands(
    actor: ActorDep,
    session: ReaderDep,
    registry: RegistryDep,
    page: PageDep,
    instrument: InstrumentQuery = None,
    jurisdiction: JurisdictionQuery = None,
) -> Page[DemandOut]:
    """The demand list as sellers see it today: open needs still valid, oldest first (public to
    every participant: publishing needs is what the list is for)."""
    found = open_demands(
        session, on=registry.clock().date(), instrument_code=instrument, jurisdiction=jurisdiction
    )
    return Page[DemandOut].cut(found, page, DemandOut.of)


@router.post("/cross-city-transfers", response_model=TransferOut, responses=ERRORS)
def post_transfer(payload: TransferIn, w: WriteDep) -> TransferOut:
    """A holder (or a bureau, from its reserve) in another city opens an offer against a need."""
    return w.once(
        payload,
        TransferOut,
        lambda: TransferOut.of(
            open_transfer(
                w.session,
                registry=w.registry,
                actor=w.actor,
                demand_id=payload.demand_id,
                lot=payload.lot.rights_lot(),
                quantity_kg=payload.quantity_kg,
                price_fen_per_tonne=payload.price_fen_per_tonne,
                expires_at=payload.expiry(),
                policy=payload.policy.policy(),
            )
        ),
    )


@router.get("/cross-city-transfers", response_model=Page[TransferOut], responses=LIST_ERRORS)
def get_transfers(
    actor: ActorDep,
    session: ReaderDep,
    page: PageDep,
    status: Annotated[TransferStatus | None, Query(description="only requests in this status")] = None,
) -> Page[TransferOut]:
    """Requests the caller may see, newest first: its own, and for bureaus those of their cities."""
    found = list_transfers(session, actor=actor, status=status)
    return Page[TransferOut].cut(found, page, TransferOut.of)


@router.get("/cross-city-transfers/{request_id}", response_model=TransferOut, responses=READ_ERRORS)
def get_transfer_route(request_id: str, actor: ActorDep, session: ReaderDep) -> TransferOut:
    """One request, for its seller, buyer and both bureaus, and those who may read the seller's account."""
    return TransferOut.of(get_transfer(session, actor=actor, request_id=request_id))


@router.get("/cross-city-transfers/{request_id}/bodies", response_model=BodiesOut, responses=READ_ERRORS)
def get_transfer_bodies(
    request_id: str,
    actor: ActorDep,
    session: ReaderDep,
    step: Annotated[TransferStep, Query(description="the step to sign")],
) -> BodiesOut:
    """The exact bodies a step signs, in order, for a client signing with its own key (self-custody)."""
    bodies = bodies_to_sign(session, actor=actor, request_id=request_id, step=step)
    return BodiesOut.of(step.value, actor.party, bodies)


def _step(
    w: Write, request_id: str, payload: TransferStepIn, key: SigningKey | None, step: Step
) -> TransferOut:
    """A signed step of a request: the caller's signatures, else its custody key, consent to it."""
    return w.once(
        payload,
        TransferOut,
        lambda: TransferOut.of(
            step(
                w.session,
                registry=w.registry,
                actor=w.actor,
                request_id=request_id,
                signed_by=consent_of(payload.signatures, key, w.actor.party),
            )
        ),
    )


@router.post("/cross-city-transfers/{request_id}/offer", response_model=TransferOut, responses=ERRORS)
def post_offer(request_id: str, payload: TransferStepIn, key: MaybeCustodyKeyDep, w: WriteDep) -> TransferOut:
    """The seller offers: signs the hold and the settlement; one record holds its units."""
    return _step(w, request_id, payload, key, offer_transfer)


@router.post("/cross-city-transfers/{request_id}/accept", response_model=TransferOut, responses=ERRORS)
def post_accept(
    request_id: str, payload: TransferStepIn, key: MaybeCustodyKeyDep, w: WriteDep
) -> TransferOut:
    """The buyer accepts by signing the settlement (its payment and the units it receives)."""
    return _step(w, request_id, payload, key, accept_transfer)


@router.post("/cross-city-transfers/{request_id}/approve", response_model=TransferOut, responses=ERRORS)
def post_approve(
    request_id: str, payload: TransferStepIn, key: MaybeCustodyKeyDep, w: WriteDep
) -> TransferOut:
    """A bureau of either city approves; the second approval settles the transfer in one record."""
    return _step(w, request_id, payload, key, approve_transfer)


@router.post("/cross-city-transfers/{request_id}/reject", response_model=TransferOut, responses=ERRORS)
def post_reject(request_id: str, payload: RejectIn, w: WriteDep) -> TransferOut:
    """A party ends an open request (a bureau rejects, the buyer declines, the seller withdraws);
    held units are released."""
    return w.once(
        payload,
        TransferOut,
        lambda: TransferOut.of(
            reject_transfer(
                w.session, registry=w.registry, actor=w.actor, request_id=request_id, reason=payload.reason
            )
        ),
    )


@router.get("/cities/{jurisdiction}/report", response_model=CityReportOut, responses=READ_ERRORS)
def get_city_report(
    jurisdiction: str,
    actor: ActorDep,
    session: ReaderDep,
    instrument: Annotated[str, Query(max_length=16, description="the right reported on")] = "COD",
) -> CityReportOut:
    """A city's cap, reserve and allocations in one right, and what cross-city transfers moved."""
    return CityReportOut.of(
        city_report(session, actor=actor, jurisdiction=jurisdiction, instrument_code=instrument)
    )
