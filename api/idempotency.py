"""Idempotent writes: a retried request with the same ``Idempotency-Key`` gets the first answer
again instead of acting twice; the key is stored in the same transaction as the write it guards."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounts.model import Participant
from api.tables import IdempotentResponseRow
from ledger.errors import Conflict
from ledger.timeutil import format_utc, utc_now

__all__ = ["IdempotencyKeyReused", "once", "write"]

Out = TypeVar("Out", bound=BaseModel)


class IdempotencyKeyReused(Conflict):
    """The key was used before for a different request (another path or body)."""

    code = "idempotency_key_reused"


def _digest(method: str, path: str, payload: Any) -> str:
    # Sorted-key JSON, not the ledger's canonical form: a request may hold what a record may not
    # (floats, integers past 2**53) and must be refused by its route, not by this digest.
    text = json.dumps(
        {"method": method, "path": path, "body": payload}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def once(
    session: Session,
    *,
    actor: Participant,
    key: str | None,
    method: str,
    path: str,
    payload: Any,
    out: type[Out],
    run: Callable[[], Out],
) -> Out:
    """``run()`` once per (actor, key): a repeat of the same request returns the stored answer; the same
    key with another request is ``IdempotencyKeyReused``. Without a key, ``run()`` simply runs."""
    if key is None:
        return run()
    digest = _digest(method, path, payload)
    row = session.get(IdempotentResponseRow, (actor.party, key))
    if row is not None:
        if row.request_digest != digest:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request", field="Idempotency-Key"
            )
        return out.model_validate_json(row.response)
    result = run()
    session.add(
        IdempotentResponseRow(
            party=actor.party,
            key=key,
            request_digest=digest,
            status_code=200,
            response=result.model_dump_json(),
            created_at=format_utc(utc_now()),
        )
    )
    try:
        session.flush()
    except IntegrityError:  # a concurrent twin committed first: this one rolls back whole
        raise IdempotencyKeyReused(
            "a request with this Idempotency-Key is being or was processed; retry to read its answer",
            field="Idempotency-Key",
        ) from None
    return result


def write(
    session: Session,
    request: Request,
    actor: Participant,
    key: str | None,
    payload: BaseModel | None,
    out: type[Out],
    run: Callable[[], Out],
) -> Out:
    """A POST route's write: ``run`` at most once per Idempotency-Key, keyed on this request's path
    and parsed body (``once``)."""
    return once(
        session,
        actor=actor,
        key=key,
        method="POST",
        path=request.url.path,
        payload={} if payload is None else payload.model_dump(mode="json"),
        out=out,
        run=run,
    )
