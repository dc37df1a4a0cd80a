"""Plain transfers between holdings (划转) that a participant signs: any units but blue-carbon
credits, which move with their serial numbers through ``market.bluecarbon.service``."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action
from accounts.service import check_submission, submit_as
from ledger.model import Body, TxBody
from ledger.sequencer import Check, Sequencer
from ledger.service import Instruction, Receipt, Registry
from market.bluecarbon.serials import serialized
from market.trades.errors import SerializedUnits

__all__ = ["submit_transfer", "submit_transfer_async", "transfer"]


def transfer(
    session: Session, *, registry: Registry, actor: Participant, instruction: Instruction
) -> Receipt:
    """Submit a signed transfer for ``actor``; ``SerializedUnits`` if it moves blue-carbon credits."""
    _refuse_serialized(instruction.body)
    return submit_as(
        session, registry=registry, actor=actor, action=Action.TRANSFER_UNITS, instruction=instruction
    )


def submit_transfer(
    sequencer: Sequencer, *, registry: Registry, actor: Participant, instruction: Instruction
) -> Receipt:
    """``transfer`` through the process's group commit: the instruction joins the next batch of the
    current group, authorized in the group's transaction; its receipt once the group is durable."""
    scoped, check = _sequenced(actor, instruction)
    return sequencer.submit(scoped, registry=registry, check=check)


async def submit_transfer_async(
    sequencer: Sequencer, *, registry: Registry, actor: Participant, instruction: Instruction
) -> Receipt:
    """``submit_transfer`` awaited in an event loop (``Sequencer.submit_async``)."""
    scoped, check = _sequenced(actor, instruction)
    return await sequencer.submit_async(scoped, registry=registry, check=check)


def _sequenced(actor: Participant, instruction: Instruction) -> tuple[Instruction, Check]:
    """The instruction scoped to ``actor``, and its authorization, run in the group's transaction."""
    _refuse_serialized(instruction.body)
    scoped = replace(instruction, scope=actor.party)

    def check(session: Session) -> None:
        # Owners and jurisdictions are fixed when recorded, so the state before the batch decides.
        check_submission(session, actor=actor, action=Action.TRANSFER_UNITS, instruction=scoped)

    return scoped, check


def _refuse_serialized(body: Body) -> None:
    if isinstance(body, TxBody):
        for i, posting in enumerate(body.postings):
            if serialized(posting.instrument):
                raise SerializedUnits(
                    f"{posting.instrument} credits move with their serials: POST /v1/bc/transfers",
                    field=f"body.postings[{i}].instrument",
                )
