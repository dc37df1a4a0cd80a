"""Bytes on disk per signed journal record and per balance row on one PostgreSQL node, measured by loading
N signed transfers through ``submit_batch`` into a private schema; then records per TB and years of capacity.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlmodel import Session

from ledger.canonical import canonical_bytes
from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import DomainError
from ledger.journal import GENESIS_PREV, seal
from ledger.model import AccountKind, Lot, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.service import Instruction, Registry, init_ledger, new_nonce, sign_body, submit_batch
from ledger.timeutil import utc_now

PG_URL = os.environ.get("ECOLEDGER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA = "ecoledger_storage_bench"
BUREAU = "bureau:330281"
CAP = "330281.cap"
RESERVE = "330281.reserve"
# Each enterprise holds every right in two 5-year lots: 8 positions each, as a real holder would.
INSTRUMENTS = ("COD", "NH3-N", "SO2", "NOX")
LOTS = (
    Lot(jurisdiction="330281", valid_until=date(2030, 12, 31)),
    Lot(jurisdiction="330281", valid_until=date(2035, 12, 31)),
)
FUNDING = 10**12  # kg issued to every enterprise: transfers never run short
TB = 10**12  # decimal terabyte, as disks are sold
# Tables a transfer record writes rows into; the others are per party, account or position.
RECORD_TABLES = ("journal", "posting", "checkpoint")
ALL_TABLES = (
    *RECORD_TABLES,
    "idempotency",
    "balance",
    "hold",
    "account",
    "party",
    "party_key",
    "journal_head",
)


@dataclass(frozen=True)
class Config:
    n: int
    batch: int
    enterprises: int
    idempotency: bool
    records_per_year: int
    pg_url: str
    keep: bool
    seed: int


def parse_args(argv: Sequence[str] | None = None) -> Config:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=50_000, help="signed transfers to load (default %(default)s)")
    p.add_argument("--batch", type=int, default=1_000, help="transfers per submit_batch and commit")
    p.add_argument(
        "--enterprises", type=int, default=500, help="holding accounts (x 8 positions: balance rows)"
    )
    p.add_argument(
        "--no-idempotency", action="store_true", help="submit without idempotency keys (default: one each)"
    )
    p.add_argument(
        "--records-per-year",
        type=int,
        default=10_000_000,
        help="the load the projection assumes (default %(default)s: docs/scale.md derives it)",
    )
    p.add_argument("--pg-url", default=PG_URL, help="PostgreSQL URL (default %(default)s)")
    p.add_argument("--keep", action="store_true", help=f"keep schema {SCHEMA} afterwards for inspection")
    p.add_argument("--seed", type=int, default=20261123)
    a = p.parse_args(argv)
    return Config(
        a.n, a.batch, a.enterprises, not a.no_idempotency, a.records_per_year, a.pg_url, a.keep, a.seed
    )


def key_for(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(b"ecoledger-storage-bench\x00" + name.encode()).digest())


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- database ---------------------------------------------------------------------------------


def reachable(url: str) -> str | None:
    """None, or one line saying why PostgreSQL cannot be used."""
    try:
        probe = create_engine(url, connect_args={"connect_timeout": 3})
        with probe.connect() as c:
            c.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {url.split('@')[-1]} ({type(exc).__name__})"
    return None


def reset_schema(url: str, *, create: bool) -> None:
    admin = create_engine(url)
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        if create:
            c.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()


def vacuum(engine: Engine, *, full: Sequence[str] = ()) -> None:
    """VACUUM ANALYZE every table (visibility and free-space maps exist, as in steady state); VACUUM
    FULL the tables named, to measure rows rather than the dead versions updates leave behind."""
    with engine.connect() as c:
        c = c.execution_options(isolation_level="AUTOCOMMIT")
        for name in ALL_TABLES:
            c.execute(text(f"VACUUM {'FULL ' if name in full else ''}ANALYZE {name}"))


@dataclass(frozen=True)
class Size:
    rows: int
    heap: int  # main fork plus free-space and visibility maps, plus TOAST
    indexes: int

    @property
    def total(self) -> int:
        return self.heap + self.indexes


def sizes(engine: Engine) -> dict[str, Size]:
    out = {}
    with engine.connect() as c:
        for name in ALL_TABLES:
            row = c.execute(
                text(
                    "SELECT pg_table_size(CAST(:t AS regclass)), pg_indexes_size(CAST(:t AS regclass)), "
                    f"(SELECT count(*) FROM {name})"
                ),
                {"t": name},
            ).one()
            out[name] = Size(int(row[2]), int(row[0]), int(row[1]))
    return out


def server_facts(c: Connection) -> str:
    version = str(c.execute(text("SHOW server_version")).scalar())
    buffers = str(c.execute(text("SHOW shared_buffers")).scalar())
    sync = str(c.execute(text("SHOW synchronous_commit")).scalar())
    return f"PostgreSQL {version} (shared_buffers {buffers}, synchronous_commit {sync})"


# -- the load ---------------------------------------------------------------------------------


def apply(engine: Engine, registry: Registry, instructions: Sequence[Instruction], size: int) -> None:
    for chunk in chunks(instructions, size):
        with Session(engine) as s:
            results = submit_batch(s, chunk, registry=registry)
            s.commit()
        refused = [r for r in results if isinstance(r, DomainError)]
        if refused:
            raise RuntimeError(f"{len(refused)} set-up instructions refused, first: {refused[0]}")


def setup(engine: Engine, registry: Registry, enterprises: list[tuple[str, SigningKey]]) -> None:
    """Genesis, a bureau with its cap account, enterprises with funded holding accounts."""
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger storage bench")
        s.commit()
    now = utc_now()
    bureau = key_for(BUREAU)
    members = [(BUREAU, "bureau", bureau, CAP, AccountKind.ISSUANCE)]
    members += [(p, "enterprise", k, f"{p}.h", AccountKind.HOLDING) for p, k in enterprises]
    bodies: list[Instruction] = []
    for party, role, key, account, kind in members:
        bodies += [
            Instruction(RegisterParty(party, role, {"jurisdiction": "330281"}, new_nonce())),
            Instruction(RegisterKey(party, key.key_id, key.public, now, new_nonce())),
            Instruction(OpenAccount(account, party, kind, new_nonce())),
        ]
    bodies.append(Instruction(OpenAccount(RESERVE, BUREAU, AccountKind.RESERVE, new_nonce())))
    apply(engine, registry, bodies, 1_000)
    total = FUNDING * len(enterprises)
    caps = [
        TxBody("cap.set", new_nonce(), (Posting(CAP, code, lot, -total), Posting(RESERVE, code, lot, total)))
        for code in INSTRUMENTS
        for lot in LOTS
    ]
    issues = [Instruction.signed(cap, (BUREAU, bureau)) for cap in caps] + [
        Instruction.signed(
            TxBody(
                "allocation.initial",
                new_nonce(),
                (Posting(RESERVE, code, lot, -FUNDING), Posting(f"{p}.h", code, lot, FUNDING)),
            ),
            (BUREAU, bureau),
        )
        for p, _ in enterprises
        for code in INSTRUMENTS
        for lot in LOTS
    ]
    apply(engine, registry, issues, 1_000)


def transfer(rng: random.Random, enterprises: list[tuple[str, SigningKey]], idempotent: bool) -> Instruction:
    """A transfer between a random pair, signed by the sender, as a client submits it."""
    (src, key), (dst, _) = rng.sample(enterprises, 2)
    kg, code, lot = rng.randint(1, 100_000), rng.choice(INSTRUMENTS), rng.choice(LOTS)
    body = TxBody(
        "transfer", new_nonce(), (Posting(f"{src}.h", code, lot, -kg), Posting(f"{dst}.h", code, lot, kg))
    )
    return Instruction.signed(body, (src, key), idempotency_key=new_nonce() if idempotent else None)


def load(engine: Engine, registry: Registry, cfg: Config, enterprises: list[tuple[str, SigningKey]]) -> float:
    """Seconds to submit and commit ``cfg.n`` transfers in batches (signing excluded: clients sign)."""
    rng = random.Random(cfg.seed)
    elapsed = 0.0
    for start in range(0, cfg.n, cfg.batch):
        batch = [transfer(rng, enterprises, cfg.idempotency) for _ in range(min(cfg.batch, cfg.n - start))]
        began = time.perf_counter()
        with Session(engine) as s:
            results = submit_batch(s, batch, registry=registry)
            s.commit()
        elapsed += time.perf_counter() - began
        refused = [r for r in results if isinstance(r, DomainError)]
        if refused:
            raise RuntimeError(f"{len(refused)} transfers refused, first: {refused[0]}")
    return elapsed


def trade_core_bytes() -> int:
    """The core of a richer record for comparison: a delivery-versus-payment trade (four postings,
    meta, two party signatures), sealed exactly as the ledger seals it, without a database."""
    seller, buyer = key_for("seller"), key_for("buyer")
    s, b = "ent:91330281EXAMPLE1XX", "ent:91330281EXAMPLE2XX"
    body = TxBody(
        "trade",
        new_nonce(),
        (
            Posting(f"{s}.holding", "COD", LOTS[0], -2_000),
            Posting(f"{b}.holding", "COD", LOTS[0], 2_000),
            Posting(f"{b}.cash", "CNY", Lot(), -3_400_000),
            Posting(f"{s}.cash", "CNY", Lot(), 3_400_000),
        ),
        signers=(s, b),
        meta={
            "seller": s,
            "buyer": b,
            "instrument": "COD",
            "jurisdiction": "330281",
            "valid_until": "2030-12-31",
            "quantity_kg": 2_000,
            "price_fen_per_t": 1_700_000,
            "amount_fen": 3_400_000,
        },
    )
    body_json = body.to_json()
    body_bytes = canonical_bytes(body_json)
    record = seal(
        seq=1,
        prev=GENESIS_PREV,
        time=utc_now(),
        body=body_json,
        body_bytes=body_bytes,
        sigs=(sign_body(body, s, seller), sign_body(body, b, buyer)),
        registry=key_for("registry"),
    )
    return len(record.core)


# -- report -----------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu})"


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def report(cfg: Config, before: dict[str, Size], after: dict[str, Size], compact: dict[str, Size]) -> None:
    print(f"\n{'table':<13}{'rows':>10}{'heap+toast':>14}{'indexes':>12}{'total':>12}  (after the load)")
    for name in ALL_TABLES:
        sz = after[name]
        print(f"{name:<13}{sz.rows:>10,}{mb(sz.heap):>14}{mb(sz.indexes):>12}{mb(sz.total):>12}")
    n = after["journal"].rows - before["journal"].rows
    delta = {t: after[t].total - before[t].total for t in (*RECORD_TABLES, "idempotency")}
    per_record = sum(delta[t] for t in RECORD_TABLES) / n
    per_idem = delta["idempotency"] / n
    heap = (after["journal"].heap - before["journal"].heap) / n
    print(f"\nper transfer record, from the growth over {n:,} records (heap, TOAST and indexes):")
    print(
        f"  journal {delta['journal'] / n:,.0f} B (heap {heap:,.0f} B, indexes on seq, time, hash, prev, "
        f"digest {(delta['journal'] / n) - heap:,.0f} B)"
    )
    print(f"  posting {delta['posting'] / n:,.0f} B (two rows)   checkpoint {delta['checkpoint'] / n:,.1f} B")
    print(f"  = {per_record:,.0f} B per record", end="")
    print(f"; + {per_idem:,.0f} B when the request carries an idempotency key" if cfg.idempotency else "")
    bal = compact["balance"]
    loaded = after["balance"]
    print(
        f"per balance row: {bal.total / bal.rows:,.0f} B compacted ({bal.rows:,} rows, VACUUM FULL); "
        f"{loaded.total / loaded.rows:,.0f} B as loaded (dead versions of updated rows)"
    )
    for label, size in (("without", per_record), ("with", per_record + per_idem)):
        if label == "with" and not cfg.idempotency:
            continue
        per_tb = TB / size
        print(
            f"projection {label} idempotency rows: {per_tb / 1e9:,.2f} billion records per TB (10^12 B); "
            f"at {cfg.records_per_year:,} records/year, {per_tb / cfg.records_per_year:,.0f} years per TB"
        )
    print(
        "projection assumes transfer-sized records; WAL, backups and replicas are extra (see docs/scale.md)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    why = reachable(cfg.pg_url)
    if why:
        print(why, file=sys.stderr)
        return 2
    reset_schema(cfg.pg_url, create=True)
    engine = make_engine(cfg.pg_url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    try:
        create_schema(engine)
        with engine.connect() as c:
            print(f"storage bench {utc_now():%Y-%m-%d}: {server_facts(c)}; {machine()}")
        registry = Registry(key_for("registry"))  # checkpoint every 1,000 records, the default
        enterprises = [(f"ent:{i:05d}", key_for(f"ent:{i:05d}")) for i in range(cfg.enterprises)]
        setup(engine, registry, enterprises)
        vacuum(engine)
        before = sizes(engine)
        seconds = load(engine, registry, cfg, enterprises)
        print(
            f"loaded {cfg.n:,} signed transfers in batches of {cfg.batch:,} (one commit each) "
            f"in {seconds:.1f} s "
            f"({cfg.n / seconds:,.0f} tx/s); {cfg.enterprises:,} enterprises; "
            f"idempotency keys {'on' if cfg.idempotency else 'off'} (a load rate on this machine, "
            "not a throughput figure: bench/ledger_bench.py measures that)"
        )
        vacuum(engine)
        after = sizes(engine)
        with engine.connect() as c:
            core = c.execute(
                text("SELECT avg(octet_length(core)) FROM journal WHERE action = 'transfer'")
            ).scalar()
        print(
            f"record core (canonical JSON with signatures): transfer {float(core or 0):,.0f} B, "
            f"trade {trade_core_bytes():,} B"
        )
        vacuum(engine, full=("balance",))
        compact = sizes(engine)
        report(cfg, before, after, compact)
    finally:
        engine.dispose()
        if not cfg.keep:
            reset_schema(cfg.pg_url, create=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
