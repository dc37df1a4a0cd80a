"""The console's plumbing: the login session (``guard``), language, flash messages, per-form idempotency
tokens, rendering with exact unit formatting, and HTML error pages; the views live in the sibling modules.

A console action goes through the API's write seam (``api.write.Write``): the person logged in is its
actor, and its Idempotency-Key is the hidden ``form_token`` every rendered form carries (``m.token()``,
fresh per page), so a double submit or a reload of the POST replays the first answer instead of acting
twice; a post without one (no form of ours) simply runs, as an API call without a key does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from pydantic import BaseModel
from sqlmodel import Session

from accounts.custody import custody_key
from accounts.errors import NoCustodyKey
from accounts.identifiers import DIVISIONS
from accounts.model import Participant, Role
from accounts.service import participants
from api.console.cert_problems import problem_text
from api.console.guard import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    check_post,
    csrf_for_page,
    logged_in,
    set_cookie,
)
from api.console.i18n import LANGS, field_input, field_label, translate
from api.console.messages import explain
from api.deps import AppState, ReaderDep, SessionDep, state
from api.errors import status_for
from api.write import Write
from ledger.crypto import SigningKey
from ledger.errors import DomainError
from ledger.units import CURRENCY, INSTRUMENTS, format_amount, is_money
from market.consent import Consent

__all__ = [
    "PREFIX",
    "SESSION_COOKIE",
    "Console",
    "ConsoleRoute",
    "Done",
    "FormDep",
    "LoginRequired",
    "ReadConsole",
    "WriteConsole",
    "WrongRole",
    "home_of",
    "render",
]

PREFIX = "/console"
LANG_COOKIE = "ecoledger_lang"
FLASH_COOKIE = "ecoledger_flash"
CST = timezone(timedelta(hours=8), "UTC+8")  # China Standard Time: what a bureau's clock says
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.undefined = StrictUndefined  # a missing value is a bug to see, not a blank to ship

_HOMES = {
    Role.BUREAU: "/bureau",
    Role.ENTERPRISE: "/enterprise",
    Role.COOPERATIVE: "/enterprise",
    Role.BANK: "/bank",
    Role.AUDITOR: "/auditor",
    Role.OPERATOR: "/auditor",
}


class WrongRole(Exception):
    """A page of another role's view: the console answers with its 403 page."""


def home_of(who: Participant) -> str:
    return PREFIX + _HOMES[who.role]


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGS else "zh"


# -- formatting: exact, from integer minor units; never float ---------------------------------------


def qty(kg: int, code: str) -> str:
    """``1500, "COD"`` -> ``1.500 t/a``: the ledger's own conversion (ledger.units)."""
    return format_amount(kg, INSTRUMENTS[code])


def co2e(kg: int) -> str:
    """kg CO2e as tCO2e: the display unit every carbon credit shares (``Instrument.carbon``)."""
    return format_amount(kg, next(i for i in INSTRUMENTS.values() if i.carbon))


def instrument_name(code: str, lang: str) -> str:
    """An instrument's name in ``lang`` (``Instrument.label``); the code itself for an unknown one."""
    found = INSTRUMENTS.get(code)
    return found.label(lang) if found is not None else code


def yuan(fen: int, lang: str) -> str:
    number = format_amount(fen, INSTRUMENTS[CURRENCY]).rsplit(" ", 1)[0]
    return f"{number} {translate(lang, 'unit.yuan')}"


def per_tonne(fen_per_t: int, lang: str) -> str:
    return f"{yuan(fen_per_t, lang)}/t"


def city_name(code: str | None, lang: str) -> str:
    """A division code as its name in ``lang`` (GB/T 2260, ``accounts.identifiers.DIVISIONS``);
    the code itself for a division the table does not name."""
    found = DIVISIONS.get(code or "")
    if found is None:
        return code or ""
    return found.name_zh if lang == "zh" else found.name


def when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


# -- the request's console ----------------------------------------------------------------------------


@dataclass
class Console:
    """One request of a logged-in person: who, in which language, with which session."""

    request: Request
    session: Session
    me: Participant
    lang: str
    errors: list[str] = field(default_factory=list)
    write: Write | None = None  # a write request's seam (``WriteConsole``); None for a page view

    @property
    def app(self) -> AppState:
        return state(self.request)

    @property
    def now(self) -> datetime:
        return self.app.registry.clock()

    @property
    def user(self) -> str | None:
        """The named user logged in (``accounts.users``); None for the party's own key."""
        return getattr(self.request.state, "console_user", None)

    def t(self, key: str, **args: object) -> str:
        return translate(self.lang, key, **args)

    def need(self, *roles: Role) -> None:
        if self.me.role not in roles:
            raise WrongRole(self.me.role.value)

    def key(self) -> SigningKey:
        """The participant's key in the registry's custody: the console signs with it."""
        if self.app.vault is None:
            raise NoCustodyKey("this registry holds no keys in custody", party=self.me.party)
        return custody_key(self.session, vault=self.app.vault, party=self.me.party, at=self.now)

    def consent(self) -> Consent:
        """The participant's consent to the step it submits: signed with its key in custody."""
        return Consent.custody(self.me.party, self.key())

    @cached_property
    def names(self) -> dict[str, str]:
        return {p.party: p.name for p in participants(self.session)}


def _read_console(request: Request, session: ReaderDep) -> Console:
    return Console(request, session, logged_in(request, session, writable=False), lang_of(request))


def _write_console(request: Request, session: SessionDep) -> Console:
    me = logged_in(request, session, writable=True)
    seam = Write(request, me, state(request).registry, None, session)  # keyed per form, in ``act``
    return Console(request, session, me, lang_of(request), write=seam)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


