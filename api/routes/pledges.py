"""Pledges of discharge rights to banks (排污权抵质押): apply, approve, loan, confirm, release, enforce;
certificates.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from api.certificate_pdf import render_certificate_pdf
from api.consent import consent_of
from api.deps import ActorDep, CustodyKeyDep, MaybeCustodyKeyDep, PageDep, ReaderDep, RegistryDep, SessionDep
from api.schemas import ErrorOut, Page
from api.schemas.auctions import AuctionOut, ForcedSaleIn
from api.schemas.participants import raw_public_key
from api.schemas.pledges import (
    ApplyIn,
    ApproveIn,
    BodiesOut,
    CancelIn,
    CertificateCheckOut,
    CertificateFileOut,
    ConsentIn,
    ForcedAuctionIn,
    LoanIn,
    PledgeOut,
    ReleaseIn,
)
from api.write import WriteDep
from ledger.errors import InvalidInput
from market.consent import Consent
from market.pledges.certificate import PledgeCertificate, build_certificate, verify_certificate
from market.pledges.default import start_forced_auction
from market.pledges.service import (
    LoanRequest,
    PledgeStatus,
    PledgeStep,
    apply_for_pledge,
    approve_pledge,
    bodies_to_sign,
    cancel_pledge,
    confirm_pledge,
    enforce_pledge,
    get_pledge,
    list_pledges,
    record_loan,
    release_pledge,
    request_forced_auction,
)
from market.pledges.standing import standing_of

router = APIRouter(prefix="/v1", tags=["pledges"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
READ_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 422)}
CHECK_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 422)}


@router.post("/pledges", response_model=PledgeOut, responses=ERRORS)
def post_pledge(payload: ApplyIn, w: WriteDep) -> PledgeOut:
    """Step 1 (企业申请): an enterprise applies to pledge its rights of one lot to a bank."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            apply_for_pledge(
                w.session,
                registry=w.registry,
                actor=w.actor,
                bank=payload.bank,
                instrument_code=payload.instrument,
                lot=payload.lot.lot(payload.instrument),
                quantity_kg=payload.quantity_kg,
            )
        ),
    )


@router.get("/pledges", response_model=Page[PledgeOut], responses=READ_ERRORS)
def get_pledges(
    actor: ActorDep,
    session: ReaderDep,
    page: PageDep,
    status: Annotated[PledgeStatus | None, Query(description="only pledges in this status")] = None,
) -> Page[PledgeOut]:
    """Pledges the caller may see, newest first: a bank its own, an enterprise its own, a bureau its
    jurisdiction's (and below), auditors and the operator all."""
    found = list_pledges(session, actor=actor, status=status)
    return Page[PledgeOut].cut(found, page, PledgeOut.of)


@router.get("/pledges/{pledge_id}", response_model=PledgeOut, responses=READ_ERRORS)
def get_pledge_route(pledge_id: str, actor: ActorDep, session: ReaderDep) -> PledgeOut:
    """One pledge, for its parties and those who may read the pledged account."""
    return PledgeOut.of(get_pledge(session, actor=actor, pledge_id=pledge_id))


_Int = Annotated[int | None, Query(ge=-(2**53 - 1), le=2**53 - 1)]


@router.get("/pledges/{pledge_id}/bodies", response_model=BodiesOut, responses=ERRORS)
def get_pledge_bodies(
    pledge_id: str,
    actor: ActorDep,
    session: ReaderDep,
    registry: RegistryDep,
    step: Annotated[PledgeStep, Query(description="the step to sign")],
    approved_kg: Annotated[_Int, Query(description="approve: the quantity approved, kg")] = None,
    certificate_no: Annotated[str | None, Query(max_length=64, description="approve: 电子证书编号")] = None,
    quantity_kg: Annotated[_Int, Query(description="release: kg released (omitted: all)")] = None,
    loan_id: Annotated[str | None, Query(max_length=64, description="loan: the bank's loan id")] = None,
    amount_fen: Annotated[_Int, Query(description="loan: the principal in fen")] = None,
    rate_bp: Annotated[_Int, Query(description="loan: annual rate in basis points")] = None,
    term_months: Annotated[_Int, Query(description="loan: term in months")] = None,
    bank_price_fen_per_tonne: Annotated[
        _Int, Query(description="loan: the bank's own appraisal, fen per tonne (docs/valuation.md)")
    ] = None,
) -> BodiesOut:
    """The exact documents a step signs, for a client signing with its own key (self-custody): for
    ``approve`` the approval statement; for ``loan`` the registration body with the loan as of today."""
    loan = None
    if step is PledgeStep.LOAN:
        if loan_id is None or amount_fen is None or rate_bp is None or term_months is None:
            raise InvalidInput(
                "the loan step needs loan_id, amount_fen, rate_bp and term_months", field="loan_id"
            )
        loan = LoanRequest(loan_id, amount_fen, rate_bp, term_months, bank_price_fen_per_tonne)
    bodies = bodies_to_sign(
        session,
        actor=actor,
        pledge_id=pledge_id,
        step=step,
        approved_kg=approved_kg,
        certificate_no=certificate_no,
        quantity_kg=quantity_kg,
        loan=loan,
        registry=registry,
    )
    return BodiesOut.of(step.value, actor.party, bodies)


