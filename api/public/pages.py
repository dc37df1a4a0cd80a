"""The public registry's pages (/public, in Chinese and English), without a login: caps and their use per
city, blue-carbon projects with issuances and retirements by serial range, and auction results (成交公示)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from api.console import charts
from api.console.web import PREFIX, TEMPLATES, instrument_name, lang_href, lang_of, qty, when, yuan
from api.limits import RateLimited
from api.public.cache import DEFAULT_TTL_S, conditional
from api.public.reads import city, guard, public_data
from api.public.text import public_text

__all__ = ["PUBLIC", "router"]

PUBLIC = "/public"
router = APIRouter(prefix=PUBLIC, include_in_schema=False)
# the public pages' own templates, then the console's (base.html and its stylesheet: one look)
ENV = Environment(
    loader=ChoiceLoader([FileSystemLoader(Path(__file__).parent / "templates"), TEMPLATES.env.loader]),  # type: ignore[list-item]
    autoescape=True,
    undefined=StrictUndefined,
)


def _page(request: Request, template: str, **context: Any) -> Response:
    """One page in the reader's language, with an ETag; 429 as a page of its own past the rate."""
    lang = lang_of(request)
    try:
        guard(request)
    except RateLimited as exc:
        seconds = str(exc.details["retry_after_s"])
        text = public_text(lang, "err.rate_limited")
        return HTMLResponse(
            f"<!doctype html><title>429</title><p>{text} ({seconds} s)</p>",
            status_code=429,
            headers={"Retry-After": seconds, "X-Error-Code": exc.code},
        )
    ctx: dict[str, Any] = {
        "lang": lang,
        "me": None,
        "home": PUBLIC,
        "P": PREFIX,
        "PUB": PUBLIC,
        "flash": None,
        "error": None,
        "csrf_value": "",
        "path": request.url.path,
        "lang_href": lambda to: lang_href(request, to),
        "t": lambda key, **a: public_text(lang, key, **a),
        "qty": qty,
        "inst_name": lambda code: instrument_name(code, lang),
        "yuan": lambda fen: yuan(fen, lang),
        "when": when,
        "city": lambda code: city(code, lang),
        **context,
    }
    body = ENV.get_template(template).render(ctx).encode()
    return conditional(request, body, "text/html; charset=utf-8", int(DEFAULT_TTL_S))


@router.get("", response_class=HTMLResponse)
def caps_page(request: Request) -> Response:
    """Caps in force per city and instrument, with their use, as tables and per-unit charts."""
    positions = public_data(request, "caps")
    lang = lang_of(request)
    return _page(
        request, "public_caps.html", positions=positions, cap_charts=charts.cap_use_panels(lang, positions)
    )


@router.get("/bluecarbon", response_class=HTMLResponse)
def bluecarbon_page(request: Request) -> Response:
    """Blue-carbon projects, their issued batches by serial range, and retirements with beneficiary."""
    return _page(
        request,
        "public_bluecarbon.html",
        projects=public_data(request, "projects"),
        batches=public_data(request, "issuances"),
        retirements=public_data(request, "retirements"),
    )


@router.get("/auctions", response_class=HTMLResponse)
def auctions_page(request: Request) -> Response:
    """Results of closed auctions: totals, price range and each winner's line (成交公示)."""
    return _page(request, "public_auctions.html", auctions=public_data(request, "auctions"))
