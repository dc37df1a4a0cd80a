"""The cooperative's household pages (社员分配): its rosters and members, and each member's printable
statement (Chinese first) with the inclusion proof of every record it cites."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from accounts.model import Role
from api.console.web import PREFIX, ConsoleRoute, ReadConsole, page
from market.households.service import rosters_of
from market.households.statement import member_statement

router = APIRouter(prefix=PREFIX + "/households", route_class=ConsoleRoute, include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def households(c: ReadConsole) -> HTMLResponse:
    """The cooperative's rosters, and its members of the latest one with a link to each statement."""
    c.need(Role.COOPERATIVE)
    rosters = rosters_of(c.session, cooperative=c.me.party)
    latest = rosters[-1].meta["members"] if rosters else []
    return page(c, "households.html", rosters=rosters, members=latest, cooperative=c.me.party)


@router.get("/{cooperative}/{member}", response_class=HTMLResponse)
def statement(cooperative: str, member: str, c: ReadConsole) -> HTMLResponse:
    """A member's statement: farm, attributed tCO2e, sales and money received, with proofs; printable."""
    found = member_statement(c.session, actor=c.me, cooperative=cooperative, member=member)
    return page(c, "household_statement.html", s=found)
