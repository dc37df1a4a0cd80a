"""The registry of proposal kinds: each workflow registers one ``ProposalKind`` (how its body is
drafted, how it applies, and how its own state follows a signature or a close) on import."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from accounts.model import Participant
from ledger.errors import InvalidInput
from ledger.model import TxBody
from ledger.service import Registry
from market.consent import Consent
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.proposals.model import Proposal

__all__ = ["Applied", "ProposalKind", "kind_of", "register"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What a kind's apply recorded: the record's seq and the workflow's own result (a Trade, a Receipt)."""

    seq: int
    result: object


@dataclass(frozen=True, slots=True)
class ProposalKind:
    """One kind of proposal: how its body is drafted from the terms (``None``: the kind draws it up
    when it applies, as four-eyes does with both users named), and how it applies once every slot is
    signed, re-checking its rules then (``consent``: the signatures collected, plus the last
    signer's keys; the proposal names the last signer as ``decided_party``). ``unknown``/``closed``
    keep a kind's historic error codes."""

    name: str
    draft: Callable[[Session, Mapping[str, Any]], TxBody | None]
    apply: Callable[[Session, Registry, Proposal, Consent], Applied]
    unknown: type[UnknownProposal] = UnknownProposal
    closed: type[ProposalClosed] = ProposalClosed
    lifetime: timedelta | None = None  # None: pending until signed, rejected or withdrawn
    # The workflow's own state follows a rejection or withdrawal (a pledge is cancelled with it; a
    # cross-city request's hold is released, which is why the registry is handed over when known).
    on_close: Callable[[Session, Registry | None, Proposal, Participant], None] | None = None
    # ... and a signature that does not apply it (a cross-city request is accepted when its buyer signs)
    on_sign: Callable[[Session, Proposal, Participant], None] | None = None


_KINDS: dict[str, ProposalKind] = {}


def register(kind: ProposalKind) -> ProposalKind:
    """Make ``kind`` known to the generic service (each workflow module does it on import)."""
    _KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> ProposalKind:
    found = _KINDS.get(name)
    if found is None:
        raise InvalidInput(f"no proposal kind {name}", field="kind")
    return found
