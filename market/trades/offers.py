"""Trade offers (挂牌/协议转让 with the registry keeping the consents): the seller signs one trade body
and the offer waits; the buyer accepts with its own signature and the trade is recorded, DvP.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Session, col, or_, select

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action
from ledger.errors import Conflict, InsufficientBalance, NotFound
from ledger.model import Lot, TxBody
from ledger.service import Registry, lock_head_time, new_nonce
from ledger.timeutil import format_date, format_utc, parse_date
from market.auctions.state import aware, free_units
from market.consent import Consent, consent, dump_signatures, load_signatures
from market.trades.service import Trade, trade, trade_body, trade_draft
from market.trades.tables import TradeOfferRow

__all__ = [
    "OfferStatus",
    "TradeOffer",
    "TradeOfferNotPending",
    "UnknownTradeOffer",
    "accept_offer",
    "get_offer",
    "offer_trade",
    "offers_of",
    "withdraw_offer",
]


class UnknownTradeOffer(NotFound):
    code = "unknown_trade_offer"


class TradeOfferNotPending(Conflict):
    code = "trade_offer_not_pending"


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class TradeOffer:
    """An offer: the trade's terms, the body both sign (fixed by them and ``nonce``), its state."""

    id: str
    seller: str
    buyer: str
    instrument: str
    lot: Lot
    quantity_kg: int
    price_fen_per_t: int
    nonce: str
    status: OfferStatus
    trade_seq: int | None

    @property
    def body(self) -> TxBody:
        return trade_body(
            seller=self.seller,
            buyer=self.buyer,
            instrument=self.instrument,
            lot=self.lot,
            quantity_kg=self.quantity_kg,
            price_fen_per_t=self.price_fen_per_t,
            nonce=self.nonce,
        )


def offer_trade(
    session: Session,
    *,
    actor: Participant,
    buyer: str,
    instrument: str,
    valid_until: date,
    quantity_kg: int,
    price_fen_per_t: int,
    signed_by: Consent,
    now: datetime,
    nonce: str | None = None,
) -> TradeOffer:
    """The seller (``actor``) offers a trade to ``buyer`` and signs its body now; nothing moves yet.

    The same rules as ``market.trades.service.trade`` are checked at once (two enterprises of one
    jurisdiction, a right, at least one fen), and again when the buyer accepts. The seller's signature
    is verified under its current keys and kept with the offer, never applied on its own.
    """
    now = aware(now)
    body = trade_draft(
        session,
        actor=actor,
        seller=actor.party,
        buyer=buyer,
        instrument=instrument,
        valid_until=valid_until,
        quantity_kg=quantity_kg,
        price_fen_per_t=price_fen_per_t,
        nonce=nonce or new_nonce(),
    )
    lot = body.postings[0].lot
    _check_free(session, seller=actor.party, instrument=body.postings[0].instrument, lot=lot, kg=quantity_kg)
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    row = TradeOfferRow(
        id=secrets.token_hex(8),
        seller=actor.party,
        buyer=buyer,
        instrument=body.postings[0].instrument,
        jurisdiction=str(lot.jurisdiction),
        valid_until=format_date(valid_until),
        quantity_kg=quantity_kg,
        price_fen_per_t=price_fen_per_t,
        nonce=body.nonce,
        seller_signature=dump_signatures({actor.party: sig}),
        status=OfferStatus.PENDING.value,
        created_at=format_utc(now),
    )
    session.add(row)
    session.flush()
    return _offer(row)


def _check_free(session: Session, *, seller: str, instrument: str, lot: Lot, kg: int) -> None:
    """An offer of more than the seller's free units of the lot is refused when made, not only when
    accepted: a lot the seller does not hold (a validity end nobody was issued) has none free. The
    units are not reserved by the offer, so acceptance checks again (``market.trades.service.trade``)."""
    holding = account_id(seller, "holding")
    free = free_units(session, account=holding, instrument=instrument, lot=lot)
    if kg > free:
        raise InsufficientBalance(
            f"{seller} has {free} kg of {instrument} free in lot {lot.key()}, the offer is of {kg}",
            account=holding,
            instrument=instrument,
            lot=lot.key(),
            available=free,
            field="quantity_kg",
        )


