"""Signed transfers/s on a primary with a synchronous standby (remote_apply) against the same primary
committing locally, and the standby's replay lag (pg_stat_replication) sampled during the load."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import InsufficientBalance
from ledger.service import Registry
from tests.integration.pg_pair import PgPair, why_not
from tests.support import World, transfer

HOT = ("ent:a.h", "ent:b.h", "bank:x.h")
OWNER = {"ent:a.h": "ent:a", "ent:b.h": "ent:b", "bank:x.h": "bank:x"}


def load(world: World, clients: int, seconds: float) -> int:
    done, stop, lock = [0], threading.Event(), threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            src, dst = rng.sample(HOT, 2)
            try:
                world.submit(transfer(src, dst, rng.randint(1, 50)), OWNER[src])
            except InsufficientBalance:
                continue
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return done[0]


def sample_lag(pair: PgPair, stop: threading.Event, out: list[float]) -> None:
    probe = make_engine(pair.primary.url, pool_size=1)
    query = text("SELECT extract(epoch FROM replay_lag) * 1000 FROM pg_stat_replication")
    while not stop.is_set():
        with probe.connect() as conn:
            lag = conn.execute(query).scalar()
        if lag is not None:
            out.append(float(lag))
        time.sleep(0.1)
    probe.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if reason := why_not():
        print(f"skipped: {reason}")
        return 0
    pair = PgPair.start()
    try:
        for mode in ("remote_apply", "local"):
            engine = make_engine(pair.primary.url, connect_args={"options": f"-c synchronous_commit={mode}"})
            if mode == "remote_apply":
                create_schema(engine)
                world = World.create(engine, Registry(SigningKey.from_seed(bytes(range(32)))))
                for account in HOT:
                    world.issue(account, 10**9)
            world.engine = engine
            lags: list[float] = []
            stop = threading.Event()
            sampler = threading.Thread(target=sample_lag, args=(pair, stop, lags))
            sampler.start()
            n = load(world, args.clients, args.seconds)
            stop.set()
            sampler.join()
            lag = (
                f"replay_lag p50 {statistics.median(lags):.1f} ms, max {max(lags):.1f} ms"
                if lags
                else "no lag"
            )
            rate = f"{n / args.seconds:,.0f} transfers/s ({args.clients} clients)"
            print(f"synchronous_commit={mode}: {rate}; {lag}")
    finally:
        pair.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
