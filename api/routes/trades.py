"""Bilateral trades between enterprises of one jurisdiction, delivery versus payment, both parties'
signatures.

Two ways to gather both consents: a client collects both signatures over ``GET /v1/trades/draft`` and
posts ``/v1/trades``; or the seller posts a trade offer (signed now, kept pending) and the buyer
accepts it, each with its key in custody or its own signature.

Each route parses, calls one service function and returns its result; rules live in the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.consent import consent_of, consent_with
from api.deps import ActorDep, MaybeCustodyKeyDep, ReaderDep
from api.routes.offers import ERRORS, offer_routes
from api.schemas import Page
from api.schemas.issuance import BodyOut
from api.schemas.trades import OfferIn, TradeDraftQuery, TradeIn, TradeOfferOut, TradeOut
from api.write import WriteDep
from market.trades.offers import DESK, offer_trade
from market.trades.service import trade, trade_draft

router = APIRouter(prefix="/v1", tags=["trades"])


@router.get("/trades/draft", response_model=BodyOut, responses=ERRORS)
def get_trade_draft(
    query: Annotated[TradeDraftQuery, Query()], actor: ActorDep, session: ReaderDep
) -> BodyOut:
    """The trade body seller and buyer sign (either of them may ask; the same checks as a trade)."""
    return BodyOut.of(
        trade_draft(
            session,
            actor=actor,
            **query.arguments(),
        )
    )


@router.post("/trades", response_model=TradeOut, responses=ERRORS)
def post_trade(payload: TradeIn, key: MaybeCustodyKeyDep, w: WriteDep) -> TradeOut:
    """Record a trade both parties signed, delivery versus payment (钱货两清) in one record."""
    return w.once(
        payload,
        TradeOut,
        lambda: TradeOut.of(
            trade(
                w.session,
                registry=w.registry,
                actor=w.actor,
                signed_by=consent_with(w.actor.party, key, payload.signatures),
                **payload.arguments(),
            )
        ),
    )


@router.post("/trade-offers", response_model=TradeOfferOut, responses=ERRORS)
def post_offer(payload: OfferIn, key: MaybeCustodyKeyDep, w: WriteDep) -> TradeOfferOut:
    """The seller offers a trade to a buyer, signed now; nothing moves until the buyer accepts."""
    return w.once(
        payload,
        TradeOfferOut,
        lambda: TradeOfferOut.of(
            offer_trade(
                w.session,
                actor=w.actor,
                signed_by=consent_of(payload.signatures or None, key, w.actor.party),
                now=w.registry.clock(),
                **payload.arguments(),
            )
        ),
    )


offer_routes(
    router,
    "/trade-offers",
    desk=DESK,
    show=TradeOfferOut.of,
    shown=TradeOfferOut,
    listed=Page[TradeOfferOut],
    done=TradeOut.of,
    done_out=TradeOut,
)
