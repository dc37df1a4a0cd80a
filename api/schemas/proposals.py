"""Response and request models of proposals (提议/待办): any kind, its signer slots and its state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.issuance import BodyOut
from market.proposals.model import Proposal, SignerSlot

__all__ = ["ProposalOut", "SignerOut"]


class SignerOut(BaseModel):
    party: str
    role: str | None = Field(description="the role the signing user must hold, if any (approver)")
    excluded_user: str | None = Field(description="a user who may not sign this slot (the proposer)")
    signed: bool
    signed_by: str | None = Field(description="the named user who signed, if one did")
    signed_at: datetime | None

    @classmethod
    def of(cls, s: SignerSlot) -> SignerOut:
        return cls(
            party=s.party,
            role=s.role,
            excluded_user=s.excluded_user,
            signed=s.signed,
            signed_by=s.signed_by,
            signed_at=s.signed_at,
        )


class ProposalOut(BaseModel):
    id: str
    kind: str = Field(
        description="trade_offer, allocation_offer, buyback_offer; four-eyes: transfer, trust.add, "
        "allocation, bc.transfer, controls.set"
    )
    party: str = Field(description="the proposing party")
    proposed_by: str | None
    terms: dict[str, Any]
    status: str = Field(description="pending, applied, rejected, withdrawn or expired")
    created_at: datetime
    expires_at: datetime | None
    signers: list[SignerOut]
    decided_party: str | None
    decided_by: str | None
    record_seq: int | None = Field(description="the applied record's seq")
    draft: BodyOut | None = Field(description="the body the signers sign; none for four-eyes kinds")

    @classmethod
    def of(cls, p: Proposal) -> ProposalOut:
        return cls(
            id=p.id,
            kind=p.kind,
            party=p.party,
            proposed_by=p.proposed_by,
            terms=dict(p.terms),
            status=p.status.value,
            created_at=p.created_at,
            expires_at=p.expires_at,
            signers=[SignerOut.of(s) for s in p.signers],
            decided_party=p.decided_party,
            decided_by=p.decided_by,
            record_seq=p.record_seq,
            draft=None if p.body is None else BodyOut.of(p.body),
        )
