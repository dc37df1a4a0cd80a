"""Household rosters and statements (社员分配): a cooperative registers its members for a period, the
bureau confirms the roster onto the journal, and a member's statement comes with its inclusion proofs.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ActorDep, CustodyKeyDep, ReaderDep
from api.schemas import ErrorOut
from api.schemas.households import RosterIn, RosterOut, StatementOut
from api.write import WriteDep
from market.consent import Consent
from market.households.service import confirm_roster, get_roster, register_roster
from market.households.statement import member_statement

router = APIRouter(prefix="/v1", tags=["households"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
READ_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404)}


@router.post("/bc/rosters", response_model=RosterOut, responses=ERRORS)
def post_roster(payload: RosterIn, key: CustodyKeyDep, w: WriteDep) -> RosterOut:
    """Register (and sign) the member households of a project for a monitoring period (the owner only)."""
    return w.once(
        payload,
        RosterOut,
        lambda: RosterOut.of(
            register_roster(
                w.session,
                actor=w.actor,
                signed_by=Consent.custody(w.actor.party, key),
                project=payload.project,
                period_start=payload.period_start,
                period_end=payload.period_end,
                fee_bp=payload.fee_bp,
                members=[m.entry() for m in payload.members],
            )
        ),
    )


@router.post("/bc/rosters/{roster}/confirm", response_model=RosterOut, responses=ERRORS)
def post_roster_confirmation(roster: str, key: CustodyKeyDep, w: WriteDep) -> RosterOut:
    """Confirm a roster onto the journal (the project's bureau only), opening the members' accounts."""

    def run() -> RosterOut:
        signed_by = Consent.custody(w.actor.party, key)
        confirm_roster(w.session, registry=w.registry, actor=w.actor, signed_by=signed_by, roster=roster)
        return RosterOut.of(get_roster(w.session, roster=roster))

    return w.once(None, RosterOut, run)


@router.get(
    "/bc/cooperatives/{cooperative}/members/{member}/statement",
    response_model=StatementOut,
    responses=READ_ERRORS,
)
def get_statement(cooperative: str, member: str, actor: ActorDep, session: ReaderDep) -> StatementOut:
    """A member household's statement: farm, attributed tCO2e, sales, money received, with proofs."""
    return StatementOut.of(member_statement(session, actor=actor, cooperative=cooperative, member=member))
