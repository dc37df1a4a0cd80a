"""Trade offers (挂牌/协议转让 with the registry keeping the consents) as a proposal kind: the seller
signs one trade body and the offer waits; the buyer's signature applies it and the trade is recorded,
DvP. Collecting, withdrawal and refusal are ``market.proposals``'; this module is the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.service import get_participant
from ledger.errors import InsufficientBalance
from ledger.model import Lot, TxBody
from ledger.service import Registry, new_nonce
from ledger.timeutil import parse_date
from market.auctions.state import free_units
from market.consent import Consent
from market.proposals import offers as two_party
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.proposals.model import Proposal
from market.proposals.offers import OfferStatus
from market.proposals.service import Applied, ProposalKind, register
from market.trades.service import Trade, trade, trade_body, trade_draft

__all__ = [
    "DESK",
    "TRADE_OFFER",
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

TRADE_OFFER = "trade_offer"


class UnknownTradeOffer(UnknownProposal):
    code = "unknown_trade_offer"  # the API contract of /v1/trade-offers


class TradeOfferNotPending(ProposalClosed):
    code = "trade_offer_not_pending"


def _lot(terms: Mapping[str, Any]) -> Lot:
    return Lot(jurisdiction=terms["jurisdiction"], valid_until=parse_date(terms["valid_until"]))


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody:
    """The same terms and nonce: the same body, which the seller signed."""
    return trade_body(
        seller=terms["seller"],
        buyer=terms["buyer"],
        instrument=terms["instrument"],
        lot=_lot(terms),
        quantity_kg=terms["quantity_kg"],
        price_fen_per_t=terms["price_fen_per_t"],
        nonce=terms["nonce"],
    )


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The trade with both signatures, its rules checked again (``market.trades.service.trade``)."""
    t = proposal.terms
    done = trade(
        session,
        registry=registry,
        actor=get_participant(session, party=t["buyer"]),
        signed_by=given,
        seller=t["seller"],
        buyer=t["buyer"],
        instrument=t["instrument"],
        valid_until=parse_date(t["valid_until"]),
        quantity_kg=t["quantity_kg"],
        price_fen_per_t=t["price_fen_per_t"],
        nonce=t["nonce"],
    )
    return Applied(done.seq, done)


register(ProposalKind(TRADE_OFFER, _draft, _apply, UnknownTradeOffer, TradeOfferNotPending))


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
    body: TxBody

    @classmethod
    def of(cls, p: Proposal) -> TradeOffer:
        t = p.terms
        assert p.body is not None
        return cls(
            p.id,
            t["seller"],
            t["buyer"],
            t["instrument"],
            _lot(t),
            t["quantity_kg"],
            t["price_fen_per_t"],
            t["nonce"],
            OfferStatus.of(p.status),
            p.record_seq,
            p.body,
        )


DESK = two_party.OfferDesk(TRADE_OFFER, TradeOffer.of, Trade)
# The buyer accepts (the trade is recorded, DvP; a refusal then leaves the offer pending) or declines;
# the seller withdraws; an offer is seen by its seller and buyer only (``UnknownTradeOffer``).
accept_offer, withdraw_offer, get_offer, offers_of = DESK.accept, DESK.withdraw, DESK.get, DESK.list


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
    terms = {
        "seller": actor.party,
        "buyer": buyer,
        "jurisdiction": str(lot.jurisdiction),
        **two_party.rights_terms(body, valid_until=valid_until, quantity_kg=quantity_kg),
        "price_fen_per_t": price_fen_per_t,
    }
    return DESK.make(session, actor=actor, counterparty=buyer, terms=terms, signed_by=signed_by, now=now)


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
