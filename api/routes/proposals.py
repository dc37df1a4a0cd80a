"""Proposals of every kind (提议/待办): the caller's list (filter: awaiting me, kind, status), one
proposal, and the three steps on it: sign (its own signature or its key in custody; the last
signature applies it), reject (a signer who has not signed) and withdraw (the proposer).

The kind-specific routes (``/v1/trade-offers``, ``/v1/allocation-offers``) create proposals and keep
their contract; these routes take the steps on any kind. Each route is one service call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

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
from api.consent import consent_of
from api.deps import ActorDep, MaybeCustodyKeyDep, PageDep, ReaderDep, RegistryDep
from api.schemas import ErrorOut, Page
from api.schemas.proposals import ProposalOut
from api.schemas.trades import AcceptIn
from api.write import Write, WriteDep
from market.proposals import service as proposals
from market.proposals.model import Proposal, ProposalStatus

router = APIRouter(prefix="/v1", tags=["proposals"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}


def _user(request: Request) -> str | None:
    """The named user whose key authenticated the request (accounts.users), or None: the party's own."""
    user = getattr(request.state, "api_user", None)
    return user if isinstance(user, str) else None


@router.get("/proposals", response_model=Page[ProposalOut], responses=ERRORS)
def get_proposals(
    request: Request,
    actor: ActorDep,
    session: ReaderDep,
    registry: RegistryDep,
    page: PageDep,
    awaiting: Annotated[bool, Query(description="only those awaiting the caller's signature (待办)")] = False,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[ProposalStatus | None, Query()] = None,
) -> Page[ProposalOut]:
    """The proposals the caller's party made or must sign, newest first."""
    found = proposals.proposals_of(
        session,
        actor=actor,
        now=registry.clock(),
        kind=kind,
        status=status,
        awaiting=awaiting,
        awaiting_user=_user(request),
    )
    return Page[ProposalOut].cut(found, page, ProposalOut.of)


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, responses=ERRORS)
def get_proposal(proposal_id: str, actor: ActorDep, session: ReaderDep, registry: RegistryDep) -> ProposalOut:
    """One proposal with the body to sign (its proposer and its signers only)."""
    now = registry.clock()
    return ProposalOut.of(proposals.get_proposal(session, actor=actor, proposal_id=proposal_id, now=now))


@router.post("/proposals/{proposal_id}/sign", response_model=ProposalOut, responses=ERRORS)
def post_sign(proposal_id: str, payload: AcceptIn, key: MaybeCustodyKeyDep, w: WriteDep) -> ProposalOut:
    """The caller signs its open slot; the last signature applies the proposal (``record_seq``)."""
    return w.once(
        payload,
        ProposalOut,
        lambda: ProposalOut.of(
            proposals.sign(
                w.session,
                registry=w.registry,
                actor=w.actor,
                proposal_id=proposal_id,
                signed_by=consent_of(payload.signatures or None, key, w.actor.party),
                now=w.registry.clock(),
                user=_user(w.request),
            ).proposal
        ),
    )


def _decide(w: Write, proposal_id: str, close: Callable[..., Proposal]) -> ProposalOut:
    """Reject or withdraw: no signature, and nothing reaches the journal but what the kind's close
    writes (a cross-city request's hold released); once per Idempotency-Key."""
    user, now = _user(w.request), w.registry.clock()
    return w.once(
        None,
        ProposalOut,
        lambda: ProposalOut.of(
            close(w.session, actor=w.actor, proposal_id=proposal_id, now=now, user=user, registry=w.registry)
        ),
    )


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalOut, responses=ERRORS)
def post_reject(proposal_id: str, w: WriteDep) -> ProposalOut:
    """A signer who has not signed turns the proposal down."""
    return _decide(w, proposal_id, proposals.reject)


@router.post("/proposals/{proposal_id}/withdraw", response_model=ProposalOut, responses=ERRORS)
def post_withdraw(proposal_id: str, w: WriteDep) -> ProposalOut:
    """The proposer takes a pending proposal back."""
    return _decide(w, proposal_id, proposals.withdraw)
