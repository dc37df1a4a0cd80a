"""Request models of the four-eyes routes (双人审批): a transfer asked for with the party's key in
custody, and a proposed addition to its trusted-account list; and ``Outcome``, what the idempotency
store keeps for a route that either acts at once (200) or makes a proposal (202)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from api.schemas import StrictIn
from api.schemas.issuance import Instrument, Kg
from api.schemas.proposals import ProposalOut

__all__ = ["Outcome", "TransferIn", "TrustIn"]

Done = TypeVar("Done", bound=BaseModel)


class TransferIn(StrictIn):
    """Send units from the caller's holding (划转) to another holding of the same jurisdiction."""

    to: str = Field(min_length=1, max_length=160, description="the receiving holding account")
    instrument: Instrument
    lot: str = Field(
        min_length=1, max_length=64, description="the lot key as balances show it, e.g. j=330281;u=2030-12-31"
    )
    quantity_kg: Kg


class TrustIn(StrictIn):
    """An account to add to the caller's trusted list (another party's holding)."""

    account: str = Field(min_length=1, max_length=160)


class Outcome(BaseModel, Generic[Done]):
    """One of two answers: ``done`` (recorded now: 200) or ``proposal`` (awaiting a second user:
    202), kept as one object so that a retry under the same Idempotency-Key gets the same status."""

    done: Done | None = None
    proposal: ProposalOut | None = None
