"""Buy-back offers (收储要约): the bureau signs one buy-back body (rights into its reserve, its cash to
the enterprise) and the offer waits; the enterprise's signature records both legs in one record.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, or_, select

from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant
from ledger.errors import Conflict, InsufficientBalance, NotFound
from ledger.model import Signature, TxBody
from ledger.service import Receipt, Registry, lock_head_time, new_nonce
from ledger.timeutil import format_date, format_utc, parse_date, parse_utc
from market.auctions.state import aware, free_units
from market.consent import Consent, consent, dump_signatures, load_signatures
from market.issuance.errors import NotInJurisdiction
from market.issuance.service import bureau_of, rights_lot
from market.reserve.service import buy_back, buy_back_draft
from market.reserve.tables import BuyBackOfferRow
from market.trades.offers import OfferStatus

__all__ = [
    "BuyBackOffer",
    "BuyBackOfferNotPending",
    "UnknownBuyBackOffer",
    "accept_buy_back",
    "buy_back_offers_of",
    "offer_buy_back",
    "withdraw_buy_back",
]


class UnknownBuyBackOffer(NotFound):
    code = "unknown_buyback_offer"


class BuyBackOfferNotPending(Conflict):
    code = "buyback_offer_not_pending"


@dataclass(frozen=True, slots=True)
class BuyBackOffer:
    """An offer: the terms (with ``nonce`` they fix the body both sign), who closed it, its state."""

    id: str
    bureau: str
    enterprise: str
    instrument: str
    valid_until: date
    quantity_kg: int
    amount_fen: int
    basis: str | None
    nonce: str
    status: OfferStatus
    created_at: datetime
    closed_by: str | None
    buy_back_seq: int | None

    @property
    def price_fen_per_t(self) -> int:
        """The price per tonne the amount comes to (rounded down to the fen), for display only."""
        return self.amount_fen * 1000 // self.quantity_kg


def offer_buy_back(
    session: Session,
    *,
    actor: Participant,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    amount_fen: int,
    signed_by: Consent,
    now: datetime,
    basis: str | None = None,
) -> BuyBackOffer:
    """The bureau (``actor``) offers to buy rights back into its reserve for ``amount_fen`` and signs
    the body now; nothing moves until the enterprise consents (``accept_buy_back``). The enterprise is
    of the bureau's jurisdiction and holds the quantity free now; the ledger checks again on acceptance."""
    now = aware(now)
    jurisdiction = bureau_of(actor, Action.BUY_BACK_RESERVE)
    if get_participant(session, party=enterprise).jurisdiction != jurisdiction:
        raise NotInJurisdiction(f"{enterprise} is not of {actor.party}'s jurisdiction", field="enterprise")
    body = buy_back_draft(
        session,
        actor=actor,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        amount_fen=amount_fen,
        nonce=new_nonce(),
        basis=basis,
    )
    holding, lot = body.postings[0].account, rights_lot(jurisdiction, valid_until)
    free = free_units(session, account=holding, instrument=body.postings[0].instrument, lot=lot)
    if quantity_kg > free:
        raise InsufficientBalance(
            f"{enterprise} has {free} kg free in lot {lot.key()}, the offer is of {quantity_kg}",
            account=holding,
            instrument=body.postings[0].instrument,
            lot=lot.key(),
            available=free,
            field="quantity_kg",
        )
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    row = BuyBackOfferRow(
        id=secrets.token_hex(8),
        bureau=actor.party,
        enterprise=enterprise,
        instrument=body.postings[0].instrument,
        valid_until=format_date(valid_until),
        quantity_kg=quantity_kg,
        amount_fen=amount_fen,
        basis=basis,
        nonce=body.nonce,
        bureau_signature=dump_signatures({actor.party: sig}),
        status=OfferStatus.PENDING.value,
        created_at=format_utc(now),
    )
    session.add(row)
    session.flush()
    return _offer(row)


