"""A bank's and an enterprise's refusals of a pledge step (拒绝), taken alone in the console: the bank
declines to record the loan on an approved pledge, the enterprise withdraws its application or declines
the loan a bank recorded. Nothing was held before confirmation, so nothing moves; the reason is kept
for the other parties to read. The bureau's refusals are in ``review``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.model import Role
from api.console import forms
from api.console.bank import _pledges_page as bank_page  # the pages a refusal re-renders
from api.console.enterprise import _pledge_page as enterprise_page
from api.console.web import PREFIX, ConsoleRoute, Done, FormDep, WriteConsole, act
from market.pledges import service as pledge

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def _decline(
    c: WriteConsole,
    form: dict[str, str],
    pledge_id: str,
    home: str,
    again: Callable[..., HTMLResponse],
) -> Response:
    """End the pledge with the reason typed, then back to ``home``; a refusal re-renders ``again``."""

    def run() -> Done:
        pledge.cancel_pledge(
            c.session, actor=c.me, pledge_id=pledge_id, reason=forms.text(form, "reason"), now=c.now
        )
        return Done(to=PREFIX + home, message="flash.pledge_declined", args={"id": pledge_id})

    return act(c, form, run, lambda exc: again(c, error=exc, values=form, failed=f"d-{pledge_id}"))


@router.post("/bank/pledges/{pledge_id}/decline")
def bank_declines(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The bank declines the loan of a pledge not yet confirmed, with a reason."""
    c.need(Role.BANK)
    return _decline(c, form, pledge_id, "/bank", bank_page)


@router.post("/enterprise/pledges/{pledge_id}/decline")
def enterprise_declines(pledge_id: str, c: WriteConsole, form: FormDep) -> Response:
    """The enterprise withdraws its application, or declines the loan the bank recorded, with a reason."""
    c.need(Role.ENTERPRISE)
    return _decline(c, form, pledge_id, "/enterprise/pledges", enterprise_page)
