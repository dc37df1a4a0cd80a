"""Committed transfers per second with 1, 8 and 50 concurrent clients, on SQLite and PostgreSQL.

Each client is a thread with its own session doing signed transfers among a few hot accounts,
one commit per transfer. Prints throughput, refusals (insufficient balance) and retries.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import InsufficientBalance
from ledger.model import AccountKind, Lot, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.service import (
    Instruction,
    Registry,
    init_ledger,
    new_nonce,
    replay_database,
    submit,
    submit_batch,
)
from ledger.timeutil import utc_now

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOT = Lot(jurisdiction="330281")
HOT = 4


@dataclass
class Outcome:
    committed: int = 0
    refused: int = 0
    retries: int = 0


def setup(engine: Engine, registry: Registry) -> dict[str, SigningKey]:
    keys = {f"p{i}": SigningKey.from_seed(bytes([i + 1]) * 32) for i in range(HOT)}
    keys["bureau"] = SigningKey.from_seed(b"B" * 32)
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="concurrency bench")
        bodies: list[RegisterParty | RegisterKey | OpenAccount] = []
        for party, key in keys.items():
            kind = AccountKind.ISSUANCE if party == "bureau" else AccountKind.HOLDING
            role = "bureau" if party == "bureau" else "enterprise"
            bodies += [
                RegisterParty(party, role, {"jurisdiction": "330281"}, new_nonce()),
                RegisterKey(party, key.key_id, key.public, utc_now(), new_nonce()),
                OpenAccount(f"{party}.a", party, kind, new_nonce()),
            ]
        bodies.append(OpenAccount("bureau.r", "bureau", AccountKind.RESERVE, new_nonce()))
        submit_batch(s, [Instruction(b) for b in bodies], registry=registry)
        total = 1_000_000 * HOT
        cap = TxBody(
            "cap.set",
            new_nonce(),
            (Posting("bureau.a", "COD", LOT, -total), Posting("bureau.r", "COD", LOT, total)),
        )
        issues = [Instruction.signed(cap, ("bureau", keys["bureau"]))] + [
            Instruction.signed(
                TxBody(
                    "allocation.initial",
                    new_nonce(),
                    (Posting("bureau.r", "COD", LOT, -1_000_000), Posting(f"p{i}.a", "COD", LOT, 1_000_000)),
                ),
                ("bureau", keys["bureau"]),
            )
            for i in range(HOT)
        ]
        submit_batch(s, issues, registry=registry)
        s.commit()
    return keys


def client(
    engine: Engine,
    registry: Registry,
    keys: dict[str, SigningKey],
    n: int,
    seed: int,
    out: Outcome,
    lock: threading.Lock,
) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        a, b = rng.sample(range(HOT), 2)
        kg = rng.randint(1, 50)
        body = TxBody(
            "transfer", new_nonce(), (Posting(f"p{a}.a", "COD", LOT, -kg), Posting(f"p{b}.a", "COD", LOT, kg))
        )
        ins = Instruction.signed(body, (f"p{a}", keys[f"p{a}"]))
        for attempt in range(20):
            try:
                with Session(engine) as s:
                    submit(s, ins, registry=registry)
                    s.commit()
                with lock:
                    out.committed += 1
                break
            except InsufficientBalance:
                with lock:
                    out.refused += 1
                break
            except OperationalError:  # SQLite busy beyond busy_timeout, or a PG serialization failure
                with lock:
                    out.retries += 1
                time.sleep(0.001 * (attempt + 1))


def run(engine_factory: object, label: str, clients: int, per_client: int) -> None:
    engine: Engine = engine_factory()  # type: ignore[operator]
    registry = Registry(SigningKey.from_seed(b"R" * 32))
    keys = setup(engine, registry)
    out, lock = Outcome(), threading.Lock()
    threads = [
        threading.Thread(target=client, args=(engine, registry, keys, per_client, i, out, lock))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    with Session(engine) as s:
        report, diff = replay_database(s)
    ok = "replay ok" if report.ok and not diff else f"REPLAY FAILED {report.failure}"
    attempts = out.committed + out.refused + out.retries
    print(
        f"{label:<10} {clients:>3} clients  {out.committed / elapsed:>8,.0f} committed/s  "
        f"refused {out.refused:>4}  retries {out.retries:>4} ({out.retries / max(attempts, 1):.1%})  {ok}"
    )
    engine.dispose()


def sqlite_factory() -> Engine:
    path = Path(tempfile.mkdtemp()) / "bench.db"
    engine = make_engine(f"sqlite:///{path}", pool_size=60, max_overflow=0)
    create_schema(engine)
    return engine


def pg_factory() -> Engine:
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS ecoledger_cbench CASCADE"))
        conn.execute(text("CREATE SCHEMA ecoledger_cbench"))
    admin.dispose()
    engine = make_engine(
        PG_URL, pool_size=60, max_overflow=0, connect_args={"options": "-csearch_path=ecoledger_cbench"}
    )
    create_schema(engine)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-client-total", type=int, default=2000, help="transfers per run, split")
    args = parser.parse_args()
    print("one commit (fsync) per transfer; the sequencer admits one writer at a time")
    for label, factory in (("sqlite", sqlite_factory), ("postgresql", pg_factory)):
        try:
            for clients in (1, 8, 50):
                run(factory, label, clients, max(1, args.per_client_total // clients))
        except OperationalError as exc:
            print(f"{label}: skipped ({type(exc).__name__}: server not reachable)")


if __name__ == "__main__":
    main()
