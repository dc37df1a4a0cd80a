"""The console's one to-do list (待办) of proposals of every kind awaiting the logged-in party (and its
named user), with approve (sign), reject and withdraw; and ``take_step``, the one helper every page
that shows a proposal (trade offers, paid-use and buy-back offers, four-eyes) takes those steps with.

A custody user takes each step alone: its key in the registry's vault signs (``Console.consent``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response

# Importing the workflows registers their proposal kinds with the generic service.
import market.auctions.payment
import market.crosscity.settlement
import market.foureyes.allocation
import market.foureyes.credits
import market.foureyes.service
import market.issuance.offers
import market.pledges.registration
import market.reserve.offers
import market.trades.offers  # noqa: F401
from api.console.web import PREFIX, Console, ConsoleRoute, Done, FormDep, ReadConsole, WriteConsole, act, page
from ledger.errors import DomainError, InvalidInput
from market.proposals import service as proposals

__all__ = ["HERE", "Outcome", "take_step"]

HERE = PREFIX + "/todo"
router = APIRouter(prefix=HERE, route_class=ConsoleRoute, include_in_schema=False)
STEPS = ("sign", "reject", "withdraw", "close")
# The words the kinds' pages have always used in their URLs, for the same steps.
ALIASES = {"accept": "sign", "approve": "sign", "decline": "reject"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where a page sends the user after a step on a proposal and what it says: a flash key per step
    (``args``: the proposal ``id``, and ``seq`` once applied, plus ``extra`` of the kind's result)."""

    to: str
    signed: str = "flash.proposal_signed"
    rejected: str = "flash.proposal_rejected"
    withdrawn: str = "flash.proposal_withdrawn"
    kind: str | None = None  # a kind's page answers the kind's own error codes
    extra: Callable[[object], dict[str, str]] = field(default=lambda _result: {})


def take_step(
    c: Console,
    form: Mapping[str, str],
    *,
    proposal_id: str,
    step: str,
    outcome: Outcome,
    on_error: Callable[[DomainError], HTMLResponse],
) -> Response:
    """One step on a proposal, at most once per form token: ``sign`` (with the custody key; the last
    signature applies it), ``reject``, ``withdraw``, or ``close`` (the proposer withdraws, a signer
    declines)."""

    step = ALIASES.get(step, step)

    def run() -> Done:
        if step not in STEPS:
            raise InvalidInput("step must be sign, reject, withdraw or close", field="step")
        args = {"id": proposal_id}
        if step == "sign":
            done = proposals.sign(
                c.session,
                registry=c.app.registry,
                actor=c.me,
                proposal_id=proposal_id,
                signed_by=c.consent(),
                now=c.now,
                user=c.user,
                kind=outcome.kind,
            )
            if done.applied is not None:
                args |= {"seq": str(done.applied.seq), **outcome.extra(done.applied.result)}
            return Done(to=outcome.to, message=outcome.signed, args=args)
        found = proposals.get_proposal(
            c.session, actor=c.me, proposal_id=proposal_id, now=c.now, kind=outcome.kind
        )
        mine = found.party == c.me.party and found.proposed_by in (None, c.user)
        withdraw = step == "withdraw" or (step == "close" and mine)
        close = proposals.withdraw if withdraw else proposals.reject
        close(
            c.session,
            actor=c.me,
            proposal_id=proposal_id,
            now=c.now,
            user=c.user,
            kind=outcome.kind,
            registry=c.app.registry,
        )
        return Done(to=outcome.to, message=outcome.withdrawn if withdraw else outcome.rejected, args=args)

    return act(c, form, run, on_error)


def _page(c: Console, **extra: object) -> HTMLResponse:
    awaiting = proposals.proposals_of(c.session, actor=c.me, now=c.now, awaiting=True, awaiting_user=c.user)
    made = proposals.proposals_of(c.session, actor=c.me, now=c.now)
    mine = [
        p for p in made if p.status == "pending" and p.party == c.me.party and p.proposed_by in (None, c.user)
    ]
    return page(c, "proposals.html", awaiting=awaiting, mine=mine, recent=made[:30], **extra)


@router.get("", response_class=HTMLResponse)
def todo(c: ReadConsole) -> HTMLResponse:
    """Every proposal awaiting this party's (this user's) signature, and its own pending ones."""
    return _page(c)


@router.post("/{proposal_id}/{step}")
def step(proposal_id: str, step: str, c: WriteConsole, form: FormDep) -> Response:
    """Approve (sign), reject or withdraw one proposal from the to-do list."""
    return take_step(
        c,
        form,
        proposal_id=proposal_id,
        step=step,
        outcome=Outcome(to=HERE),
        on_error=lambda exc: _page(c, error=exc, values=form, failed=proposal_id),
    )
