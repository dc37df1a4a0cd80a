"""Replay at scale: worker processes that prepare lines ahead of the replayer, and exact
disk-backed sets for applied digests and closed holds, so memory stays flat however long the journal.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import tempfile
import threading
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from itertools import islice
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

import orjson

from ledger.canonical import canonical_bytes
from ledger.errors import DomainError
from ledger.journal import ParsedRecord
from ledger.model import RegisterKey, Signature, parse_body
from ledger.replay import Prepared, Replayer, prepare
from ledger.rules import Hold

__all__ = ["DiskStore", "prepared_stream"]


# -- bounded memory: applied digests and closed holds on disk ---------------------------------


class DiskStore:
    """Exact sets kept in memory up to ``memory_limit`` entries (digests: ~100 bytes each; closed
    holds, larger, up to a fifth as many), then in a temporary SQLite file with a 2 MB cache.

    Serves as the replay's ``DigestSet`` (``.digests``) and ``HoldArchive`` (``.holds``).
    Exact by construction (a primary-key lookup), never probabilistic.
    """

    def __init__(self, directory: Path | None = None, *, memory_limit: int = 50_000) -> None:
        self._dir = directory
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None
        self.memory_limit = memory_limit
        self.digests = _Digests(self)
        self.holds = _Holds(self)

    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ecoledger-audit-", dir=self._dir)
            db = sqlite3.connect(Path(self._tmp.name) / "spill.db", isolation_level=None)
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-2000", "temp_store=FILE"):
                db.execute(f"PRAGMA {pragma}")
            db.execute("CREATE TABLE digest (d BLOB PRIMARY KEY) WITHOUT ROWID")
            db.execute("CREATE TABLE hold (id TEXT PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID")
            db.execute("BEGIN")
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class _Digests:
    def __init__(self, store: DiskStore) -> None:
        self._store = store
        self._memory: set[bytes] | None = set()

    def add(self, digest: bytes) -> bool:
        if self._memory is not None:
            if digest in self._memory:
                return False
            self._memory.add(digest)
            if len(self._memory) > self._store.memory_limit:
                self._store.db().executemany("INSERT INTO digest VALUES (?)", ((d,) for d in self._memory))
                self._memory = None
            return True
        try:
            self._store.db().execute("INSERT INTO digest VALUES (?)", (digest,))
        except sqlite3.IntegrityError:
            return False
        return True


class _Holds:
    def __init__(self, store: DiskStore) -> None:
        self._store = store
        self._memory: dict[str, Hold] | None = {}

    def put(self, hold: Hold) -> None:
        if self._memory is not None:
            self._memory[hold.id] = hold
            if len(self._memory) > self._store.memory_limit // 5:
                rows = ((h.id, _hold_row(h)) for h in self._memory.values())
                self._store.db().executemany("INSERT OR REPLACE INTO hold VALUES (?, ?)", rows)
                self._memory = None
            return
        self._store.db().execute("INSERT OR REPLACE INTO hold VALUES (?, ?)", (hold.id, _hold_row(hold)))

    def get(self, hold_id: str) -> Hold | None:
        if self._memory is not None:
            return self._memory.get(hold_id)
        row = self._store.db().execute("SELECT row FROM hold WHERE id = ?", (hold_id,)).fetchone()
        return None if row is None else Hold(*json.loads(row[0]))


def _hold_row(h: Hold) -> str:
    return canonical_bytes(
        [h.id, h.account, h.instrument, h.lot_key, h.amount, h.reason, h.controller, h.status]
    ).decode()


# -- parallel preparation -----------------------------------------------------------------------

_Wire = tuple[Any, ...]
_KEY_REGISTRATION = b'"type":"key.register"'


def _prepare_batch(
    lines: list[bytes], keys: tuple[bytes, ...], party_keys: dict[str, bytes] | None = None
) -> list[_Wire]:
    """Worker side: parse, check the seal and party signatures. What goes back is plain tuples of
    bytes, strings and numbers: pickling typed bodies (nested frozen dataclasses) both ways cost
    more than the replayer's own ``parse_body``, so the body travels as its canonical bytes."""
    out: list[_Wire] = []
    for line in lines:
        prep = prepare(line, keys, party_keys)
        rec = prep.record
        if rec is None:
            out.append((prep.error,))
            continue
        sigs = tuple((s.party, s.key_id, s.sig, s.custody) for s in rec.sigs)
        ok = tuple(k for k, good in prep.seal.items() if good)
        out.append(
            (
                rec.seq,
                rec.prev,
                rec.time,
                rec.body_bytes,
                sigs,
                rec.hash,
                rec.registry_sig,
                ok,
                prep.signed_with,
            )
        )
    return out


