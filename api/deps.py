"""Request-scoped dependencies: the database session that commits, and the caller's identity.

The session commits when the route returns and *before* the response is sent
(``scope="function"``): with FastAPI's default scope a failed commit would follow a 200.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from accounts.credentials import Authenticated, confirm, credential_id_of, look_up_token, verify_token
from accounts.custody import Vault, custody_key
from accounts.errors import InvalidCredentials, NoCustodyKey
from accounts.model import Participant
from api.limits import Limits, limits_from_env
from api.security import client_address
from ledger.crypto import SigningKey
from ledger.db import read_again
from ledger.replica import ReplicaStamp, replica_stamp
from ledger.sequencer import KNOWN_FACTS, Sequencer
from ledger.service import Registry

__all__ = [
    "IDEMPOTENCY_KEY_PARAMETER",
    "ActorDep",
    "CustodyKeyDep",
    "IdempotencyKeyDep",
    "MaybeCustodyKeyDep",
    "PageDep",
    "ReaderDep",
    "RegistryDep",
    "SequencerDep",
    "SessionDep",
    "SlotDep",
    "actor_for_token",
    "admitted",
    "authenticate",
    "idempotency_key",
    "in_thread",
    "read",
]

T = TypeVar("T")
_bearer = HTTPBearer(  # a missing token is our 401, not FastAPI's 403/422
    auto_error=False,
    bearerFormat="ek_<id>_<secret>",
    description=(
        "An access key issued by the registry's operator. It authenticates the caller; consent to a "
        'body is a separate Ed25519 signature over "ecoledger-body-v1" + 0x00 + RFC 8785 JSON of the body.'
    ),
)


@dataclass
class AppState:
    engine: Engine
    reader: Engine
    quick_reader: Engine  # for ``read``: no snapshot across statements
    registry: Registry
    sequencer: Sequencer  # every write of this process: group commit
    vault: Vault | None = None  # None: the registry holds no keys; every party signs for itself
    slots: anyio.Semaphore | None = None  # made on first use, inside the event loop
    reads_inline: bool = False  # short reads in the event loop (see ``read``)
    quick_threads: anyio.CapacityLimiter | None = None  # for ``read`` from a replica
    replica: Engine | None = None  # a read-only standby for ``read(..., replica=True)`` (balances)
    # Facts fixed once recorded (an account's owner, a party's jurisdiction), as the sequencer keeps
    # them (``KNOWN_FACTS``): ``read`` sees only committed rows, so what it found stays true.
    known_facts: dict[tuple[str, str], object] = field(default_factory=dict)
    limits: Limits = field(default_factory=limits_from_env)


def state(request: Request) -> AppState:
    return request.app.state.ecoledger  # type: ignore[no-any-return]


_ADMITTED = "ecoledger.admitted"  # in the request scope: this request holds a database slot
DB_SLOTS = 12  # requests admitted to the database at once, fewer than the pool holds


def _slots(app: AppState) -> anyio.Semaphore:
    if app.slots is None:
        pool, slots = app.engine.pool, DB_SLOTS
        if isinstance(pool, QueuePool):  # other pools (SQLite in memory, tests) never make one wait
            slots = min(slots, pool.size() + max(0, pool._max_overflow))
        app.slots = anyio.Semaphore(slots)
    return app.slots


@asynccontextmanager
async def admitted(request: Request) -> AsyncIterator[None]:
    """Admit a request to the database, or keep it waiting in the event loop (first come, first
    served) until one of ``DB_SLOTS`` is free. Re-entrant: a request holds at most one slot.

    Why: a sync route's response is serialized in the thread pool after the route returns, while the
    route's session still holds its pooled connection. With more requests in threads than connections
    in the pool, every thread can end up waiting for a connection held by a request that waits for a
    thread: 50 concurrent readers stalled the server until the pool's 30 s timeout. Admitting fewer
    requests than the pool has connections, a request always finds its connection, and the threads
    that share the GIL stay few.
    """
    if request.scope.get(_ADMITTED):
        yield
        return
    async with _slots(state(request)):
        request.scope[_ADMITTED] = True
        try:
            yield
        finally:
            request.scope[_ADMITTED] = False


async def db_slot(request: Request) -> AsyncIterator[None]:
    """A slot for the whole of a sync route, its serialization and its session's closing."""
    async with admitted(request):
        yield


QUICK_READERS = 2  # worker threads for ``read`` from a replica
FACTS_KEPT = 100_000  # ``AppState.known_facts`` starts afresh beyond this many


