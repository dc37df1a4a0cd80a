"""Paid-use allocation offers (有偿使用) as a proposal kind: the bureau signs one allocation body with
its fee and the offer waits; the enterprise's signature applies it, rights and fee in one record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action
from ledger.errors import InvalidInput
from ledger.model import TxBody
from ledger.service import Registry, new_nonce
from ledger.timeutil import parse_date
from market.consent import Consent
from market.issuance.errors import NotInJurisdiction
from market.issuance.service import DEFAULT_TERM_YEARS, Allocation, allocate, allocation_draft, bureau_of
from market.proposals import offers as two_party
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.proposals.model import Proposal
from market.proposals.offers import OfferStatus
from market.proposals.service import Applied, ProposalKind, register

__all__ = [
    "ALLOCATION_OFFER",
    "DESK",
    "AllocationOffer",
    "AllocationOfferNotPending",
    "UnknownAllocationOffer",
    "accept_allocation",
    "allocation_offers_of",
    "get_allocation_offer",
    "offer_allocation",
    "withdraw_allocation",
]

ALLOCATION_OFFER = "allocation_offer"
Purpose = Literal["initial", "major_project"]


class UnknownAllocationOffer(UnknownProposal):
    code = "unknown_allocation_offer"  # the API contract of /v1/allocation-offers


class AllocationOfferNotPending(ProposalClosed):
    code = "allocation_offer_not_pending"


def _purpose(terms: Mapping[str, Any]) -> Purpose:
    return "initial" if terms["purpose"] == "initial" else "major_project"


def _allocation(session: Session, terms: Mapping[str, Any]) -> dict[str, Any]:
    """The allocation's arguments from the terms (paid use, as offered)."""
    return two_party.rights_args(session, terms) | {
        "purpose": _purpose(terms),
        "project": terms["project"],
        "years": terms["years"],
        "price_fen_per_tonne_year": terms["price_fen_per_tonne_year"],
    }


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody:
    """The same terms and nonce: the same body, which the bureau signed."""
    return allocation_draft(session, paid_use=True, **_allocation(session, terms))


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """The allocation with both signatures (``allocate``: the reserve is checked again now)."""
    terms = _allocation(session, proposal.terms)
    done = allocate(session, registry=registry, signed_by=given, paid_use=True, **terms)
    return Applied(done.receipt.seq, done)


register(ProposalKind(ALLOCATION_OFFER, _draft, _apply, UnknownAllocationOffer, AllocationOfferNotPending))


@dataclass(frozen=True, slots=True)
class AllocationOffer:
    """An offer: the allocation's terms (which with ``nonce`` fix the body both sign), its fee, state."""

    id: str
    bureau: str
    enterprise: str
    instrument: str
    valid_until: date
    quantity_kg: int
    purpose: Purpose
    project: str | None
    years: int
    price_fen_per_tonne_year: int | None  # None: the base price
    fee_fen: int
    nonce: str
    status: OfferStatus
    allocation_seq: int | None
    body: TxBody  # what both sign: the bureau did, the enterprise's consent completes it

    @classmethod
    def of(cls, p: Proposal) -> AllocationOffer:
        assert p.body is not None
        terms = {**p.terms, "valid_until": parse_date(p.terms["valid_until"]), "purpose": _purpose(p.terms)}
        return cls(
            id=p.id, status=OfferStatus.of(p.status), allocation_seq=p.record_seq, body=p.body, **terms
        )


DESK = two_party.OfferDesk(ALLOCATION_OFFER, AllocationOffer.of, Allocation)
# The enterprise consents to the fee (a refusal then, e.g. the reserve short now, leaves the offer
# pending) or declines it; the bureau withdraws; an offer is seen by its bureau and enterprise only.
accept_allocation, withdraw_allocation = DESK.accept, DESK.withdraw
get_allocation_offer, allocation_offers_of = DESK.get, DESK.list


def offer_allocation(
    session: Session,
    *,
    actor: Participant,
    enterprise: str,
    instrument: str,
    quantity_kg: int,
    valid_until: date,
    purpose: Purpose,
    signed_by: Consent,
    now: datetime,
    project: str | None = None,
    years: int = DEFAULT_TERM_YEARS,
    price_fen_per_tonne_year: int | None = None,
    nonce: str | None = None,
) -> AllocationOffer:
    """The bureau (``actor``) offers rights from its reserve for the paid-use fee and signs the body
    now; nothing moves until the enterprise consents (``accept_allocation``).

    The allocation's rules (the enterprise of this jurisdiction, its permit, a known price) are
    checked at once; the reserve, when the enterprise accepts, as rights may have gone meanwhile.
    """
    jurisdiction = bureau_of(actor, Action.ISSUE_RIGHTS)
    body = allocation_draft(
        session,
        actor=actor,
        enterprise=enterprise,
        instrument=instrument,
        quantity_kg=quantity_kg,
        valid_until=valid_until,
        purpose=purpose,
        nonce=nonce or new_nonce(),
        project=project,
        paid_use=True,
        years=years,
        price_fen_per_tonne_year=price_fen_per_tonne_year,
    )
    if body.signers[0] != actor.party:
        raise NotInJurisdiction(
            f"{enterprise} is not of {actor.party}'s jurisdiction {jurisdiction}", field="enterprise"
        )
    fee = int(body.meta["paid_use"]["fee_fen"])
    if fee <= 0:
        raise InvalidInput("a free allocation needs no consent: allocate it directly", field="price")
    rights = two_party.rights_terms(body, valid_until=valid_until, quantity_kg=quantity_kg)
    terms = {
        "bureau": actor.party,
        "enterprise": enterprise,
        "purpose": purpose,
        "project": project,
        "years": years,
        "price_fen_per_tonne_year": price_fen_per_tonne_year,
        "fee_fen": fee,
    }
    return DESK.make(
        session, actor=actor, counterparty=enterprise, terms=rights | terms, signed_by=signed_by, now=now
    )
