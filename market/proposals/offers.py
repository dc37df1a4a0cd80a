"""Two-party offers as proposals: the proposer signs the body when it offers, the counterparty's
signature is the last one and applies it (a trade offer, a paid-use offer 有偿使用, a buy-back offer
收储要约). The counterparty declines by rejecting; the proposer withdraws.

``OfferStatus`` is how the offer routes have always named a proposal's state, kept for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from accounts.model import Participant
from ledger.errors import InvalidInput
from ledger.service import Registry
from market.consent import Consent
from market.proposals import service
from market.proposals.model import Proposal, ProposalStatus, SignerSlot

__all__ = ["OfferStatus", "accept", "close_offer", "make_offer", "offer_of", "offers"]


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"  # withdrawn by the proposer, declined by the counterparty, or lapsed

    @classmethod
    def of(cls, status: ProposalStatus) -> OfferStatus:
        if status is ProposalStatus.PENDING:
            return cls.PENDING
        return cls.ACCEPTED if status is ProposalStatus.APPLIED else cls.WITHDRAWN


def aware(moment: object) -> datetime:
    """The workflow clock: a timezone-aware instant, never naive."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput("now must be a timezone-aware datetime", field="now")
    return moment


def make_offer(
    session: Session,
    *,
    kind: str,
    actor: Participant,
    counterparty: str,
    terms: Mapping[str, Any],
    signed_by: Consent,
    now: datetime,
) -> Proposal:
    """``actor`` offers ``terms`` to ``counterparty`` and signs the body now; nothing moves yet."""
    slots = (SignerSlot(actor.party), SignerSlot(counterparty))
    return service.propose(
        session, kind=kind, actor=actor, terms=terms, signers=slots, now=aware(now), signed_by=signed_by
    )


def accept(
    session: Session,
    *,
    kind: str,
    registry: Registry,
    actor: Participant,
    offer_id: str,
    signed_by: Consent,
    now: datetime,
) -> object:
    """The counterparty signs: the offer applies (the kind's result: a Trade, a Receipt...)."""
    done = service.sign(
        session,
        registry=registry,
        actor=actor,
        proposal_id=offer_id,
        signed_by=signed_by,
        now=aware(now),
        kind=kind,
    )
    assert done.applied is not None  # two slots, the proposer's filled when offered
    return done.applied.result


def close_offer(session: Session, *, kind: str, actor: Participant, offer_id: str, now: datetime) -> Proposal:
    """The proposer withdraws a pending offer, or the counterparty declines (rejects) it."""
    found = service.get_proposal(session, actor=actor, proposal_id=offer_id, now=aware(now), kind=kind)
    close = service.withdraw if found.party == actor.party else service.reject
    return close(session, actor=actor, proposal_id=offer_id, now=aware(now), kind=kind)


def offer_of(session: Session, *, kind: str, actor: Participant, offer_id: str) -> Proposal:
    return service.get_proposal(session, actor=actor, proposal_id=offer_id, now=datetime.now(UTC), kind=kind)


def offers(
    session: Session, *, kind: str, actor: Participant, status: OfferStatus | None = None
) -> list[Proposal]:
    """The offers of ``kind`` ``actor`` made or received, newest first."""
    found = service.proposals_of(session, actor=actor, now=datetime.now(UTC), kind=kind)
    return [p for p in found if status is None or OfferStatus.of(p.status) is status]
