"""Two-party offers as proposals: the proposer signs the body when it offers, the counterparty's
signature is the last one and applies it (a trade offer, a paid-use offer 有偿使用, a buy-back offer
收储要约). The counterparty declines by rejecting; the proposer withdraws.

``OfferStatus`` is how the offer routes have always named a proposal's state, kept for the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from accounts.model import Participant
from accounts.service import get_participant
from ledger.errors import InvalidInput
from ledger.model import TxBody
from ledger.service import Registry
from ledger.timeutil import format_date, parse_date
from market.consent import Consent
from market.proposals import service
from market.proposals.model import Proposal, ProposalStatus, SignerSlot

__all__ = [
    "OfferDesk",
    "OfferStatus",
    "accept",
    "close_offer",
    "make_offer",
    "offer_of",
    "offers",
    "rights_args",
    "rights_terms",
]


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"  # withdrawn by the proposer, declined by the counterparty, or lapsed

    @classmethod
    def of(cls, status: ProposalStatus) -> OfferStatus:
        if status is ProposalStatus.PENDING:
            return cls.PENDING
        return cls.ACCEPTED if status is ProposalStatus.APPLIED else cls.WITHDRAWN


def rights_terms(body: TxBody, *, valid_until: date, quantity_kg: int) -> dict[str, Any]:
    """The terms every offer of rights keeps: which right (from the drafted body), its validity end,
    how much, and the body's nonce (with the rest of the terms it fixes the body the parties sign)."""
    return {
        "instrument": body.postings[0].instrument,
        "valid_until": format_date(valid_until),
        "quantity_kg": quantity_kg,
        "nonce": body.nonce,
    }


def rights_args(session: Session, terms: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's arguments for a bureau's offer of rights to an enterprise, from its terms: the
    bureau acts, with the same terms and nonce (so the same body)."""
    return {
        "actor": get_participant(session, party=terms["bureau"]),
        "enterprise": terms["enterprise"],
        "instrument": terms["instrument"],
        "quantity_kg": terms["quantity_kg"],
        "valid_until": parse_date(terms["valid_until"]),
        "nonce": terms["nonce"],
    }


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


View = TypeVar("View")
Result = TypeVar("Result")


class OfferDesk(Generic[View, Result]):
    """One kind's offers with its own view (``TradeOffer``...) and result (``Trade``, ``Receipt``...):
    the typed functions a workflow exports, written once for every two-party kind."""

    def __init__(self, kind: str, view: Callable[[Proposal], View], result: type[Result]) -> None:
        self.kind, self.view, self.result = kind, view, result

    def make(
        self,
        session: Session,
        *,
        actor: Participant,
        counterparty: str,
        terms: Mapping[str, Any],
        signed_by: Consent,
        now: datetime,
    ) -> View:
        """``actor`` offers ``terms`` to ``counterparty``, signed now (the kind checked its rules)."""
        made = make_offer(
            session,
            kind=self.kind,
            actor=actor,
            counterparty=counterparty,
            terms=terms,
            signed_by=signed_by,
            now=now,
        )
        return self.view(made)

    def accept(
        self,
        session: Session,
        *,
        registry: Registry,
        actor: Participant,
        offer_id: str,
        signed_by: Consent,
        now: datetime,
    ) -> Result:
        """The counterparty's signature: the offer applies, its rules checked again (a refusal
        leaves it pending)."""
        done = accept(
            session,
            kind=self.kind,
            registry=registry,
            actor=actor,
            offer_id=offer_id,
            signed_by=signed_by,
            now=now,
        )
        assert isinstance(done, self.result)
        return done

    def withdraw(self, session: Session, *, actor: Participant, offer_id: str, now: datetime) -> View:
        """The proposer withdraws a pending offer, or the counterparty declines it; nothing moves."""
        return self.view(close_offer(session, kind=self.kind, actor=actor, offer_id=offer_id, now=now))

    def get(self, session: Session, *, actor: Participant, offer_id: str) -> View:
        """An offer, to its two parties only (the kind's unknown-offer error to anyone else)."""
        return self.view(offer_of(session, kind=self.kind, actor=actor, offer_id=offer_id))

    def list(self, session: Session, *, actor: Participant, status: OfferStatus | None = None) -> list[View]:
        """The offers ``actor`` made or received, newest first."""
        return [self.view(p) for p in offers(session, kind=self.kind, actor=actor, status=status)]
