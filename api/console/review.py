"""The bureau's refusals (驳回): a pledge application refused before its quantity is approved, and a
cross-city request rejected before it settles, each with the reason the parties will read."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from accounts.model import Role
from api.console import forms
from api.console.bureau import _approvals_page as approvals_page  # the page a refusal re-renders
from api.console.web import PREFIX, ConsoleRoute, Done, FormDep, WriteConsole, act
from market.crosscity import service as crosscity
from market.pledges import service as pledge

router = APIRouter(prefix=PREFIX + "/bureau", route_class=ConsoleRoute, include_in_schema=False)


@router.post("/pledges/{pledge_id}/reject")
def reject_pledge(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Refuse a pledge application with a reason; nothing was held, so nothing moves."""
    c.need(Role.BUREAU)

    def run() -> Done:
        pledge.cancel_pledge(
            c.session, actor=c.me, pledge_id=pledge_id, reason=forms.text(form, "reason"), now=c.now
        )
        return Done(to=PREFIX + "/bureau/approvals", message="flash.pledge_rejected", args={"id": pledge_id})

    return act(c, form, run, lambda exc: approvals_page(c, error=exc, values=form, failed=f"r-{pledge_id}"))


@router.post("/transfers/{request_id}/reject")
def reject_transfer(request_id: str, c: WriteConsole, form: FormDep) -> Response:
    """Reject a cross-city request with a reason; units the seller had put on hold are released in
    one record."""
    c.need(Role.BUREAU)

    def run() -> Done:
        crosscity.reject_transfer(
            c.session,
            registry=c.app.registry,
            actor=c.me,
            request_id=request_id,
            reason=forms.text(form, "reason"),
        )
        return Done(
            to=PREFIX + "/bureau/approvals", message="flash.transfer_refused", args={"id": request_id}
        )

    return act(c, form, run, lambda exc: approvals_page(c, error=exc, values=form, failed=f"r-{request_id}"))
