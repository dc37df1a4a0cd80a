"""The one idempotency store: per (scope, key), the digest of what a request asked and the answer it got,
kept in the same transaction as the write it guards. Signed instructions and API/console writes share it.

The sequencer's batches read and write it in bulk (``ledger.repository``); a unit of work, one key at a
time, through ``find_answer`` and ``keep_answer``. A scope is the submitting party (or ``registry``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ledger.errors import IdempotencyKeyReused
from ledger.tables import IdempotencyRow

__all__ = ["StoredAnswer", "find_answer", "keep_answer"]


@dataclass(frozen=True)
class StoredAnswer:
    """What a key was first used for (a SHA-256 ``digest``) and what it was answered (text, JSON)."""

    digest: bytes
    response: str


def find_answer(session: Session, *, scope: str, key: str) -> StoredAnswer | None:
    """The answer stored under ``(scope, key)``, or None if the key is new."""
    row = session.get(IdempotencyRow, (scope, key))
    return None if row is None else StoredAnswer(bytes(row.request_digest), row.response)


def keep_answer(
    session: Session,
    *,
    scope: str,
    key: str,
    digest: bytes,
    response: str,
    field: str,
    seq: int | None = None,
) -> None:
    """Store the answer of a write that ran under a new ``(scope, key)``; ``seq``: the journal record it
    answers with, when one record does. A concurrent twin that stored first makes this
    ``IdempotencyKeyReused`` (naming ``field``), and the caller's unit of work is undone whole."""
    session.add(IdempotencyRow(scope=scope, key=key, request_digest=digest, seq=seq, response=response))
    try:
        session.flush()
    except IntegrityError:
        raise IdempotencyKeyReused(
            "a request with this key is being or was processed; retry to read its answer", field=field
        ) from None
