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
from ledger.timeutil import parse_date
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
    "DESK",
    "BuyBackOffer",
    "accept_buy_back",
    "buy_back_offers_of",
    "offer_buy_back",
    "withdraw_buy_back",
]

BUY_BACK_OFFER = "buyback_offer"


def _buy_back(session: Session, terms: Mapping[str, Any]) -> dict[str, Any]:
    """The buy-back's arguments from the terms."""
    return two_party.rights_args(session, terms) | {
        "amount_fen": terms["amount_fen"],
        "basis": terms["basis"],
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
        return cls(
            id=p.id,
            status=OfferStatus.of(p.status),
            created_at=p.created_at,
            closed_by=p.decided_party,
            buy_back_seq=p.record_seq,
            **{**p.terms, "valid_until": parse_date(p.terms["valid_until"])},
        )


DESK = two_party.OfferDesk(BUY_BACK_OFFER, BuyBackOffer.of, Receipt)
# The enterprise consents (both legs in one record; a refusal then, e.g. units pledged meanwhile,
# leaves the offer pending) or declines it; the bureau withdraws.
accept_buy_back, withdraw_buy_back, buy_back_offers_of = DESK.accept, DESK.withdraw, DESK.list


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
    terms = two_party.rights_terms(body, valid_until=valid_until, quantity_kg=quantity_kg) | {
        "bureau": actor.party,
        "enterprise": enterprise,
        "amount_fen": amount_fen,
        "basis": basis,
    }
    return DESK.make(session, actor=actor, counterparty=enterprise, terms=terms, signed_by=signed_by, now=now)
