"""Issuance and the government reserve: caps, initial allocation with paid-use fees, buy-back,
major-project allocation, the expiry run.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.consent import consent_of, consent_with
from api.deps import ActorDep, CustodyKeyDep, MaybeCustodyKeyDep, ReaderDep
from api.proposed import ACCEPTED, answer, user_of
from api.routes.offers import offer_routes
from api.routes.transfers import vault_of
from api.schemas import Day, ErrorOut, Page
from api.schemas.issuance import (
    AllocationDraftQuery,
    AllocationIn,
    AllocationOfferIn,
    AllocationOfferOut,
    AllocationOut,
    BodyOut,
    BuyBackDraftQuery,
    BuyBackIn,
    CapIn,
    CapPositionOut,
    ExpiryIn,
    ExpiryReportOut,
    MajorProjectIn,
    RecordOut,
)
from api.write import Write, WriteDep
from ledger.crypto import SigningKey
from market.consent import Consent
from market.expiry.service import run_expiry
from market.foureyes.allocation import allocate_as
from market.issuance.offers import DESK, offer_allocation
from market.issuance.service import allocation_draft, cap_position, set_cap
from market.reserve.service import buy_back, buy_back_draft

router = APIRouter(prefix="/v1", tags=["issuance"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}


@router.post("/caps", response_model=RecordOut, responses=ERRORS)
def post_cap(payload: CapIn, key: CustodyKeyDep, w: WriteDep) -> RecordOut:
    """A bureau raises its cap (总量控制) into its government reserve (政府储备)."""
    return w.once(
        payload,
        RecordOut,
        lambda: RecordOut.of(
            set_cap(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                **payload.arguments(),
            )
        ),
    )


@router.get("/caps/{jurisdiction}/{instrument}", response_model=CapPositionOut, responses=ERRORS)
def get_cap(
    jurisdiction: str,
    instrument: str,
    valid_until: Annotated[Day, Query(description="the lot's last valid day")],
    actor: ActorDep,
    session: ReaderDep,
) -> CapPositionOut:
    """A jurisdiction's cap, reserve and allocated quantity for one lot (public: 总量控制 is published)."""
    return CapPositionOut.of(
        cap_position(session, jurisdiction=jurisdiction, instrument=instrument, valid_until=valid_until)
    )


@router.get("/allocations/draft", response_model=BodyOut, responses=ERRORS)
def get_allocation_draft(
    query: Annotated[AllocationDraftQuery, Query()], actor: ActorDep, session: ReaderDep
) -> BodyOut:
    """The allocation body the enterprise signs to consent to its paid-use fee (self-custody clients)."""
    return BodyOut.of(
        allocation_draft(
            session,
            actor=actor,
            **query.arguments(),
        )
    )


@router.post("/allocation-offers", response_model=AllocationOfferOut, responses=ERRORS)
def post_allocation_offer(
    payload: AllocationOfferIn, key: MaybeCustodyKeyDep, w: WriteDep
) -> AllocationOfferOut:
    """A bureau offers a paid-use allocation, signed now; nothing moves until the enterprise consents."""
    return w.once(
        payload,
        AllocationOfferOut,
        lambda: AllocationOfferOut.of(
            offer_allocation(
                w.session,
                actor=w.actor,
                signed_by=consent_of(payload.signatures or None, key, w.actor.party),
                now=w.registry.clock(),
                **payload.arguments(),
            )
        ),
    )


offer_routes(
    router,
    "/allocation-offers",
    desk=DESK,
    show=AllocationOfferOut.of,
    shown=AllocationOfferOut,
    listed=Page[AllocationOfferOut],
    done=AllocationOut.of,
    done_out=AllocationOut,
)


def _allocate(
    w: Write, payload: AllocationIn | MajorProjectIn, key: SigningKey, project: str | None
) -> AllocationOut | JSONResponse:
    return answer(
        w,
        payload,
        AllocationOut,
        lambda: allocate_as(
            w.session,
            registry=w.registry,
            vault=vault_of(w),
            actor=w.actor,
            user=user_of(w.request),
            signed_by=consent_with(w.actor.party, key, payload.signatures),
            enterprise=payload.enterprise,
            instrument=payload.instrument,
            quantity_kg=payload.quantity_kg,
            valid_until=payload.valid_until,
            purpose="initial" if project is None else "major_project",
            project=project,
            paid_use=payload.paid_use,
            years=payload.years,
            price_fen_per_tonne_year=payload.price_fen_per_tonne_year,
            nonce=payload.nonce,
        ),
        AllocationOut.of,
    )


@router.post("/allocations", response_model=AllocationOut, responses={**ERRORS, **ACCEPTED})
def post_allocation(payload: AllocationIn, key: CustodyKeyDep, w: WriteDep) -> AllocationOut | JSONResponse:
    """Initial allocation (初始排污权) from the reserve, with the paid-use fee in the same record; a
    named user's free allocation above the bureau's four-eyes threshold is a proposal (202)."""
    return _allocate(w, payload, key, None)


@router.post(
    "/reserve/major-project-allocations", response_model=AllocationOut, responses={**ERRORS, **ACCEPTED}
)
def post_major_project_allocation(
    payload: MajorProjectIn, key: CustodyKeyDep, w: WriteDep
) -> AllocationOut | JSONResponse:
    """Reserved quota (预留指标) to an enterprise's major project (重大项目); a named user's free
    allocation above the bureau's four-eyes threshold is a proposal (202)."""
    return _allocate(w, payload, key, payload.project)


@router.get("/reserve/buy-backs/draft", response_model=BodyOut, responses=ERRORS)
def get_buy_back_draft(
    query: Annotated[BuyBackDraftQuery, Query()], actor: ActorDep, session: ReaderDep
) -> BodyOut:
    """The buy-back body the enterprise signs to sell its rights into the reserve (self-custody)."""
    return BodyOut.of(
        buy_back_draft(
            session,
            actor=actor,
            **query.arguments(),
        )
    )


@router.post("/reserve/buy-backs", response_model=RecordOut, responses=ERRORS)
def post_buy_back(payload: BuyBackIn, key: CustodyKeyDep, w: WriteDep) -> RecordOut:
    """Buy rights back into the reserve (收储), delivery versus payment in one record."""
    return w.once(
        payload,
        RecordOut,
        lambda: RecordOut.of(
            buy_back(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=consent_with(w.actor.party, key, payload.signatures),
                **payload.arguments(),
            )
        ),
    )


@router.post("/expiry-runs", response_model=ExpiryReportOut, responses=ERRORS)
def post_expiry_run(payload: ExpiryIn, w: WriteDep) -> ExpiryReportOut:
    """Sweep expired rights into their bureau's retirement account (有效期届满; the operator only)."""
    return w.once(
        payload,
        ExpiryReportOut,
        lambda: ExpiryReportOut.of(
            run_expiry(w.session, registry=w.registry, today=payload.today, actor=w.actor)
        ),
    )
