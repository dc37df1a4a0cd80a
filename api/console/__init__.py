"""The web console (管理控制台): server-rendered pages in Chinese and English, one view per role, served
by the API's own app and calling the same services; a person logs in with their access key."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from accounts.errors import InvalidCredentials
from api.console import auction_views, auditor, bank, bureau, enterprise, trades
from api.console.web import (
    PREFIX,
    SESSION_COOKIE,
    ConsoleRoute,
    FormDep,
    ReadConsole,
    home_of,
    lang_of,
    render,
)
from api.deps import ReaderDep, actor_for_token

__all__ = ["install", "router"]

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
_SESSION_AGE_S = 8 * 3600  # a working day; the access key itself stays valid until revoked


@router.get("", response_class=HTMLResponse)
def home(c: ReadConsole) -> RedirectResponse:
    """Each role's first page."""
    return RedirectResponse(home_of(c.me), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """Paste the access key (the API token ``ek_...``) to log in."""
    return render(request, "login.html", lang=lang_of(request))


@router.post("/login")
def login(request: Request, form: FormDep, session: ReaderDep) -> Response:
    """Check the key as the API does; keep it in an HttpOnly, SameSite=Strict cookie."""
    token = form.get("access_key", "").strip()
    try:
        me = actor_for_token(session, token)
    except InvalidCredentials as exc:
        exc.details.setdefault("field", "access_key")
        return render(request, "login.html", lang=lang_of(request), error=exc, status=401)
    response = RedirectResponse(home_of(me), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=_SESSION_AGE_S,
        path=PREFIX,
        httponly=True,  # no script reads it
        samesite="strict",  # no other site's form or link sends it: no cross-site request forgery
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    """Forget the login cookie."""
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def install(app: FastAPI) -> None:
    """Serve the console at /console (and send / there), with its stylesheet."""
    app.include_router(router)
    for module in (bureau, enterprise, trades, bank, auditor, auction_views):
        app.include_router(module.router)
    static = Path(__file__).parent / "static"
    app.mount(PREFIX + "/static", StaticFiles(directory=static), name="console-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX, status_code=307)
