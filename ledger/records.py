"""Reading committed records back by what they did: the bodies of one kind of transaction, for read models
(the public registry's retirements) that the workflows' own tables do not keep."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlmodel import Session

from ledger.model import TxBody, parse_body
from ledger.repository import J, conn
from ledger.tables import READ_BACK_ACTIONS, READ_BACK_RECORDS
from ledger.timeutil import parse_utc

__all__ = ["CommittedTx", "transactions_with_action"]


@dataclass(frozen=True, slots=True)
class CommittedTx:
    """A committed transaction body with its journal position and commit time."""

    seq: int
    time: datetime
    body: TxBody


def _bytes(value: object) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]


def transactions_with_action(
    session: Session, *, actions: Collection[str], limit: int = 10_000
) -> list[CommittedTx]:
    """Committed transactions whose body action is one of ``actions``, newest first, at most ``limit``.

    Read from the journal itself (the record's own body, as signed), not from a copy kept beside it,
    through a partial index of the ``READ_BACK_ACTIONS``: any other action is refused, not scanned for."""
    unindexed = set(actions) - set(READ_BACK_ACTIONS)
    if unindexed:
        raise ValueError(f"actions {sorted(unindexed)} are not read back (ledger.tables.READ_BACK_ACTIONS)")
    rows = conn(session).execute(
        select(J.c.seq, J.c.time, J.c.core)
        # the index's own predicate, as literal SQL, so both engines prove it covers the query
        .where(text(READ_BACK_RECORDS), J.c.action.in_(sorted(actions)))
        .order_by(J.c.seq.desc())
        .limit(limit)
    )
    out = []
    for row in rows:
        body = parse_body(json.loads(_bytes(row.core))["body"])
        if isinstance(body, TxBody):
            out.append(CommittedTx(int(row.seq), parse_utc(row.time), body))
    return out
