"""A console user's own security page: the optional second factor (TOTP) of bureau and bank users,
set up by scanning or typing a secret into an authenticator app and confirming one code from it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.totp import OFFERED_TO, confirm_totp, provisioning_uri, start_totp, totp_enabled
from api.console import forms
from api.console.guard import now
from api.console.web import PREFIX, Console, ConsoleRoute, Done, FormDep, ReadConsole, WriteConsole, act, page
from ledger.errors import DomainError

router = APIRouter(prefix=PREFIX + "/security", route_class=ConsoleRoute, include_in_schema=False)


def _page(c: Console, **extra: object) -> HTMLResponse:
    return page(
        c,
        "security.html",
        offered=c.me.role in OFFERED_TO,
        enabled=totp_enabled(c.session, party=c.me.party),
        **{"secret": None, "uri": None, **extra},
    )


@router.get("", response_class=HTMLResponse)
def security(c: ReadConsole) -> HTMLResponse:
    """Whether this login needs a one-time code, and how to turn that on."""
    return _page(c)


@router.post("/totp", response_class=HTMLResponse)
def begin(c: WriteConsole) -> HTMLResponse:
    """A new secret to put into an authenticator app; it counts once a code from it is confirmed."""
    secret = start_totp(c.session, actor=c.me)
    return _page(c, secret=secret, uri=provisioning_uri(secret, account=f"{c.me.name} ({c.me.party})"))


@router.post("/totp/confirm")
def confirm(c: WriteConsole, form: FormDep) -> Response:
    """Enable the second factor with the first code the app shows."""

    def run() -> Done:
        confirm_totp(c.session, actor=c.me, code=forms.text(form, "otp"), now=now(c.request))
        return Done(to=PREFIX + "/security", message="security.enabled")

    def again(exc: DomainError) -> HTMLResponse:
        return _page(c, error=exc, values=form)

    return act(c, form, run, again)
