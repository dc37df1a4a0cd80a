"""Plain transfers between holdings (划转) that a participant signs: any units but blue-carbon
credits, which move with their serial numbers through ``market.bluecarbon``."""

from __future__ import annotations

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import submit_as
from ledger.model import TxBody
from ledger.service import Instruction, Receipt, Registry
from market.errors import SerializedUnits
from market.serials import BC

__all__ = ["transfer"]


def transfer(
    session: Session, *, registry: Registry, actor: Participant, instruction: Instruction
) -> Receipt:
    """Submit a signed transfer for ``actor``; ``SerializedUnits`` if it moves blue-carbon credits."""
    body = instruction.body
    if isinstance(body, TxBody):
        for i, posting in enumerate(body.postings):
            if posting.instrument == BC:
                raise SerializedUnits(
                    "blue-carbon credits move with their serials: POST /v1/bc/transfers",
                    field=f"body.postings[{i}].instrument",
                )
    return submit_as(
        session, registry=registry, actor=actor, action=Action.TRANSFER_UNITS, instruction=instruction
    )
