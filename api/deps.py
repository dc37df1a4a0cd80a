"""Request-scoped dependencies: the database session that commits, and the caller's identity.

The session commits when the route returns and *before* the response is sent
(``scope="function"``): with FastAPI's default scope a failed commit would follow a 200.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.credentials import authenticate
from accounts.custody import Vault, custody_key
from accounts.errors import InvalidCredentials, NoCustodyKey
from accounts.model import Participant
from ledger.crypto import SigningKey
from ledger.service import Registry

__all__ = [
    "ActorDep",
    "CustodyKeyDep",
    "IdempotencyKeyDep",
    "PageDep",
    "ReaderDep",
    "RegistryDep",
    "SessionDep",
]

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False)  # a missing token is our 401, not FastAPI's 403/422


@dataclass
class AppState:
    engine: Engine
    reader: Engine
    registry: Registry
    vault: Vault | None = None  # None: the registry holds no keys; every party signs for itself


def state(request: Request) -> AppState:
    return request.app.state.ecoledger  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    with Session(state(request).engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_reader(request: Request) -> Iterator[Session]:
    with Session(state(request).reader) as session:
        yield session


def get_registry(request: Request) -> Registry:
    return state(request).registry


class _TokenCache:
    """Recently verified tokens, by SHA-256, for a few seconds: the stored hash is scrypt
    (about 75 ms), too slow to pay on every read. Revocation takes effect within the TTL."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s, self.lock, self.entries = ttl_s, threading.Lock(), {}  # type: ignore[var-annotated]

    def get(self, digest: bytes) -> Participant | None:
        with self.lock:
            hit = self.entries.get(digest)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]  # type: ignore[no-any-return]

    def put(self, digest: bytes, who: Participant) -> None:
        with self.lock:
            if len(self.entries) > 10_000:
                self.entries.clear()
            self.entries[digest] = (who, time.monotonic() + self.ttl_s)


_cache = _TokenCache()


def get_actor(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[Session, Depends(get_reader)],
) -> Participant:
    """The authenticated participant; 401 for a missing, unknown, wrong or revoked token."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise InvalidCredentials("missing bearer token")
    digest = hashlib.sha256(creds.credentials.encode()).digest()
    who = _cache.get(digest)
    if who is None:
        who = authenticate(session, creds.credentials)
        _cache.put(digest, who)
    return who


def get_custody_key(
    actor: Annotated[Participant, Depends(get_actor)],
    session: Annotated[Session, Depends(get_reader)],
    request: Request,
) -> SigningKey:
    """The actor's key held in custody, to sign a workflow step for it (the record says custody)."""
    app = state(request)
    if app.vault is None:
        raise NoCustodyKey("this registry holds no keys in custody", party=actor.party)
    return custody_key(session, vault=app.vault, party=actor.party, at=app.registry.clock())


@dataclass(frozen=True)
class Page:
    """Offset pagination of a list: ``offset`` items skipped, at most ``limit`` returned."""

    offset: int
    limit: int

    def of(self, items: list[T]) -> list[T]:
        return items[self.offset : self.offset + self.limit]


def get_page(
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    return Page(offset, limit)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReaderDep = Annotated[Session, Depends(get_reader)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
ActorDep = Annotated[Participant, Depends(get_actor)]
CustodyKeyDep = Annotated[SigningKey, Depends(get_custody_key)]
PageDep = Annotated[Page, Depends(get_page)]
IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="a retried write with the same key returns the first answer instead of acting twice",
    ),
]