ReadConsole = Annotated[Console, Depends(_read_console)]
WriteConsole = Annotated[Console, Depends(_write_console)]
FormDep = Annotated[dict[str, str], Depends(_form)]


# -- rendering ------------------------------------------------------------------------------------


def _instrument_hint(values: Mapping[str, str] | None) -> str | None:
    """The instrument a refused form was about (``instrument``, or ``CODE@lot`` in ``position``/``lot``):
    a refusal's kg then read in that instrument's display unit."""
    values = values or {}
    for name in ("instrument", "position", "lot"):
        code = values.get(name, "").partition("@")[0]
        if code in INSTRUMENTS:
            return code
    return None


def _error_view(
    lang: str,
    exc: DomainError,
    values: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A refusal as a person reads it: a sentence in their language, the evidence in display units
    (never the English message with raw kg), the field, and the stable code."""
    name = exc.details.get("field")
    said, evidence = explain(lang, exc, instrument=_instrument_hint(values), names=names)
    return {
        "code": exc.code,
        "field": name,
        "input": field_input(name) if isinstance(name, str) else None,
        "field_label": field_label(lang, name) if isinstance(name, str) else None,
        "sentence": said,
        "detail": evidence,
    }


def render(
    request: Request,
    template: str,
    *,
    lang: str,
    me: Participant | None = None,
    status: int = 200,
    error: DomainError | None = None,
    values: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in ``lang``; pops the flash message and keeps a ``?lang=`` choice in a cookie."""
    flash = None
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        try:
            data = json.loads(unquote(raw))
            flash = translate(lang, str(data["k"]), **{str(k): str(v) for k, v in data.get("a", {}).items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            flash = None
    err = _error_view(lang, error, values, context.get("names")) if error is not None else None
    csrf, new_nonce = csrf_for_page(request, login=template == "login.html")
    ctx: dict[str, Any] = {
        "lang": lang,
        "me": me,
        "home": home_of(me) if me is not None else PREFIX + "/login",
        "P": PREFIX,
        "flash": flash,
        "error": err,
        "values": dict(values or {}),
        "t": lambda key, **a: translate(lang, key, **a),
        "qty": qty,
        "co2e": co2e,
        "amount": lambda n, code: yuan(n, lang) if is_money(code) else qty(n, code),
        "inst_name": lambda code: instrument_name(code, lang),
        "yuan": lambda fen: yuan(fen, lang),
        "per_t": lambda fen: per_tonne(fen, lang),
        "when": when,
        "city": lambda code: city_name(code, lang),
        "problem_text": lambda problem: problem_text(lang, problem, context.get("names")),
        "form_token": lambda: secrets.token_urlsafe(18),
        "csrf_value": csrf,
        "path": request.url.path,
        "lang_href": lambda to: lang_href(request, to),
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)
    if raw:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86_400, path="/", samesite="strict")
    if new_nonce is not None:
        set_cookie(request, response, LOGIN_COOKIE, new_nonce, max_age=3600)
    return response


def lang_href(request: Request, lang: str) -> str:
    """This page in another language, keeping its query (a list's search, filters and page)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*kept, ('lang', lang)])}"


def page(c: Console, template: str, **context: Any) -> HTMLResponse:
    return render(c.request, template, lang=c.lang, me=c.me, names=c.names, **context)


def redirect(to: str, message: str | None = None, **args: str) -> RedirectResponse:
    """POST-redirect-GET, with a flash message shown once on the next page."""
    response = RedirectResponse(to, status_code=303)
    if message is not None:
        payload = quote(json.dumps({"k": message, "a": args}, ensure_ascii=False))
        response.set_cookie(FLASH_COOKIE, payload, path=PREFIX, httponly=True, samesite="strict")
    return response


class Done(BaseModel):
    """What a console action answers: where to go and what to say; stored per form token, so a
    double submit replays this answer instead of acting twice."""

    to: str
    message: str
    args: dict[str, str] = {}


def act(
    c: Console,
    form: Mapping[str, str],
    run: Callable[[], Done],
    on_error: Callable[[DomainError], HTMLResponse],
) -> Response:
    """Run one service call through the write seam, at most once per form token (``Write.once``); on a
    refusal, undo everything and show the form again with the error beside its field."""
    if c.write is None:
        raise RuntimeError("a console action needs a write console (WriteConsole)")
    seam = replace(c.write, key=form.get("form_token") or None)
    payload = {k: v for k, v in sorted(form.items()) if k != "form_token"}
    try:
        done = seam.once(payload, Done, run)
    except DomainError as exc:
        c.session.rollback()
        response = on_error(exc)
        response.status_code = status_for(type(exc))
        return response
    return redirect(done.to, done.message, **done.args)


def error_page(request: Request, status: int, exc: DomainError | None = None) -> HTMLResponse:
    me = getattr(request.state, "console_me", None)
    return render(request, "error.html", lang=lang_of(request), me=me, status=status, error=exc)


class ConsoleRoute(APIRoute):
    """Console routes answer in HTML: the login page when logged out, error pages for refusals."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                if request.method == "POST":
                    await check_post(request)  # same origin, and the session's CSRF token
                return await handler(request)
            except LoginRequired:
                response = RedirectResponse(PREFIX + "/login", status_code=303)
                response.delete_cookie(SESSION_COOKIE, path=PREFIX)
                return response
            except WrongRole:
                return error_page(request, 403)
            except DomainError as exc:
                return error_page(request, status_for(type(exc)), exc)

        return console_handler