def accept_buy_back(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    offer_id: str,
    signed_by: Consent,
    now: datetime,
) -> Receipt:
    """The enterprise consents: its signature joins the bureau's and the buy-back is recorded, rights
    into the reserve and the bureau's cash to the enterprise in one record (``market.reserve.buy_back``;
    a refusal there, e.g. units pledged meanwhile, leaves the offer pending)."""
    now = aware(now)
    lock_head_time(session)  # one acceptance at a time: an offer is taken once
    row = _row(session, actor, offer_id)
    if actor.party != row.enterprise:
        raise PermissionDenied(
            f"{actor.party} may not consent for {row.enterprise} (rule own_units_only)",
            rule="own_units_only",
            action=Action.BUY_BACK_RESERVE.value,
            actor=actor.party,
        )
    offer = _pending(row)
    given: list[Signature] = list(load_signatures(row.bureau_signature).values())
    given += consent(session, bodies=[_body(session, offer)], party=actor.party, signed_by=signed_by, at=now)
    receipt = buy_back(
        session,
        registry=registry,
        actor=get_participant(session, party=offer.bureau),
        signed_by=Consent.given(given),
        enterprise=offer.enterprise,
        instrument=offer.instrument,
        quantity_kg=offer.quantity_kg,
        valid_until=offer.valid_until,
        amount_fen=offer.amount_fen,
        basis=offer.basis,
        nonce=offer.nonce,
    )
    _close(session, row, OfferStatus.ACCEPTED, now, actor.party, receipt.seq)
    return receipt


def withdraw_buy_back(session: Session, *, actor: Participant, offer_id: str, now: datetime) -> BuyBackOffer:
    """The bureau withdraws a pending offer, or the enterprise declines it; its signature is never used."""
    row = _row(session, actor, offer_id)
    _pending(row)
    _close(session, row, OfferStatus.WITHDRAWN, aware(now), actor.party, None)
    return _offer(row)


def buy_back_offers_of(
    session: Session, *, actor: Participant, status: OfferStatus | None = None
) -> list[BuyBackOffer]:
    """The offers ``actor`` made (a bureau) or received (an enterprise), newest first."""
    stmt = select(BuyBackOfferRow).where(
        or_(col(BuyBackOfferRow.bureau) == actor.party, col(BuyBackOfferRow.enterprise) == actor.party)
    )
    if status is not None:
        stmt = stmt.where(BuyBackOfferRow.status == status.value)
    rows = session.exec(stmt.order_by(col(BuyBackOfferRow.created_at).desc(), col(BuyBackOfferRow.id)))
    return [_offer(r) for r in rows]


def _body(session: Session, offer: BuyBackOffer) -> TxBody:
    """The same terms and nonce: the same body, which the bureau signed."""
    return buy_back_draft(
        session,
        actor=get_participant(session, party=offer.bureau),
        enterprise=offer.enterprise,
        instrument=offer.instrument,
        quantity_kg=offer.quantity_kg,
        valid_until=offer.valid_until,
        amount_fen=offer.amount_fen,
        nonce=offer.nonce,
        basis=offer.basis,
    )


def _row(session: Session, actor: Participant, offer_id: str) -> BuyBackOfferRow:
    row = session.get(BuyBackOfferRow, offer_id) if isinstance(offer_id, str) else None
    if row is None or actor.party not in (row.bureau, row.enterprise):
        raise UnknownBuyBackOffer(f"no buy-back offer {offer_id}", field="offer_id")
    return row


def _pending(row: BuyBackOfferRow) -> BuyBackOffer:
    if row.status != OfferStatus.PENDING.value:
        raise BuyBackOfferNotPending(f"buy-back offer {row.id} is {row.status}", offer_id=row.id)
    return _offer(row)


def _close(
    session: Session, row: BuyBackOfferRow, status: OfferStatus, now: datetime, by: str, seq: int | None
) -> None:
    row.status, row.closed_at, row.closed_by, row.buy_back_seq = status.value, format_utc(now), by, seq
    session.add(row)
    session.flush()


def _offer(row: BuyBackOfferRow) -> BuyBackOffer:
    return BuyBackOffer(
        row.id,
        row.bureau,
        row.enterprise,
        row.instrument,
        parse_date(row.valid_until),
        row.quantity_kg,
        row.amount_fen,
        row.basis,
        row.nonce,
        OfferStatus(row.status),
        parse_utc(row.created_at),
        row.closed_by,
        row.buy_back_seq,
    )