@router.post("/pledges/{pledge_id}/approve", response_model=PledgeOut, responses=ERRORS)
def post_approve(pledge_id: str, payload: ApproveIn, key: MaybeCustodyKeyDep, w: WriteDep) -> PledgeOut:
    """Step 2 (生态环境部门审核): the rights' bureau approves a quantity on its electronic certificate."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            approve_pledge(
                w.session,
                registry=w.registry,
                actor=w.actor,
                pledge_id=pledge_id,
                approved_kg=payload.approved_kg,
                certificate_no=payload.certificate_no,
                signed_by=consent_of(payload.signatures, key, w.actor.party),
            )
        ),
    )


@router.post("/pledges/{pledge_id}/loan", response_model=PledgeOut, responses=ERRORS)
def post_loan(pledge_id: str, payload: LoanIn, key: MaybeCustodyKeyDep, w: WriteDep) -> PledgeOut:
    """Step 3 (银行录入贷款信息): the pledgee bank records the loan, checked against the appraisal
    (at most 80% of the value; maturing no later than the rights' validity end)."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            record_loan(
                w.session,
                registry=w.registry,
                actor=w.actor,
                pledge_id=pledge_id,
                loan_id=payload.loan_id,
                amount_fen=payload.amount_fen,
                rate_bp=payload.rate_bp,
                term_months=payload.term_months,
                signed_by=consent_of(payload.signatures, key, w.actor.party),
                bank_price_fen_per_tonne=payload.bank_price_fen_per_tonne,
            )
        ),
    )


@router.post("/pledges/{pledge_id}/confirm", response_model=PledgeOut, responses=ERRORS)
def post_confirm(pledge_id: str, payload: ConsentIn, key: MaybeCustodyKeyDep, w: WriteDep) -> PledgeOut:
    """Step 4 (企业确认): the enterprise confirms; one record holds the units for the bank."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            confirm_pledge(
                w.session,
                registry=w.registry,
                actor=w.actor,
                pledge_id=pledge_id,
                signed_by=consent_of(payload.signatures, key, w.actor.party),
            )
        ),
    )


@router.post("/pledges/{pledge_id}/release", response_model=PledgeOut, responses=ERRORS)
def post_release(pledge_id: str, payload: ReleaseIn, key: MaybeCustodyKeyDep, w: WriteDep) -> PledgeOut:
    """Release on repayment (解押): the pledgee bank releases all or part of the held units."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            release_pledge(
                w.session,
                registry=w.registry,
                actor=w.actor,
                pledge_id=pledge_id,
                quantity_kg=payload.quantity_kg,
                signed_by=consent_of(payload.signatures, key, w.actor.party),
            )
        ),
    )


@router.post("/pledges/{pledge_id}/enforce", response_model=PledgeOut, responses=ERRORS)
def post_enforce(pledge_id: str, payload: ConsentIn, key: MaybeCustodyKeyDep, w: WriteDep) -> PledgeOut:
    """Enforcement on default (处置): the pledgee bank captures every held unit into its holding."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            enforce_pledge(
                w.session,
                registry=w.registry,
                actor=w.actor,
                pledge_id=pledge_id,
                signed_by=consent_of(payload.signatures, key, w.actor.party),
            )
        ),
    )


@router.post("/pledges/{pledge_id}/forced-auction", response_model=PledgeOut, responses=ERRORS)
def post_forced_auction(pledge_id: str, payload: ForcedAuctionIn, w: WriteDep) -> PledgeOut:
    """Marks a pledge for forced sale with the bank's claim (the units stay held); /forced-sale sells."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            request_forced_auction(
                w.session,
                actor=w.actor,
                pledge_id=pledge_id,
                claim_fen=payload.claim_fen,
                reason=payload.reason,
            )
        ),
    )


