"""P12, the failover drill: SIGKILL the primary under 20 writing clients, promote the synchronous standby.

The registry is configured with both hosts (libpq ``target_session_attrs=read-write``) and carries on;
no acknowledged write is lost, the chain stays one, and no write is acknowledged while there is no primary.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import InsufficientBalance, UnitsEncumbered
from ledger.repository import J
from ledger.service import Receipt, Registry, replay_database
from tests.integration.pg_pair import PgPair
from tests.support import World, transfer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("failover")]

CLIENTS = 20
HOT = ("ent:a.h", "ent:b.h", "bank:x.h")
OWNER = {"ent:a.h": "ent:a", "ent:b.h": "ent:b", "bank:x.h": "bank:x"}
ACKS_BEFORE_KILL = 150
GAP_S = 1.5  # the primary is dead and nothing is promoted yet: every write must be refused
ACKS_AFTER_PROMOTE = 150
DEADLINE_S = 120.0


@dataclass(frozen=True)
class Attempt:
    started: float
    ended: float
    receipt: Receipt | None  # None: refused by the database (connection lost, read-only standby)


@dataclass
class Load:
    engine: Engine
    world: World
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[Attempt] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def acks(self) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.receipt is not None]

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not self.stop.is_set():
                src, dst = rng.sample(HOT, 2)
                started = time.monotonic()
                receipt: Receipt | None = None
                try:
                    receipt = self.world.submit(transfer(src, dst, rng.randint(1, 50)), OWNER[src])
                except (InsufficientBalance, UnitsEncumbered):
                    continue
                except (OperationalError, InterfaceError):
                    time.sleep(0.05)  # the registry answers 503 with Retry-After here; a client waits
                with self.lock:
                    self.attempts.append(Attempt(started, time.monotonic(), receipt))
        except BaseException as exc:
            self.failures.append(exc)

    def wait_for_acks(self, count: int, *, after: float = 0.0) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while sum(a.started > after for a in self.acks()) < count:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, f"fewer than {count} acknowledged writes in {DEADLINE_S} s"
            time.sleep(0.05)


def max_replay_lag_ms(pair: PgPair, samples: int = 10) -> float:
    """The largest ``replay_lag`` the primary reports for its standby over ``samples`` readings."""
    probe = make_engine(pair.primary.url, pool_size=1)
    worst = 0.0
    try:
        for _ in range(samples):
            with probe.connect() as conn:
                lag = conn.execute(
                    text("SELECT extract(epoch FROM replay_lag) * 1000 FROM pg_stat_replication")
                ).scalar()
            worst = max(worst, float(lag or 0))
            time.sleep(0.1)
    finally:
        probe.dispose()
    return worst


def test_killing_the_primary_under_load_loses_no_acknowledged_write(pg_pair: PgPair) -> None:
    engine = make_engine(pg_pair.failover_url)
    try:
        _drill(pg_pair, engine)
    finally:  # also when an assertion fails: no connection to the dead primary outlives the test
        engine.dispose()


def _drill(pg_pair: PgPair, engine: Engine) -> None:
    create_schema(engine)
    world = World.create(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=50))
    for account in HOT:
        world.issue(account, 1_000)
    load = Load(engine, world)
    threads = [threading.Thread(target=load.client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        load.wait_for_acks(ACKS_BEFORE_KILL)
        lag_ms = max_replay_lag_ms(pg_pair)
        pg_pair.kill_primary()
        killed = time.monotonic()  # every process of the primary is gone from here on, not before
        time.sleep(GAP_S)
        promoting = time.monotonic()
        pg_pair.promote_standby()
        load.wait_for_acks(1, after=promoting)
        first_after = min(a.ended for a in load.acks() if a.started > promoting)
        load.wait_for_acks(ACKS_AFTER_PROMOTE, after=promoting)
    finally:
        load.stop.set()
        joined_by = time.monotonic() + 60
        for t in threads:
            t.join(timeout=max(0.0, joined_by - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert load.failures == []
    print(
        f"\nfailover drill: replay_lag max {lag_ms:.1f} ms under {CLIENTS} clients; "
        f"kill -> promote issued {promoting - killed:.2f} s (fixed gap); "
        f"promote issued -> first acknowledged write {first_after - promoting:.2f} s"
    )

    # While there was no primary, writes were refused, none acknowledged.
    in_gap = [a for a in load.attempts if killed < a.started and a.ended < promoting]
    assert in_gap, "no write was tried while there was no primary"
    assert all(a.receipt is None for a in in_gap)

    new_primary = make_engine(pg_pair.standby.url)
    try:
        with new_primary.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
        with Session(new_primary) as s:
            stored = {row.seq: row.hash for row in s.connection().execute(select(J.c.seq, J.c.hash))}
            report, diff = replay_database(s)
    finally:
        new_primary.dispose()
    acks = [a.receipt for a in load.acks() if a.receipt is not None]
    lost = [r for r in acks if stored.get(r.seq, b"").hex() != r.hash]
    assert lost == [], f"{len(lost)} acknowledged writes missing from the new primary: {lost[:3]}"
    assert sorted(stored) == list(range(len(stored))), "the journal has a gap"
    assert report.ok, report.failure  # one unforked chain, every signature and checkpoint
    assert diff == {}  # replay equals live balances
