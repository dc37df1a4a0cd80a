"""A participant's own history (账户流水): the records that touched its own accounts or holds it
controls, and the inclusion proof of one of them; never another party's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, accounts_of
from ledger.bundle import certificate_json
from ledger.history import Touch, records_touching
from ledger.service import Registry, prove_inclusion

__all__ = ["HistoryPage", "own_history", "own_record_proof"]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    records: list[Touch]
    total: int
    accounts: tuple[str, ...]


def _own_accounts(session: Session, actor: Participant) -> tuple[str, ...]:
    authorize(actor, Action.READ_ACCOUNT, party_target(actor.party, SessionDirectory(session)))
    return tuple(a.account for a in accounts_of(session, party=actor.party))


def own_history(
    session: Session,
    *,
    actor: Participant,
    instrument: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> HistoryPage:
    """The records, newest first, that moved units on ``actor``'s own accounts, placed or closed a hold
    on them, or a hold ``actor`` controls (a bank's pledges); filtered and paged. Only its own: the
    accounts are those ``actor`` owns, whatever its role lets it read elsewhere."""
    accounts = _own_accounts(session, actor)
    found, total = records_touching(
        session,
        accounts=accounts,
        controller=actor.party,
        instrument=instrument,
        action=action,
        since=since,
        until=until,
        offset=offset,
        limit=limit,
    )
    return HistoryPage(found, total, accounts)


def own_record_proof(session: Session, *, actor: Participant, seq: int, registry: Registry) -> dict[str, Any]:
    """Record ``seq`` with its inclusion proof under a signed checkpoint (one is signed if none covers
    it yet) and the registry's public key: the file ``ecoledger prove SEQ`` writes, which
    ``ecoledger audit certificate`` checks offline. Only for a record in ``actor``'s own history."""
    accounts = _own_accounts(session, actor)
    found, _ = records_touching(session, accounts=accounts, controller=actor.party, seq=seq, limit=1)
    if not found:
        raise PermissionDenied(
            f"record {seq} touched none of {actor.party}'s accounts",
            actor=actor.party,
            action=Action.READ_ACCOUNT.value,
            rule="own_records_only",
        )
    return certificate_json(prove_inclusion(session, seq=seq, registry=registry), registry.key.public)
