"""What stands between a browser and a console action: the server-side session its cookie names, and
for every POST a same-origin check and the session's CSRF token (the login form's comes from a nonce).

Why both: SameSite=Strict keeps other *sites* out, but a page on another port of the same host is the
same site, and cookies are not kept apart by port, so it could plant a cookie (a forged login's nonce)
or post a form with ours. Browsers say where a form comes from (Origin, Sec-Fetch-Site), which stops
that; the token stops any client that says nothing, as it must hold a secret only our pages carry.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlmodel import Session

from accounts.errors import InvalidCredentials
from accounts.model import Participant
from accounts.sessions import (
    SessionPolicy,
    SessionView,
    csrf_matches,
    csrf_token,
    resolve_session,
    touch_session,
)
from api.deps import state
from api.security import CrossOriginRefused, CsrfRefused
from ledger.timeutil import utc_now

__all__ = [
    "CSRF_FIELD",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "LoginRequired",
    "check_post",
    "csrf_for_page",
    "logged_in",
    "set_cookie",
]

SESSION_COOKIE = "ecoledger_console"  # the session's random id; the database keeps only its hash
LOGIN_COOKIE = "ecoledger_login"  # a nonce the login form's token is derived from
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"  # for scripts and tests: a header no other origin may send without CORS
_LOGIN_PATH = "/console/login"


class LoginRequired(Exception):
    """No live session: the console sends the person to the login page."""


def _clock(request: Request) -> Callable[[], datetime]:
    return getattr(request.app.state, "session_clock", utc_now)


def _policy(request: Request) -> SessionPolicy:
    return getattr(request.app.state, "session_policy", SessionPolicy())


def now(request: Request) -> datetime:
    """Session time: the wall clock (a test may set ``app.state.session_clock``), not the registry's."""
    return _clock(request)()


def logged_in(request: Request, session: Session, *, writable: bool) -> Participant:
    """The person whose live session the cookie names, or ``LoginRequired``. Moves the session's idle
    clock on (in this request's write session, or a short one of its own for a page view) and, for a
    write, counts it against the key's write limit."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise LoginRequired
    app, at = state(request), now(request)
    try:
        view = resolve_session(session, session_id, now=at, policy=_policy(request))
    except InvalidCredentials:
        raise LoginRequired from None
    if view.due_touch:
        _touch(request, session if writable else None, view, at)
    if writable:
        app.limits.write(view.credential_id)
    request.state.console_me = view.participant
    request.state.console_user = view.user
    return view.participant


def _touch(request: Request, session: Session | None, view: SessionView, at: datetime) -> None:
    if session is not None:
        touch_session(session, id_hash=view.id_hash, now=at)
        return
    with Session(state(request).engine) as writer:
        touch_session(writer, id_hash=view.id_hash, now=at)
        writer.commit()


def _same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True  # a client that says nothing (not a browser's form): the token decides
    host = request.headers.get("host", "").lower()
    return bool(host) and urlsplit(claimed).netloc.lower() == host


async def check_post(request: Request) -> None:
    """Refuse a console POST from another origin, or without this session's (or login form's) token."""
    if not _same_origin(request):
        raise CrossOriginRefused("the form was sent from another origin", field="origin")
    form = await request.form()  # parsed once: the route's own form dependency reads the same
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if request.url.path == _LOGIN_PATH:
        nonce = request.cookies.get(LOGIN_COOKIE)
        ok = bool(nonce) and csrf_matches(f"login:{nonce}", given if isinstance(given, str) else None)
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            raise LoginRequired
        ok = csrf_matches(session_id, given if isinstance(given, str) else None)
    if not ok:
        raise CsrfRefused(
            "the form's token is missing or not this session's: reload the page", field=CSRF_FIELD
        )


def csrf_for_page(request: Request, *, login: bool) -> tuple[str, str | None]:
    """The token a page's forms carry, and a new login nonce to set as a cookie (or ``None``)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and not login:
        return csrf_token(session_id), None
    nonce = request.cookies.get(LOGIN_COOKIE)
    fresh = None
    if not nonce or not 20 <= len(nonce) <= 100:
        nonce = fresh = secrets.token_urlsafe(24)
    return csrf_token(f"login:{nonce}"), fresh


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,  # no script reads it
        samesite="strict",  # no other site's form or link sends it
        secure=request.url.scheme == "https",  # behind TLS, never over plain HTTP
    )
