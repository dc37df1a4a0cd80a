"""The routes every two-party offer kind shares (list, one offer, accept, withdraw or decline), written
once and mounted by each kind's router under its own path, keeping each kind's URLs, answers and error
codes (``/v1/trade-offers``, ``/v1/allocation-offers``). Creating an offer stays with its kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.consent import consent_of
from api.deps import ActorDep, MaybeCustodyKeyDep, PageDep, ReaderDep
from api.schemas import ErrorOut, Page
from api.schemas.trades import AcceptIn
from api.write import WriteDep
from market.proposals.offers import OfferDesk, OfferStatus

__all__ = ["ERRORS", "offer_routes"]

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}
View = TypeVar("View")
Result = TypeVar("Result")


def offer_routes(
    router: APIRouter,
    path: str,
    *,
    desk: OfferDesk[View, Result],
    show: Callable[[View], BaseModel],
    shown: type[BaseModel],
    listed: type[Page[Any]],
    done: Callable[[Result], BaseModel],
    done_out: type[BaseModel],
) -> None:
    """Mount ``GET path``, ``GET path/{offer_id}``, ``POST path/{offer_id}/accept`` and
    ``POST path/{offer_id}/withdraw`` for ``desk``'s kind on ``router``."""

    @router.get(path, response_model=listed, responses=ERRORS)
    def get_offers(
        actor: ActorDep,
        session: ReaderDep,
        page: PageDep,
        status: Annotated[OfferStatus | None, Query()] = None,
    ) -> Any:
        """The offers the caller made or received, newest first."""
        return listed.cut(desk.list(session, actor=actor, status=status), page, show)

    @router.get(path + "/{offer_id}", response_model=shown, responses=ERRORS)
    def get_offer(offer_id: str, actor: ActorDep, session: ReaderDep) -> Any:
        """One offer with the body to sign (its two parties only)."""
        return show(desk.get(session, actor=actor, offer_id=offer_id))

    @router.post(path + "/{offer_id}/accept", response_model=done_out, responses=ERRORS)
    def post_accept(offer_id: str, payload: AcceptIn, key: MaybeCustodyKeyDep, w: WriteDep) -> Any:
        """The counterparty accepts with its custody key or its own signature: the offer is recorded
        with both signatures, in one record."""
        signed_by = consent_of(payload.signatures or None, key, w.actor.party)
        return w.once(
            payload,
            done_out,
            lambda: done(
                desk.accept(
                    w.session,
                    registry=w.registry,
                    actor=w.actor,
                    offer_id=offer_id,
                    signed_by=signed_by,
                    now=w.registry.clock(),
                )
            ),
        )

    @router.post(path + "/{offer_id}/withdraw", response_model=shown, responses=ERRORS)
    def post_withdraw(offer_id: str, w: WriteDep) -> Any:
        """The proposer withdraws a pending offer, or the counterparty declines it."""
        return w.once(
            None,
            shown,
            lambda: show(desk.withdraw(w.session, actor=w.actor, offer_id=offer_id, now=w.registry.clock())),
        )