def accept_offer(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    offer_id: str,
    signed_by: Consent,
    now: datetime,
) -> Trade:
    """The buyer accepts: its consent joins the seller's and the trade is recorded, DvP, in one record
    (``market.trades.service.trade``; a refusal there leaves the offer pending)."""
    now = aware(now)
    lock_head_time(session)  # one acceptance at a time: an offer is taken once
    row = _row(session, actor, offer_id)
    if actor.party != row.buyer:
        raise PermissionDenied(
            f"{actor.party} may not {Action.TRANSFER_UNITS.value}: only the buyer accepts an offer "
            "(rule own_units_only)",
            rule="own_units_only",
            action=Action.TRANSFER_UNITS.value,
            actor=actor.party,
        )
    offer = _pending(row)
    mine = consent(session, bodies=[offer.body], party=actor.party, signed_by=signed_by, at=now)
    stored = tuple(load_signatures(row.seller_signature).values())
    done = trade(
        session,
        registry=registry,
        actor=actor,
        signed_by=Consent.given(stored + mine),
        seller=offer.seller,
        buyer=offer.buyer,
        instrument=offer.instrument,
        valid_until=_day(offer.lot),
        quantity_kg=offer.quantity_kg,
        price_fen_per_t=offer.price_fen_per_t,
        nonce=offer.nonce,
    )
    _close(session, row, OfferStatus.ACCEPTED, now, done.seq)
    return done


def withdraw_offer(session: Session, *, actor: Participant, offer_id: str, now: datetime) -> TradeOffer:
    """The seller withdraws a pending offer, or the buyer declines it; its signature is never used."""
    row = _row(session, actor, offer_id)
    _pending(row)
    _close(session, row, OfferStatus.WITHDRAWN, aware(now), None)
    return _offer(row)


def get_offer(session: Session, *, actor: Participant, offer_id: str) -> TradeOffer:
    """An offer, to its seller or buyer only (``UnknownTradeOffer`` to anyone else)."""
    return _offer(_row(session, actor, offer_id))


def offers_of(session: Session, *, actor: Participant, status: OfferStatus | None = None) -> list[TradeOffer]:
    """The offers ``actor`` made or received, newest first."""
    stmt = select(TradeOfferRow).where(
        or_(col(TradeOfferRow.seller) == actor.party, col(TradeOfferRow.buyer) == actor.party)
    )
    if status is not None:
        stmt = stmt.where(TradeOfferRow.status == status.value)
    rows = session.exec(stmt.order_by(col(TradeOfferRow.created_at).desc(), col(TradeOfferRow.id)))
    return [_offer(r) for r in rows]


def _row(session: Session, actor: Participant, offer_id: str) -> TradeOfferRow:
    row = session.get(TradeOfferRow, offer_id) if isinstance(offer_id, str) else None
    if row is None or actor.party not in (row.seller, row.buyer):
        raise UnknownTradeOffer(f"no trade offer {offer_id}", field="offer_id")
    return row


def _pending(row: TradeOfferRow) -> TradeOffer:
    if row.status != OfferStatus.PENDING.value:
        raise TradeOfferNotPending(f"trade offer {row.id} is {row.status}", offer_id=row.id)
    return _offer(row)


def _close(session: Session, row: TradeOfferRow, status: OfferStatus, now: datetime, seq: int | None) -> None:
    row.status, row.closed_at, row.trade_seq = status.value, format_utc(now), seq
    session.add(row)
    session.flush()


def _day(lot: Lot) -> date:
    assert lot.valid_until is not None  # rights always carry their validity
    return lot.valid_until


def _offer(row: TradeOfferRow) -> TradeOffer:
    return TradeOffer(
        row.id,
        row.seller,
        row.buyer,
        row.instrument,
        Lot(jurisdiction=row.jurisdiction, valid_until=parse_date(row.valid_until)),
        row.quantity_kg,
        row.price_fen_per_t,
        row.nonce,
        OfferStatus(row.status),
        row.trade_seq,
    )
