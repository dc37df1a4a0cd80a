"""The proposal (提议): a body proposed by one party (and one of its named users), the signer slots
that must be filled before it applies, and its state. Pure values; the rows are in ``tables``.

A slot names a party, optionally the role its signing user must hold and a user who may not fill it:
a trade offer's slot is the buyer party; a four-eyes slot (双人审批) is the proposer's own party,
role approver, any user but the proposer. A slot may also wait for earlier slots (``after``): a
cross-city request's bureaus approve only what its buyer has accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledger.model import Signature, TxBody

__all__ = ["Proposal", "ProposalStatus", "SignerSlot", "status_at"]


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # never stored: a pending proposal past ``expires_at``


def status_at(stored: str, expires_at: datetime | None, now: datetime) -> ProposalStatus:
    """The status at ``now``: a pending proposal lapses at ``expires_at`` without any write."""
    if stored == ProposalStatus.PENDING and expires_at is not None and expires_at <= now:
        return ProposalStatus.EXPIRED
    return ProposalStatus(stored)


@dataclass(frozen=True, slots=True)
class SignerSlot:
    """One required signature: ``party`` signs (its user of ``role``, when set, and never
    ``excluded_user``), once the slots ``after`` names (earlier ones, by index) are signed.
    ``signature`` is kept for kinds whose body is signed before it applies."""

    party: str
    role: str | None = None
    excluded_user: str | None = None
    signature: Signature | None = None
    signed_by: str | None = None
    signed_at: datetime | None = None
    after: tuple[int, ...] = ()

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal as the caller sees it at ``now`` (``status`` EXPIRED once past ``expires_at``)."""

    id: str
    kind: str
    party: str  # the proposing party
    proposed_by: str | None  # its named user, when the kind needs one
    terms: Mapping[str, Any]
    body: TxBody | None  # what the signers sign; None when the kind draws the body up at apply
    signers: tuple[SignerSlot, ...]
    status: ProposalStatus
    created_at: datetime
    expires_at: datetime | None
    decided_party: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    record_seq: int | None = None

    @property
    def signatures(self) -> tuple[Signature, ...]:
        """The signatures collected so far, in slot order."""
        return tuple(s.signature for s in self.signers if s.signature is not None)

    @property
    def approvers(self) -> tuple[str, ...]:
        """The users who signed, in slot order (four-eyes names them in the record)."""
        return tuple(s.signed_by for s in self.signers if s.signed and s.signed_by is not None)

    def ready(self, slot: SignerSlot) -> bool:
        """Whether the slots ``slot`` waits for are all signed."""
        return all(self.signers[j].signed for j in slot.after)

    def awaits(self, party: str, user: str | None = None, role: str | None = None) -> bool:
        """Whether an unsigned slot of ``party`` is open to ``user`` holding ``role`` (None: the
        party's own key, which fills no slot that asks for a role) now, its earlier slots signed."""
        return self.status is ProposalStatus.PENDING and any(
            not s.signed
            and s.party == party
            and (s.role is None or s.role == role)
            and (s.excluded_user is None or s.excluded_user != user)
            and self.ready(s)
            for s in self.signers
        )