async def read(request: Request, work: Callable[[Session], T], *, replica: bool = False) -> T:
    """``work(session)``, a short read that needs no snapshot across its statements (a balance, a
    credential), with a session opened and closed around it: the path of the hot reads, whose
    ``async`` routes answer from the event loop instead of paying the four thread hops of a sync
    route (dependency, route, serialization, closing).

    The read runs right here, in the event loop, on both engines. On SQLite it is CPU work in this
    process (about 0.3 ms; in WAL mode readers never wait for writers): through threads, 600 balance
    reads/s against 1,200 inline, measured on 2 cores. On PostgreSQL it is one indexed statement
    (the account's owner and jurisdiction come from ``known_facts`` after the first read) with no
    ping before it (``statement_reader``), bounded by the reader's statement timeout. A thread would
    wait on the network without the GIL, but every answer then has to win the GIL back from the
    event loop: with two workers on 2 cores, through two threads each, CPU per read was 0.49 ms and
    p99 100 to 460 ms; inline, 0.35 ms and 55 to 74 ms, at the same 3,400 reads/s (load average 5).
    A replica, possibly remote, is still read from ``QUICK_READERS`` threads.
    """
    app = state(request)
    if len(app.known_facts) > FACTS_KEPT:
        app.known_facts.clear()
    if replica and app.replica is not None:
        if app.quick_threads is None:
            app.quick_threads = anyio.CapacityLimiter(QUICK_READERS)
        return await anyio.to_thread.run_sync(
            read_again, partial(_in_session, app.replica, work, app.known_facts), limiter=app.quick_threads
        )
    quick = partial(_in_session, app.quick_reader, work, app.known_facts)
    return read_again(quick) if app.reads_inline else await anyio.to_thread.run_sync(read_again, quick)


async def read_stamped(request: Request, work: Callable[[Session], T]) -> tuple[T, ReplicaStamp | None]:
    """``read(..., replica=True)``, and when a replica answered, what its answer reflects (journal
    head, latest checkpoint, replay delay), read in the same snapshot: a client of a replica is told
    how far behind the primary the answer may be."""
    if state(request).replica is None:
        return await read(request, work), None

    def stamped(session: Session) -> tuple[T, ReplicaStamp | None]:
        return work(session), replica_stamp(session)

    return await read(request, stamped, replica=True)


async def in_thread(request: Request, work: Callable[[Session], T]) -> T:
    """``work(session)`` with a read-only session in a worker thread, inside a database slot (for
    work that waits on the network or burns CPU without the GIL)."""
    async with admitted(request):
        return await anyio.to_thread.run_sync(_in_session, state(request).reader, work)


def _in_session(
    engine: Engine, work: Callable[[Session], T], known: dict[tuple[str, str], object] | None = None
) -> T:
    with Session(engine) as session:
        if known is not None:
            session.info[KNOWN_FACTS] = known
        return work(session)


SlotDep = Annotated[None, Depends(db_slot, scope="function")]


def get_session(request: Request, _: SlotDep) -> Iterator[Session]:
    """A write route's session: one savepoint of the process's current group (``ledger.sequencer``),
    released when the route returns and answered only once the group's COMMIT returned; a route that
    raises undoes its own writes, never its neighbours'."""
    with state(request).sequencer.unit() as session:
        yield session


def get_reader(request: Request, _: SlotDep) -> Iterator[Session]:
    with Session(state(request).reader) as session:
        yield session


# Dependencies that only pick from the app state are ``async``: FastAPI runs a plain ``def``
# dependency in a worker thread, a hop and a GIL hand-off for nothing.
async def get_registry(request: Request) -> Registry:
    return state(request).registry


async def get_sequencer(request: Request) -> Sequencer:
    return state(request).sequencer


class _TokenCache:
    """Verified tokens, by SHA-256 of the token. An entry is trusted as is for ``fresh_s``; after that
    one primary-key read confirms the credential is neither revoked nor replaced (``confirm``): a
    revocation takes effect within ``fresh_s``, and a busy client's calls cost no read at all."""

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
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_actor(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], request: Request
) -> Participant:
    """The authenticated participant; 401 for a missing, unknown, wrong or revoked token, 429 past
    the limits on failed authentications (per address, per credential) and on writes.

    A token verified less than a second ago costs nothing; an older one, one primary-key read; a new
    one, a primary-key read and one SHA-256 (``read``), or scrypt in a worker thread for a key
    issued before SHA-256 (75 ms of CPU must not stall the event loop). An unknown id costs the read.
    """
    if creds is None or creds.scheme.lower() != "bearer":
        raise InvalidCredentials("missing bearer token")
    return await _authenticated(request, creds.credentials)


