"""What the public pages and JSON read: the public read model (market.public), cached per process, and
the per-address limit every anonymous request passes first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlmodel import Session

from accounts.identifiers import DIVISIONS
from api.deps import state
from api.public.cache import cache_of
from api.security import client_address
from market.issuance.service import CapPosition
from market.public import service as public

__all__ = ["KINDS", "city", "guard", "public_data"]

_Reader = Callable[[Session, datetime], list[Any]]
KINDS: dict[str, _Reader] = {
    "projects": lambda s, now: public.public_projects(s),
    "issuances": lambda s, now: public.public_batches(s),
    "retirements": lambda s, now: public.public_retirements(s),
    "auctions": lambda s, now: public.public_auctions(s, now=now),
    "caps": lambda s, now: public.public_caps(s),
}


def guard(request: Request) -> None:
    """The per-address rate of the public registry (429 ``rate_limited`` with Retry-After past it)."""
    state(request).limits.public_read(client_address(request.scope))


def public_data(request: Request, kind: str) -> list[Any]:
    """The public rows of ``kind``, from the cache or read now (read-only engine, the registry's clock)."""
    app = state(request)

    def read() -> list[Any]:
        with Session(app.reader) as session:
            return KINDS[kind](session, app.registry.clock())

    return cache_of(request).get(("data", kind), read)


def city(code: str, lang: str) -> str:
    """A division's name in ``lang`` (the code itself for one this registry does not name)."""
    found = DIVISIONS.get(code)
    if found is None:
        return code
    return found.name_zh if lang == "zh" else found.name


def cap_row(p: CapPosition) -> dict[str, Any]:
    return {
        "jurisdiction": p.jurisdiction,
        "city": city(p.jurisdiction, "en"),
        "city_zh": city(p.jurisdiction, "zh"),
        "instrument": p.instrument,
        "valid_until": p.lot.valid_until.isoformat() if p.lot.valid_until else "",
        "cap_kg": p.cap_kg,
        "allocated_kg": p.allocated_kg,
        "reserve_kg": p.reserve_kg,
        "reserve_held_kg": p.reserve_held_kg,
    }