def _unwire(item: _Wire, keys: tuple[bytes, ...]) -> Prepared:
    if len(item) == 1:
        return Prepared(None, item[0])
    seq, prev, moment, body_bytes, sigs, digest, registry_sig, ok, signed_with = item
    # The worker proved these bytes canonical, so a plain decoder reads them exactly as the
    # strict one did (no floats, no big integers, no duplicate keys can be in them).
    body = orjson.loads(body_bytes)
    rec = ParsedRecord(
        seq, prev, moment, body, body_bytes, tuple(Signature(*s) for s in sigs), digest, registry_sig
    )
    return Prepared(rec, "", {k: k in ok for k in keys}, signed_with)


def _registered_keys(lines: list[bytes], into: dict[str, bytes]) -> None:
    """Party keys the batch itself registers, as hints for the workers: a key registered a few
    records before its first use would otherwise be unknown to the batches already in flight, and
    every signature under it checked again here. A hint is never trusted: the replayer accepts a
    worker's check only under the key its state holds for that id at that time."""
    for line in lines:
        if _KEY_REGISTRATION not in line:
            continue
        rec = prepare(line).record
        if rec is None:
            continue
        try:
            body = parse_body(rec.body)
        except DomainError:
            continue
        if isinstance(body, RegisterKey):
            into.setdefault(body.key_id, body.public_key)


def _pool(workers: int) -> Pool:
    """Forked workers start at once; forking a process that runs other threads is unsafe, so
    then (and where there is no fork) a fork server or fresh interpreters are used."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        method = "fork"
    else:
        method = "forkserver" if "forkserver" in methods else "spawn"
    return multiprocessing.get_context(method).Pool(workers)


def prepared_stream(
    lines: Iterable[bytes],
    replayer: Replayer,
    *,
    workers: int = 1,
    batch: int = 500,
    hint_keys: Sequence[bytes] = (),
) -> Generator[Prepared, None, None]:
    """Lines prepared in order. With ``workers`` > 1 a process pool parses and checks
    signatures a few batches ahead of the replayer, against the keys known when the batch
    left; every stateful check (which key was valid, for whom, when) still runs in order, in
    this process, so the first failure named is the one a single process would name."""
    if workers <= 1:
        for line in lines:  # party signatures checked here as a worker checks them
            yield prepare(line, (), replayer.party_keys())
        return
    it = iter(lines)
    window: deque[tuple[AsyncResult[list[_Wire]], tuple[bytes, ...]]] = deque()
    registered: dict[str, bytes] = {}
    with _pool(workers) as pool:
        while True:
            chunk = list(islice(it, batch))
            if chunk:
                keys = tuple(dict.fromkeys((*hint_keys, *replayer.registry_public_keys())))
                _registered_keys(chunk, registered)
                task = (chunk, keys, {**registered, **replayer.party_keys()})
                window.append((pool.apply_async(_prepare_batch, task), keys))
            if window and (not chunk or len(window) > 2 * workers):
                result, keys = window.popleft()
                for item in result.get():
                    yield _unwire(item, keys)
            elif not chunk:
                return
