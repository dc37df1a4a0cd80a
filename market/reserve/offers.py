"""Buy-back offers (收储要约) as a proposal kind: the bureau signs one buy-back body (rights into its
reserve, its cash to the enterprise) and the offer waits; the enterprise's signature applies both legs
in one record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import get_participant
from ledger.errors import InsufficientBalance
from ledger.model import TxBody
from ledger.service import Receipt, Registry, new_nonce
from ledger.timeutil import format_date, parse_date
from market.auctions.state import free_units
from market.consent import Consent
from market.issuance.errors import NotInJurisdiction
from market.issuance.service import bureau_of, rights_lot
from market.proposals import offers as two_party
from market.proposals.model import Proposal
from market.proposals.offers import OfferStatus
from market.proposals.service import Applied, ProposalKind, register
from market.reserve.service import buy_back, buy_back_draft

__all__ = [
    "BUY_BACK_OFFER",
    "BuyBackOffer",
    "accept_buy_back",
    "buy_back_offers_of",
    "offer_buy_back",
    "withdraw_buy_back",
]

BUY_BACK_OFFER = "buyback_offer"


def _buy_back(session: Session, terms: Mapping[str, Any]) -> dict[str, Any]:
    """The buy-back's arguments from the terms (the bureau acts)."""
    return {
        "actor": get_participant(session, party=terms["bureau"]),
        "enterprise": terms["enterprise"],
        "instrument": terms["instrument"],
        "quantity_kg": terms["quantity_kg"],
        "valid_until": parse_date(terms["valid_until"]),
        "amount_fen": terms["amount_fen"],
        "basis": terms["basis"],
        "nonce": terms["nonce"],
    }


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody:
    """The same terms and nonce: the same body, which the bureau signed."""
    return buy_back_draft(session, **_buy_back(session, terms))


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """Both legs in one record (``market.reserve.service.buy_back``: units pledged meanwhile refuse it)."""
    receipt = buy_back(session, registry=registry, signed_by=given, **_buy_back(session, proposal.terms))
    return Applied(receipt.seq, receipt)


register(ProposalKind(BUY_BACK_OFFER, _draft, _apply))


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

    @classmethod
    def of(cls, p: Proposal) -> BuyBackOffer:
        t = p.terms
        return cls(
            p.id,
            t["bureau"],
            t["enterprise"],
            t["instrument"],
            parse_date(t["valid_until"]),
            t["quantity_kg"],
            t["amount_fen"],
            t["basis"],
            t["nonce"],
            OfferStatus.of(p.status),
            p.created_at,
            p.decided_party,
            p.record_seq,
        )


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
    terms = {
        "bureau": actor.party,
        "enterprise": enterprise,
        "instrument": body.postings[0].instrument,
        "valid_until": format_date(valid_until),
        "quantity_kg": quantity_kg,
        "amount_fen": amount_fen,
        "basis": basis,
        "nonce": body.nonce,
    }
    made = two_party.make_offer(
        session,
        kind=BUY_BACK_OFFER,
        actor=actor,
        counterparty=enterprise,
        terms=terms,
        signed_by=signed_by,
        now=now,
    )
    return BuyBackOffer.of(made)


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
    into the reserve and the bureau's cash to the enterprise in one record (a refusal there, e.g.
    units pledged meanwhile, leaves the offer pending)."""
    done = two_party.accept(
        session,
        kind=BUY_BACK_OFFER,
        registry=registry,
        actor=actor,
        offer_id=offer_id,
        signed_by=signed_by,
        now=now,
    )
    assert isinstance(done, Receipt)
    return done


def withdraw_buy_back(session: Session, *, actor: Participant, offer_id: str, now: datetime) -> BuyBackOffer:
    """The bureau withdraws a pending offer, or the enterprise declines it; its signature is never used."""
    closed = two_party.close_offer(session, kind=BUY_BACK_OFFER, actor=actor, offer_id=offer_id, now=now)
    return BuyBackOffer.of(closed)


def buy_back_offers_of(
    session: Session, *, actor: Participant, status: OfferStatus | None = None
) -> list[BuyBackOffer]:
    """The offers ``actor`` made (a bureau) or received (an enterprise), newest first."""
    found = two_party.offers(session, kind=BUY_BACK_OFFER, actor=actor, status=status)
    return [BuyBackOffer.of(p) for p in found]