async def authenticate(request: Request) -> Participant:
    """``get_actor`` for a route that reads its own request (``api.routes.ledger.HOT_ROUTES``): the
    bearer token read from the Authorization header as ``HTTPBearer`` reads it, the same checks."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise InvalidCredentials("missing bearer token")
    return await _authenticated(request, token)


async def _authenticated(request: Request, token: str) -> Participant:
    limits = state(request).limits
    digest = hashlib.sha256(token.encode()).digest()
    hit = _cache.get(digest)
    if hit is not None and hit[1]:
        verified = hit[0]
    else:
        address = client_address(request.scope)
        if hit is None:
            limits.check_address(address)  # an address that keeps failing is not even looked up
        try:
            verified = await (_reconfirm(request, hit[0], digest) if hit else _verify(request, token, digest))
        except InvalidCredentials:
            limits.failed(address, credential_id_of(token))
            raise
    if request.method not in _SAFE_METHODS:
        limits.write(verified.credential_id)
    request.state.api_user = verified.user  # a named user's key (accounts.users), or None
    return verified.participant


async def _verify(request: Request, token: str, digest: bytes) -> Authenticated:
    pending = await read(request, lambda session: look_up_token(session, token))
    verified = await anyio.to_thread.run_sync(pending.finish) if pending.slow else pending.finish()
    _cache.put(digest, verified)
    return verified


async def _reconfirm(request: Request, verified: Authenticated, digest: bytes) -> Authenticated:
    try:
        await read(request, lambda session: confirm(session, verified))
    except InvalidCredentials:
        _cache.drop(digest)
        raise
    _cache.put(digest, verified)
    return verified


def actor_for_token(session: Session, token: str) -> Participant:
    """The participant an API token (``ek_...``) authenticates, through the cache of verified tokens."""
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


def get_custody_key(
    actor: Annotated[Participant, Depends(get_actor)], request: Request, _: SlotDep
) -> SigningKey:
    """The actor's key held in custody, to sign a workflow step for it (the record says custody)."""
    app = state(request)
    if app.vault is None:
        raise NoCustodyKey("this registry holds no keys in custody", party=actor.party)
    with Session(app.reader) as session:  # released before the write starts, as in get_actor
        return custody_key(session, vault=app.vault, party=actor.party, at=app.registry.clock())


def get_maybe_custody_key(
    actor: Annotated[Participant, Depends(get_actor)], request: Request, _: SlotDep
) -> SigningKey | None:
    """The actor's custody key, or None when the registry holds none (the service then decides)."""
    try:
        return get_custody_key(actor, request, None)
    except NoCustodyKey:
        return None


async def get_vault(request: Request) -> Vault:
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


async def get_page(
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    return Page(offset, limit)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReaderDep = Annotated[Session, Depends(get_reader, scope="function")]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SequencerDep = Annotated[Sequencer, Depends(get_sequencer)]
ActorDep = Annotated[Participant, Depends(get_actor)]
CustodyKeyDep = Annotated[SigningKey, Depends(get_custody_key)]
MaybeCustodyKeyDep = Annotated[SigningKey | None, Depends(get_maybe_custody_key)]
VaultDep = Annotated[Vault, Depends(get_vault)]
PageDep = Annotated[Page, Depends(get_page)]
IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_TEXT = "a retried write with the same key returns the first answer instead of acting twice"
_KEY_LENGTH = {"min_length": 1, "max_length": 128}
IdempotencyKeyDep = Annotated[
    str | None,
    Header(alias=IDEMPOTENCY_KEY, description=IDEMPOTENCY_KEY_TEXT, **_KEY_LENGTH),
]
_IDEMPOTENCY_KEY = TypeAdapter(Annotated[str, StringConstraints(**_KEY_LENGTH)])
# The header as the OpenAPI text documents it for a route that reads its own request.
IDEMPOTENCY_KEY_PARAMETER = {
    "name": IDEMPOTENCY_KEY,
    "in": "header",
    "required": False,
    "description": IDEMPOTENCY_KEY_TEXT,
    "schema": _IDEMPOTENCY_KEY.json_schema() | {"title": IDEMPOTENCY_KEY},
}


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key as ``IdempotencyKeyDep`` admits it, for a route that reads its
    own request; a bad one is FastAPI's own ``RequestValidationError``, located in the header."""
    value = request.headers.get(IDEMPOTENCY_KEY)
    if value is None:
        return None
    try:
        return _IDEMPOTENCY_KEY.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("header", IDEMPOTENCY_KEY)} for err in exc.errors(include_url=False)]
        ) from None
