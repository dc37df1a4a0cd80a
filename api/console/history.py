"""Every participant's account history (账户流水): the records that touched its own accounts, newest
first, filtered and paged in the database, each with a downloadable inclusion proof (the file that
``ecoledger audit certificate`` checks offline)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from accounts.history import own_history, own_record_proof
from api.console.lists import ListQuery, Paged, read_query
from api.console.web import CST, PREFIX, ConsoleRoute, ReadConsole, WriteConsole, page
from ledger.history import Touch
from ledger.timeutil import day_in_range
from ledger.units import INSTRUMENTS

__all__ = ["ACTIONS", "router"]

router = APIRouter(prefix=PREFIX + "/history", route_class=ConsoleRoute, include_in_schema=False)

# The record kinds a person filters by (record action, or type for records that are not transactions).
ACTIONS = (
    "transfer",
    "trade",
    "cap.set",
    "allocation.initial",
    "allocation.major_project",
    "reserve.buy_back",
    "auction.open",
    "auction.bid",
    "auction.result",
    "auction.settle",
    "auction.forfeit",
    "pledge.register",
    "pledge.release",
    "pledge.enforce",
    "crosscity.hold",
    "crosscity.release",
    "crosscity.settle",
    "bc.issue",
    "bc.transfer",
    "bc.retire",
    "cash.deposit",
    "expiry",
    "account.open",
    "party.register",
    "key.register",
    "key.revoke",
)


def _day(raw: str) -> date | None:
    """A typed day, or ``None`` (no bound) for an empty, malformed or out-of-range one."""
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day is not None and day_in_range(day) else None


def _start_of(day: date | None) -> datetime | None:
    """A Beijing-time day's first instant: a person's "from 6 December" means China's day."""
    return None if day is None else datetime.combine(day, time(), CST)


def _history(c: ReadConsole, query: ListQuery) -> Paged[Touch]:
    instrument = query.get("instrument")
    action = query.get("action")
    until = _day(query.get("until"))
    found = own_history(
        c.session,
        actor=c.me,
        instrument=instrument if instrument in INSTRUMENTS else None,
        action=action if action in ACTIONS else None,
        since=_start_of(_day(query.get("since"))),
        until=_start_of(until + timedelta(days=1)) if until else None,
        offset=query.offset,
        limit=query.per_page,
    )
    return Paged(found.records, found.total, query)


@router.get("", response_class=HTMLResponse)
def history(c: ReadConsole) -> HTMLResponse:
    """The records that touched this participant's own accounts, with filters and pages."""
    query = read_query(c.request, ("instrument", "action", "since", "until"))
    return page(
        c,
        "history.html",
        paged=_history(c, query),
        instruments=tuple(INSTRUMENTS),
        actions=[(a, c.t(f"action.{a}")) for a in ACTIONS],
    )


@router.get("/{seq}/proof.json")
def proof(seq: Annotated[int, Path(ge=0, le=2**62)], c: WriteConsole) -> Response:
    """One record of this participant's history with its inclusion proof under a signed checkpoint
    (a checkpoint is signed if none covers the record yet); refused for another party's record."""
    body = own_record_proof(c.session, actor=c.me, seq=seq, registry=c.app.registry)
    return Response(
        json.dumps(body, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="record-{seq}-proof.json"'},
    )
