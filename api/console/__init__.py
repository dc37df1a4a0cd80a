"""The web console (管理控制台): server-rendered pages in Chinese and English, one view per role, served
by the API's own app and calling the same services; a person logs in with their access key."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from accounts.credentials import credential_id_of, look_up_token
from accounts.errors import InvalidCredentials, SecondFactorInvalid, SecondFactorRequired
from accounts.sessions import LIFETIME, end_session, open_session
from accounts.totp import check_second_factor
from api.console import (
    auction_views,
    auditor,
    bank,
    bank_default,
    bluecarbon,
    bureau,
    declines,
    enterprise,
    foureyes,
    history,
    households,
    proposals,
    reserve,
    review,
    security,
    trades,
)
from api.console.guard import LOGIN_COOKIE, SESSION_COOKIE, now, set_cookie
from api.console.web import PREFIX, ConsoleRoute, FormDep, ReadConsole, home_of, lang_of, render
from api.console.xlsx import ConsoleExport
from api.deps import SessionDep, state
from api.errors import status_for
from api.limits import RateLimited
from api.security import client_address

__all__ = ["install", "router"]

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def home(c: ReadConsole) -> RedirectResponse:
    """Each role's first page."""
    return RedirectResponse(home_of(c.me), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """Paste the access key (the API token ``ek_...``) to log in."""
    return render(request, "login.html", lang=lang_of(request))


@router.post("/login")
def login(request: Request, form: FormDep, session: SessionDep) -> Response:
    """Check the access key as the API does (and the one-time code, if this person enabled one); open
    a server-side session whose random id alone goes into the cookie, never the key."""
    limits, address = state(request).limits, client_address(request.scope)
    token = form.get("access_key", "").strip()
    try:
        limits.check_address(address)
        try:
            verified = look_up_token(session, token).finish()
            party = verified.participant.party
            check_second_factor(session, party=party, code=form.get("otp"), now=now(request))
        except (InvalidCredentials, SecondFactorInvalid):
            limits.failed(address, credential_id_of(token))
            raise
    except (InvalidCredentials, SecondFactorInvalid, SecondFactorRequired, RateLimited) as exc:
        exc.details.setdefault("field", "access_key")
        status = status_for(type(exc))
        refused = render(request, "login.html", lang=lang_of(request), error=exc, status=status)
        if isinstance(exc, RateLimited):
            refused.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return refused
    session_id = open_session(session, verified=verified, now=now(request))
    response = RedirectResponse(home_of(verified.participant), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session_id, max_age=int(LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    """End the session in the registry (its cookie is worth nothing after this), and forget the cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        end_session(session, session_id=session_id)
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def install(app: FastAPI) -> None:
    """Serve the console at /console (and send / there), with its stylesheet."""
    app.include_router(router)
    for module in (
        bureau,
        review,
        reserve,
        enterprise,
        trades,
        foureyes,
        proposals,
        bank,
        declines,
        history,
        bank_default,
        bluecarbon,
        auditor,
        auction_views,
        security,
        households,
    ):
        app.include_router(module.router)
    app.add_middleware(ConsoleExport, prefix=PREFIX)  # every table of every page as .xlsx (api.console.xlsx)
    static = Path(__file__).parent / "static"  # the stylesheet and the scripts (no inline script: CSP)
    app.mount(PREFIX + "/static", StaticFiles(directory=static), name="console-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX, status_code=307)
