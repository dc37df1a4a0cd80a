"""The bank's view: pledges by status, recording the loan (银行录入贷款信息), release on repayment
(解押, full or partial), the certificate of a registered pledge and an offline check of one."""

from __future__ import annotations

import json
from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.model import Role
from api.certificate_pdf import render_certificate_pdf
from api.console import forms
from api.console.lists import narrow, read_query
from api.console.todo import todo_of
from api.console.web import (
    PREFIX,
    Console,
    ConsoleRoute,
    Done,
    FormDep,
    ReadConsole,
    WriteConsole,
    act,
    page,
)
from ledger.errors import DomainError, InvalidInput
from market.pledges import certificate as certificate
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from market.pledges.standing import standing_of

router = APIRouter(prefix=PREFIX + "/bank", route_class=ConsoleRoute, include_in_schema=False)


def _pledges_page(c: Console, **extra: object) -> HTMLResponse:
    query = read_query(c.request, ("status",))
    paged = narrow(
        pledge.list_pledges(c.session, actor=c.me),
        query,
        text=lambda p: (p.id, p.certificate_no or "", c.names.get(p.enterprise, p.enterprise), p.instrument),
        fields={"status": lambda p: p.status.value},
    )
    by_status = {s.value: [p for p in paged.items if p.status is s] for s in PledgeStatus}
    statuses = [(s.value, c.t(f"pledge.{s.value}")) for s in PledgeStatus]
    return page(
        c,
        "bank_pledges.html",
        by_status=by_status,
        paged=paged,
        filters=[("status", "col.status", statuses)],
        todo=todo_of(c),
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def pledges(c: ReadConsole) -> HTMLResponse:
    """The bank's pledges grouped by status, with the step each one waits for."""
    c.need(Role.BANK)
    return _pledges_page(c)


def _rate_bp(form: dict[str, str]) -> int:
    """An annual rate typed in percent (``3.85``) -> basis points (385), exactly."""
    raw = forms.text(form, "rate")
    try:
        value = Decimal(raw) * 100
    except ArithmeticError:
        raise InvalidInput("rate must be a percentage such as 3.85", field="rate") from None
    if not value.is_finite() or value != value.to_integral_value() or not 0 <= value <= 10_000:
        raise InvalidInput("rate must be 0 to 100 percent with at most 2 decimals", field="rate")
    return int(value)


@router.post("/pledges/{pledge_id}/loan")
def record_loan(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Step 3: record the loan (amount, rate, term), checked against the appraisal, and sign."""
    c.need(Role.BANK)

    def run() -> Done:
        pledge.record_loan(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            pledge_id=pledge_id,
            loan_id=forms.text(form, "loan_id"),
            amount_fen=forms.yuan_fen(form, "amount"),
            rate_bp=_rate_bp(form),
            term_months=forms.whole(form, "term_months", low=1, high=600),
            signed_by=c.consent(),
            bank_price_fen_per_tonne=forms.yuan_fen(form, "bank_price")
            if forms.text(form, "bank_price", optional=True)
            else None,
        )
        return Done(to=PREFIX + "/bank", message="flash.loan_recorded", args={"id": pledge_id})

    return act(c, form, run, lambda exc: _pledges_page(c, error=exc, values=form, failed=pledge_id))


@router.post("/pledges/{pledge_id}/release")
def release(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Release on repayment: a quantity of the held units, or (left empty) all of them."""
    c.need(Role.BANK)

    def run() -> Done:
        current = pledge.get_pledge(c.session, actor=c.me, pledge_id=pledge_id)
        partial = forms.text(form, "quantity", optional=True)
        done = pledge.release_pledge(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            pledge_id=pledge_id,
            signed_by=c.consent(),
            quantity_kg=forms.kg(form, "quantity", current.instrument) if partial else None,
        )
        return Done(
            to=PREFIX + "/bank",
            message="flash.pledge_released" if done.held_kg == 0 else "flash.pledge_partly_released",
            args={"id": pledge_id},
        )

    return act(c, form, run, lambda exc: _pledges_page(c, error=exc, values=form, failed=pledge_id))


@router.get("/pledges/{pledge_id}/certificate.json")
def certificate_json(pledge_id: str, c: WriteConsole) -> Response:
    """The pledge's certificate file (抵质押登记证明), the same bytes as the API's; may sign a new
    checkpoint to cover it."""
    c.need(Role.BANK, Role.ENTERPRISE, Role.BUREAU)
    cert = certificate.build_certificate(c.session, registry=c.app.registry, actor=c.me, pledge_id=pledge_id)
    return Response(
        cert.file_bytes(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="pledge-{pledge_id}-certificate.json"'},
    )


@router.get("/pledges/{pledge_id}/certificate.pdf")
def certificate_pdf(pledge_id: str, c: WriteConsole) -> Response:
    """The printable certificate (PDF, Chinese and English) with the pledge's status now."""
    c.need(Role.BANK, Role.ENTERPRISE, Role.BUREAU)
    cert = certificate.build_certificate(c.session, registry=c.app.registry, actor=c.me, pledge_id=pledge_id)
    check = certificate.verify_certificate(cert, c.app.registry.key.public)
    standing = standing_of(c.session, pledge_id=pledge_id, record_seq=cert.seq)
    url = str(c.request.url_for("get_certificate", pledge_id=pledge_id))
    out = render_certificate_pdf(cert, check, url=url, standing=standing)
    return Response(
        out.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="pledge-{pledge_id}-certificate.pdf"'},
    )


@router.get("/certificate", response_class=HTMLResponse)
def certificate_form(c: ReadConsole) -> HTMLResponse:
    """Paste a certificate file to check it against the registry's public key."""
    c.need(Role.BANK)
    return page(c, "bank_certificate.html", check=None)


@router.post("/certificate", response_class=HTMLResponse)
def check_certificate(c: ReadConsole, form: FormDep) -> HTMLResponse:
    """Check a pasted certificate file: checkpoint signature, inclusion proof, seal, parties, loan terms,
    every displayed field; then, online, what the pledge is now."""
    c.need(Role.BANK)
    raw = form.get("certificate", "")
    try:
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise InvalidInput("the certificate is not JSON", field="certificate") from None
        cert = certificate.PledgeCertificate.from_json(parsed)
    except DomainError as exc:
        return page(c, "bank_certificate.html", check=None, error=exc, values=form, status=422)
    check = certificate.verify_certificate(cert, c.app.registry.key.public)
    standing = None
    if check.ok and check.fields is not None:
        standing = standing_of(c.session, pledge_id=str(check.fields["pledge_id"]), record_seq=cert.seq)
    return page(
        c,
        "bank_certificate.html",
        check=check,
        cert=cert,
        fields=check.fields,
        standing=standing,
        values=form,
    )
