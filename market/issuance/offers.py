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
from accounts.service import get_participant
from ledger.errors import InvalidInput
from ledger.model import TxBody
from ledger.service import Registry, new_nonce
from ledger.timeutil import format_date, parse_date
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
    """The allocation's arguments from the terms (the bureau acts; paid use, as offered)."""
    return {
        "actor": get_participant(session, party=terms["bureau"]),
        "enterprise": terms["enterprise"],
        "instrument": terms["instrument"],
        "quantity_kg": terms["quantity_kg"],
        "valid_until": parse_date(terms["valid_until"]),
        "purpose": _purpose(terms),
        "project": terms["project"],
        "years": terms["years"],
        "price_fen_per_tonne_year": terms["price_fen_per_tonne_year"],
        "nonce": terms["nonce"],
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
        t = p.terms
        assert p.body is not None
        return cls(
            p.id,
            t["bureau"],
            t["enterprise"],
            t["instrument"],
            parse_date(t["valid_until"]),
            t["quantity_kg"],
            _purpose(t),
            t["project"],
            t["years"],
            t["price_fen_per_tonne_year"],
            t["fee_fen"],
            t["nonce"],
            OfferStatus.of(p.status),
            p.record_seq,
            p.body,
        )


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
    terms = {
        "bureau": actor.party,
        "enterprise": enterprise,
        "instrument": body.postings[0].instrument,
        "valid_until": format_date(valid_until),
        "quantity_kg": quantity_kg,
        "purpose": purpose,
        "project": project,
        "years": years,
        "price_fen_per_tonne_year": price_fen_per_tonne_year,
        "fee_fen": fee,
        "nonce": body.nonce,
    }
    made = two_party.make_offer(
        session,
        kind=ALLOCATION_OFFER,
        actor=actor,
        counterparty=enterprise,
        terms=terms,
        signed_by=signed_by,
        now=now,
    )
    return AllocationOffer.of(made)


def accept_allocation(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    offer_id: str,
    signed_by: Consent,
    now: datetime,
) -> Allocation:
    """The enterprise consents to the fee: its signature joins the bureau's and the allocation is
    recorded, rights and fee in one record (a refusal there, such as the reserve no longer holding
    the quantity, leaves the offer pending)."""
    done = two_party.accept(
        session,
        kind=ALLOCATION_OFFER,
        registry=registry,
        actor=actor,
        offer_id=offer_id,
        signed_by=signed_by,
        now=now,
    )
    assert isinstance(done, Allocation)
    return done


def withdraw_allocation(
    session: Session, *, actor: Participant, offer_id: str, now: datetime
) -> AllocationOffer:
    """The bureau withdraws a pending offer, or the enterprise declines it; its signature is never used."""
    closed = two_party.close_offer(session, kind=ALLOCATION_OFFER, actor=actor, offer_id=offer_id, now=now)
    return AllocationOffer.of(closed)


def get_allocation_offer(session: Session, *, actor: Participant, offer_id: str) -> AllocationOffer:
    """An offer, to its bureau or enterprise only (``UnknownAllocationOffer`` to anyone else)."""
    found = two_party.offer_of(session, kind=ALLOCATION_OFFER, actor=actor, offer_id=offer_id)
    return AllocationOffer.of(found)


def allocation_offers_of(
    session: Session, *, actor: Participant, status: OfferStatus | None = None
) -> list[AllocationOffer]:
    """The offers ``actor`` made (a bureau) or received (an enterprise), newest first."""
    found = two_party.offers(session, kind=ALLOCATION_OFFER, actor=actor, status=status)
    return [AllocationOffer.of(p) for p in found]
