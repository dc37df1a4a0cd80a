"""What the federation coordinator reads of one journal: its id, its open federation holds, a record
by position, and the answer stored under an idempotency key. Reads only; writes go through the service.
"""

from __future__ import annotations

import json

from sqlalchemy import select, text
from sqlmodel import Session

from ledger.errors import LedgerNotInitialized, NotFound
from ledger.federation_rules import HOLD_REASON
from ledger.journal import ParsedRecord, parse_line
from ledger.repository import ID, H, conn
from ledger.service import Receipt, journal_lines
from ledger.tables import OPEN_HOLDS

__all__ = ["find_receipt", "journal_id", "open_federation_holds", "record_at"]


def journal_id(session: Session) -> str:
    """A journal's id in the federation: the hash of its genesis record (hex), fixed for its life
    and checked by anyone who replays it, unlike a name or a key that rotates."""
    return record_at(session, 0, missing=LedgerNotInitialized("the journal has no genesis record")).hash.hex()


def record_at(session: Session, seq: int, *, missing: Exception | None = None) -> ParsedRecord:
    """The committed record at ``seq``, parsed (its body as JSON, its hash)."""
    for line in journal_lines(session, start=seq, stop=seq + 1):
        return parse_line(line)
    raise missing or NotFound(f"no record {seq}", field="seq")


def open_federation_holds(session: Session) -> list[tuple[str, int]]:
    """(hold id, seq of the record that placed it) of every federation hold still open, oldest first:
    the transfers a coordinator must still complete or void."""
    rows = conn(session).execute(
        select(H.c.id, H.c.placed_seq)
        .where(H.c.reason == HOLD_REASON, text(OPEN_HOLDS))  # as the partial index names it
        .order_by(H.c.placed_seq)
    )
    return [(r.id, int(r.placed_seq)) for r in rows]


def find_receipt(session: Session, *, scope: str, key: str) -> Receipt | None:
    """The receipt of the instruction applied under idempotency key (``scope``, ``key``), or None."""
    row = conn(session).execute(select(ID.c.response).where(ID.c.scope == scope, ID.c.key == key)).first()
    return None if row is None else Receipt(**json.loads(row.response))
