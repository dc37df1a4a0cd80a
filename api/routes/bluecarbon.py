"""Blue-carbon projects: registration, monitoring reports run through a methodology, issuance with
serials, transfer, retirement.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import ActorDep, CustodyKeyDep, PageDep, ReaderDep
from api.proposed import ACCEPTED, answer, user_of
from api.routes.transfers import vault_of
from api.schemas import ErrorOut, Page
from api.schemas.bluecarbon import (
    CreditMoveOut,
    IssuanceOut,
    IssueIn,
    MethodologyOut,
    ProjectIn,
    ProjectOut,
    ReportIn,
    ReportOut,
    RetireIn,
    SerialBlockOut,
    TransferCreditsIn,
)
from api.write import WriteDep
from market.bluecarbon.service import (
    account_serials,
    get_project,
    get_report,
    issue_credits,
    register_project,
    retire_credits,
    submit_report,
)
from market.consent import Consent
from market.foureyes.credits import transfer_credits_as
from methodologies.registry import available, get, latest

router = APIRouter(prefix="/v1", tags=["bluecarbon"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
READ_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404)}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 422)}


@router.post("/bc/projects", response_model=ProjectOut, responses=ERRORS)
def post_project(payload: ProjectIn, w: WriteDep) -> ProjectOut:
    """Register a mussel-farm project (贻贝养殖碳汇项目) owned by the caller (a cooperative or enterprise)."""
    return w.once(
        payload,
        ProjectOut,
        lambda: ProjectOut.of(register_project(w.session, actor=w.actor, spec=payload.spec())),
    )


@router.get("/bc/projects/{project}", response_model=ProjectOut, responses=READ_ERRORS)
def get_project_route(project: str, actor: ActorDep, session: ReaderDep) -> ProjectOut:
    """One project: who owns it, where the farm is, which bureau verifies it, its methodology
    (public, as registries publish their projects)."""
    return ProjectOut.of(get_project(session, project=project))


@router.post("/bc/projects/{project}/reports", response_model=ReportOut, responses=ERRORS)
def post_report(project: str, payload: ReportIn, w: WriteDep) -> ReportOut:
    """Submit monitoring data for a period (the owner only): the methodology computes the sink and
    every figure; every problem in the data is refused at once, one per field."""
    return w.once(
        payload,
        ReportOut,
        lambda: ReportOut.of(submit_report(w.session, actor=w.actor, project=project, data=payload.data)),
    )


@router.get("/bc/reports/{report}", response_model=ReportOut, responses=READ_ERRORS)
def get_report_route(report: str, actor: ActorDep, session: ReaderDep) -> ReportOut:
    """One monitoring report with the methodology's result (public, like the issuance it backs)."""
    return ReportOut.of(get_report(session, report=report))


@router.post("/bc/reports/{report}/issue", response_model=IssuanceOut, responses=ERRORS)
def post_issuance(report: str, payload: IssueIn, key: CustodyKeyDep, w: WriteDep) -> IssuanceOut:
    """Verify a report and issue its vintage batch (核证签发), the project's bureau only: the inputs
    are recomputed, whole tonnes issued with serials, the buffer share set aside."""
    return w.once(
        payload,
        IssuanceOut,
        lambda: IssuanceOut.of(
            issue_credits(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                report=report,
                buffer_bps=payload.buffer_bps,
            )
        ),
    )


@router.post("/bc/transfers", response_model=CreditMoveOut, responses={**ERRORS, **ACCEPTED})
def post_credit_transfer(payload: TransferCreditsIn, w: WriteDep) -> CreditMoveOut | JSONResponse:
    """Transfer whole tonnes of a batch from the caller's holding; its lowest serials move. A named
    user's transfer above the party's four-eyes threshold for ``bc.transfer`` is a proposal (202)."""
    return answer(
        w,
        payload,
        CreditMoveOut,
        lambda: transfer_credits_as(
            w.session,
            registry=w.registry,
            vault=vault_of(w),
            actor=w.actor,
            user=user_of(w.request),
            batch=payload.batch,
            tonnes=payload.tonnes,
            to_account=payload.to_account,
        ),
        CreditMoveOut.of,
    )


@router.post("/bc/retirements", response_model=CreditMoveOut, responses=ERRORS)
def post_retirement(payload: RetireIn, key: CustodyKeyDep, w: WriteDep) -> CreditMoveOut:
    """Retire (注销) whole tonnes for a beneficiary: the serials never move again."""
    return w.once(
        payload,
        CreditMoveOut,
        lambda: CreditMoveOut.of(
            retire_credits(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                batch=payload.batch,
                tonnes=payload.tonnes,
                beneficiary=payload.beneficiary,
                reason=payload.reason,
            )
        ),
    )


@router.get("/accounts/{account}/serials", response_model=Page[SerialBlockOut], responses=READ_ERRORS)
def get_serials(account: str, actor: ActorDep, session: ReaderDep, page: PageDep) -> Page[SerialBlockOut]:
    """The serial blocks an account holds, by batch and serial (for those who may read it)."""
    blocks = account_serials(session, actor=actor, account=account)
    return Page[SerialBlockOut].cut(blocks, page, SerialBlockOut.of)


@router.get("/methodologies", response_model=Page[MethodologyOut], responses=LIST_ERRORS)
def get_methodologies(actor: ActorDep, page: PageDep) -> Page[MethodologyOut]:
    """Every registered methodology version (碳汇计量方法), with the JSON Schema of its inputs."""
    found = [get(mid, version) for mid, version in available()]
    return Page[MethodologyOut].cut(found, page, MethodologyOut.of)


@router.get(
    "/methodologies/{methodology_id}", response_model=MethodologyOut, responses={**READ_ERRORS, **LIST_ERRORS}
)
def get_methodology(
    methodology_id: str,
    actor: ActorDep,
    version: Annotated[str | None, Query(max_length=16, description="default: the latest")] = None,
) -> MethodologyOut:
    """One methodology version: what it computes and the JSON Schema of its monitoring data."""
    found = get(methodology_id, version) if version is not None else latest(methodology_id)
    return MethodologyOut.of(found)
