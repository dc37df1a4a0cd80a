"""Request and response models of bilateral trades (排污权交易): a trade both parties signed, and trade
offers (the seller's consent kept until the buyer accepts)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import CleanText, Day, StrictIn
from api.schemas.issuance import BodyOut, Nonce, Signatures
from market.trades.offers import TradeOffer
from market.trades.service import Trade

__all__ = ["AcceptIn", "OfferIn", "TradeDraftQuery", "TradeIn", "TradeOfferOut", "TradeOut"]

Kg = Annotated[int, Field(gt=0, le=10**15, description="kilograms per year")]
FenPerT = Annotated[int, Field(gt=0, le=10**13, description="agreed price, fen per tonne")]
Party = Annotated[str, Field(max_length=128)]
Instrument = Annotated[str, Field(max_length=16, description="COD, NH3-N, SO2, NOX, TN, TP or VOCS")]


class TradeIn(StrictIn):
    """A trade seller and buyer both consent to. The submitter (either party) signs with its custody
    key, or gives its own signature; the other's signature is over ``GET /v1/trades/draft`` with the
    same ``nonce``."""

    seller: Party
    buyer: Party
    instrument: Instrument
    valid_until: Day
    quantity_kg: Kg
    price_fen_per_t: FenPerT
    nonce: Nonce
    signatures: Signatures


class TradeDraftQuery(CleanText):
    """The terms of a trade whose body both parties sign (query parameters)."""

    model_config = ConfigDict(extra="forbid")
    seller: Party
    buyer: Party
    instrument: Instrument
    valid_until: Day
    quantity_kg: Kg
    price_fen_per_t: FenPerT
    nonce: Nonce


class TradeOut(BaseModel):
    seq: int = Field(description="the trade's journal record")
    seller: str
    buyer: str
    instrument: str
    lot: str
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int = Field(description="what the buyer paid, fen")

    @classmethod
    def of(cls, t: Trade) -> TradeOut:
        return cls(
            seq=t.seq,
            seller=t.seller,
            buyer=t.buyer,
            instrument=t.instrument,
            lot=t.lot.key(),
            quantity_kg=t.quantity_kg,
            price_fen_per_t=t.price_fen_per_t,
            amount_fen=t.amount_fen,
        )


class OfferIn(StrictIn):
    """The caller (the seller) offers a trade to ``buyer``: signed now with its custody key, or with
    its own signature over ``GET /v1/trades/draft`` for the same terms and ``nonce``."""

    buyer: Party
    instrument: Instrument
    valid_until: Day
    quantity_kg: Kg
    price_fen_per_t: FenPerT
    nonce: Nonce | None = None
    signatures: Signatures


class AcceptIn(StrictIn):
    """The buyer accepts: with its custody key, or its own signature over the offer's ``body``."""

    signatures: Signatures


class TradeOfferOut(BaseModel):
    id: str
    seller: str
    buyer: str
    instrument: str
    lot: str
    quantity_kg: int
    price_fen_per_t: int
    status: str
    trade_seq: int | None
    draft: BodyOut = Field(description="the trade body both sign")

    @classmethod
    def of(cls, o: TradeOffer) -> TradeOfferOut:
        return cls(
            id=o.id,
            seller=o.seller,
            buyer=o.buyer,
            instrument=o.instrument,
            lot=o.lot.key(),
            quantity_kg=o.quantity_kg,
            price_fen_per_t=o.price_fen_per_t,
            status=o.status.value,
            trade_seq=o.trade_seq,
            draft=BodyOut.of(o.body),
        )