@router.post(
    "/pledges/{pledge_id}/forced-sale",
    response_model=AuctionOut,
    responses=ERRORS,
    tags=["auctions"],
)
def post_forced_sale(pledge_id: str, payload: ForcedSaleIn, key: CustodyKeyDep, w: WriteDep) -> AuctionOut:
    """拍卖处置: the bank (enforcing first) or, after enforcement, the bureau opens a forced auction."""

    def run() -> AuctionOut:
        pledged = get_pledge(w.session, actor=w.actor, pledge_id=pledge_id)
        now = w.registry.clock()
        terms = payload.terms(
            instrument=pledged.instrument, jurisdiction=pledged.lot.jurisdiction or "", opens_at=now
        )
        opened = start_forced_auction(
            w.session,
            registry=w.registry,
            actor=w.actor,
            signed_by=Consent.custody(w.actor.party, key),
            pledge_id=pledge_id,
            terms=terms,
            reason=payload.reason,
            now=now,
            payment_window=payload.payment_window,
        )
        return AuctionOut.of(opened)

    return w.once(payload, AuctionOut, run)


@router.post("/pledges/{pledge_id}/cancel", response_model=PledgeOut, responses=ERRORS)
def post_cancel(pledge_id: str, payload: CancelIn, w: WriteDep) -> PledgeOut:
    """Before confirmation, a party ends the pledge: withdrawn, refused or declined."""
    return w.once(
        payload,
        PledgeOut,
        lambda: PledgeOut.of(
            cancel_pledge(
                w.session,
                actor=w.actor,
                pledge_id=pledge_id,
                reason=payload.reason,
                now=w.registry.clock(),
            )
        ),
    )


CERT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {"description": "the certificate file (canonical JSON)", "model": CertificateFileOut},
}


@router.get(
    "/pledges/{pledge_id}/certificate",
    response_model=CertificateFileOut,
    response_class=Response,
    responses=CERT_ERRORS,
)
def get_certificate(pledge_id: str, actor: ActorDep, session: SessionDep, registry: RegistryDep) -> Response:
    """The pledge certificate file (抵质押登记证明): the registration record with its loan terms, its
    inclusion proof to a signed checkpoint and the registry key; verifiable offline with the CLI."""
    # A write session: the certificate signs a new checkpoint when none covers the record yet.
    cert = build_certificate(session, registry=registry, actor=actor, pledge_id=pledge_id)
    return Response(
        cert.file_bytes(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(cert)}.json"'},
    )


@router.get(
    "/pledges/{pledge_id}/certificate.pdf",
    response_class=Response,
    responses={
        **ERRORS,
        200: {"content": {"application/pdf": {}}, "description": "the printable certificate"},
    },
)
def get_certificate_pdf(
    pledge_id: str, request: Request, actor: ActorDep, session: SessionDep, registry: RegistryDep
) -> Response:
    """The printable certificate (PDF, Chinese and English) with the verified fields, the record's hash,
    the pledge's status now and a QR code of the file (or of its hash and this URL, if too large)."""
    cert = build_certificate(session, registry=registry, actor=actor, pledge_id=pledge_id)
    check = verify_certificate(cert, registry.key.public)
    standing = standing_of(session, pledge_id=pledge_id, record_seq=cert.seq)
    url = str(request.url_for("get_certificate", pledge_id=pledge_id))
    out = render_certificate_pdf(cert, check, url=url, standing=standing)
    return Response(
        out.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{_file_name(cert)}.pdf"',
            "X-Certificate-QR": out.qr_holds,
            "X-Certificate-SHA256": out.file_sha256,
        },
    )


def _file_name(cert: PledgeCertificate) -> str:
    """An ASCII file name (the certificate number may be in any script)."""
    return f"pledge-{cert.pledge.get('pledge_id')}-certificate"


@router.post("/certificates/verify", response_model=CertificateCheckOut, responses=CHECK_ERRORS)
def post_certificate_check(
    certificate: Annotated[dict[str, Any], Body(description="a pledge certificate file, as downloaded")],
    actor: ActorDep,
    session: ReaderDep,
    registry: RegistryDep,
    registry_public_key: Annotated[
        str | None,
        Query(
            max_length=64, description="the registry key you pinned (base64url); omitted: the registry's own"
        ),
    ] = None,
    expected_quantity_kg: Annotated[
        int | None, Query(ge=0, le=2**53 - 1, description="the quantity agreed, kg")
    ] = None,
) -> CertificateCheckOut:
    """Check a pledge certificate file: every check, every displayed field against the signed record,
    and, online, the pledge's status now with the record that changed it."""
    public = (
        raw_public_key(registry_public_key, field="registry_public_key")
        if registry_public_key
        else registry.key.public
    )
    cert = PledgeCertificate.from_json(certificate)
    check = verify_certificate(cert, public, expected_quantity_kg=expected_quantity_kg)
    standing = None
    if check.ok and check.fields is not None and public == registry.key.public:
        standing = standing_of(session, pledge_id=str(check.fields["pledge_id"]), record_seq=cert.seq)
    return CertificateCheckOut.of(check, standing=standing, pinned=registry_public_key is not None)
