"""Request-scoped dependencies: the database session that commits, and the caller's identity.

The session commits when the route returns and *before* the response is sent
(``scope="function"``): with FastAPI's default scope a failed commit would follow a 200.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.credentials import Authenticated, confirm, verify_token
from accounts.custody import Vault, custody_key
from accounts.errors import InvalidCredentials, NoCustodyKey
from accounts.model import Participant
from ledger.crypto import SigningKey
from ledger.service import Registry

__all__ = [
    "ActorDep",
    "CustodyKeyDep",
    "IdempotencyKeyDep",
    "MaybeCustodyKeyDep",
    "PageDep",
    "ReaderDep",
    "RegistryDep",
    "SessionDep",
    "actor_for_token",
]

_bearer = HTTPBearer(auto_error=False)  # a missing token is our 401, not FastAPI's 403/422


@dataclass
class AppState:
    engine: Engine
    reader: Engine
    registry: Registry
    vault: Vault | None = None  # None: the registry holds no keys; every party signs for itself
    writers: anyio.Semaphore | None = None  # made on first use, inside the event loop


def state(request: Request) -> AppState:
    return request.app.state.ecoledger  # type: ignore[no-any-return]


WRITE_SLOTS = 8  # well under the 40 threads of the pool that sync routes and their serialization share


async def write_slot(request: Request) -> AsyncIterator[None]:
    """Admit at most ``WRITE_SLOTS`` write requests at once, before they take a worker thread.

    A sync route's response is serialized in the thread pool *before* its session commits; if every
    pool thread were held by writers waiting for the database's write lock, the lock holder could not
    serialize, hence never commit: a deadlock until the busy timeout (SQLite) or forever (PostgreSQL).
    """
    app = state(request)
    if app.writers is None:
        app.writers = anyio.Semaphore(WRITE_SLOTS)
    async with app.writers:
        yield


def get_session(
    request: Request, _: Annotated[None, Depends(write_slot, scope="function")]
) -> Iterator[Session]:
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
    """Tokens verified with scrypt (about 75 ms, too slow to pay per request), by SHA-256 of the
    token. An entry is trusted as is for ``fresh_s``; after that one primary-key read confirms the
    credential is neither revoked nor replaced (``confirm``), never scrypt again: a revocation
    takes effect within ``fresh_s`` and a busy client never waits for scrypt after its first call."""

    def __init__(self, fresh_s: float = 1.0, max_entries: int = 10_000) -> None:
        self.fresh_s, self.max_entries, self.lock = fresh_s, max_entries, threading.Lock()
        self.entries: dict[bytes, tuple[Authenticated, float]] = {}

    def get(self, digest: bytes) -> tuple[Authenticated, bool] | None:
        """The verified token and whether it is still fresh (usable without a read)."""
        with self.lock:
            hit = self.entries.get(digest)
        return None if hit is None else (hit[0], hit[1] >= time.monotonic())

    def put(self, digest: bytes, verified: Authenticated) -> None:
        with self.lock:
            if len(self.entries) >= self.max_entries:
                self.entries.clear()  # crude bound against a flood of distinct valid tokens
            self.entries[digest] = (verified, time.monotonic() + self.fresh_s)

    def drop(self, digest: bytes) -> None:
        with self.lock:
            self.entries.pop(digest, None)


_cache = _TokenCache()


def get_actor(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], request: Request
) -> Participant:
    """The authenticated participant; 401 for a missing, unknown, wrong or revoked token."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise InvalidCredentials("missing bearer token")
    # A session of its own, closed before the route runs: a write route holding a pooled reader
    # connection while it waits for a writer one deadlocks the pool under load (all readers).
    with Session(state(request).reader) as session:
        return actor_for_token(session, creds.credentials)


def actor_for_token(session: Session, token: str) -> Participant:
    """The participant an API token (``ek_...``) authenticates, through the cache of verified
    tokens; the web console calls it with the token its login cookie carries."""
    digest = hashlib.sha256(token.encode()).digest()
    hit = _cache.get(digest)
    if hit is None:
        verified = verify_token(session, token)
    else:
        verified, fresh = hit
        if fresh:
            return verified.participant
        try:
            confirm(session, verified)
        except InvalidCredentials:
            _cache.drop(digest)
            raise
    _cache.put(digest, verified)
    return verified.participant


def get_custody_key(actor: Annotated[Participant, Depends(get_actor)], request: Request) -> SigningKey:
    """The actor's key held in custody, to sign a workflow step for it (the record says custody)."""
    app = state(request)
    if app.vault is None:
        raise NoCustodyKey("this registry holds no keys in custody", party=actor.party)
    with Session(app.reader) as session:  # released before the write starts, as in get_actor
        return custody_key(session, vault=app.vault, party=actor.party, at=app.registry.clock())


def get_maybe_custody_key(
    actor: Annotated[Participant, Depends(get_actor)], request: Request
) -> SigningKey | None:
    """The actor's custody key, or None when the registry holds none (the service then decides)."""
    try:
        return get_custody_key(actor, request)
    except NoCustodyKey:
        return None


def get_vault(request: Request) -> Vault:
    """The custody vault; ``NoCustodyKey`` (404) when this registry holds no keys at all."""
    vault = state(request).vault
    if vault is None:
        raise NoCustodyKey("this registry holds no keys in custody", party="registry")
    return vault


@dataclass(frozen=True)
class Page:
    """Offset pagination of a list: ``offset`` items skipped, at most ``limit`` returned."""

    offset: int
    limit: int


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
MaybeCustodyKeyDep = Annotated[SigningKey | None, Depends(get_maybe_custody_key)]
VaultDep = Annotated[Vault, Depends(get_vault)]
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
