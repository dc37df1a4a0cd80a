"""Committed signed transfers/s at 1, 8 and 50 concurrent clients, SQLite and PostgreSQL, beside a plain
PL/pgSQL double-entry ledger driven by pgbench in the same run (bench/plain_ledger.py).

Each client is a thread that hands transfers among a few hot accounts, signed before the clock starts
as API clients sign them on their own machines, to the process's one sequencer (group commit,
``ledger.sequencer``); a transfer counts once its group's COMMIT returned.
``--direct`` adds the old path (a session and a commit per transfer) for comparison.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing import Queue
from pathlib import Path
from typing import Any, NamedTuple

from plain_ledger import pgbench, run_plain
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.server import settle_heap
from ledger.crypto import TAG_BODY, SigningKey, verify_ahead
from ledger.db import create_schema, make_engine
from ledger.errors import InsufficientBalance
from ledger.model import AccountKind, Lot, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.sequencer import GroupCommitFailed, Sequencer
from ledger.service import (
    Encoded,
    Instruction,
    Registry,
    init_ledger,
    new_nonce,
    replay_database,
    submit,
    submit_batch,
)
from ledger.timeutil import utc_now

PG_URL = os.environ.get("ECOLEDGER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LOT = Lot(jurisdiction="330281")
HOT = 4
CLIENTS = (1, 8, 50)
SIGNED_AHEAD_PER_S = 6000  # transfers each run may need a second, signed before its clock starts


@dataclass
class Outcome:
    committed: int = 0
    refused: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, committed: int = 0, refused: int = 0, failed: int = 0) -> None:
        with self.lock:
            self.committed += committed
            self.refused += refused
            self.failed += failed


@dataclass(frozen=True)
class Row:
    engine: str
    mode: str
    clients: int
    per_s: float
    mean_group: float
    refused: int
    failed: int
    replay_ok: bool
    load: float
    processes: int = 1
    low: float = 0.0  # the slowest and fastest of the repeats whose median is ``per_s``
    high: float = 0.0


def bench_keys() -> dict[str, SigningKey]:
    """The parties' keys, the same in every process of a measurement."""
    keys = {f"p{i}": SigningKey.from_seed(bytes([i + 1]) * 32) for i in range(HOT)}
    keys["bureau"] = SigningKey.from_seed(b"B" * 32)
    return keys


def setup(engine: Engine, registry: Registry) -> dict[str, SigningKey]:
    keys = bench_keys()
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


def _signed(rng: random.Random, keys: dict[str, SigningKey]) -> Instruction:
    a, b = rng.sample(range(HOT), 2)
    kg = rng.randint(1, 50)
    body = TxBody(
        "transfer", new_nonce(), (Posting(f"p{a}.a", "COD", LOT, -kg), Posting(f"p{b}.a", "COD", LOT, kg))
    )
    return Instruction.signed(body, (f"p{a}", keys[f"p{a}"]))  # the client signs, as API clients do


def signed_ahead(keys: dict[str, SigningKey], seed: int, count: int) -> Iterator[Instruction]:
    """``count`` transfers signed before the clock starts, as API clients sign on their own machines
    (the registry's work starts at the signed bytes); then, should a client run out, signed as it goes."""
    rng = random.Random(seed)
    ready = [_signed(rng, keys) for _ in range(count)]
    yield from ready
    while True:
        yield _signed(rng, keys)


def grouped_client(seq: Sequencer, registry: Registry, signed: Iterator[Instruction],
                   until: float, out: Outcome) -> None:  # fmt: skip
    while time.perf_counter() < until:
        try:
            seq.submit(next(signed), registry=registry)
            out.add(committed=1)
        except InsufficientBalance:
            out.add(refused=1)
        except (GroupCommitFailed, TimeoutError, OperationalError):
            out.add(failed=1)


def direct_client(engine: Engine, registry: Registry, signed: Iterator[Instruction],
                  until: float, out: Outcome) -> None:  # fmt: skip
    while time.perf_counter() < until:
        try:
            with Session(engine) as s:
                submit(s, next(signed), registry=registry)
                s.commit()
            out.add(committed=1)
        except InsufficientBalance:
            out.add(refused=1)
        except OperationalError:  # SQLite busy beyond busy_timeout
            out.add(failed=1)


class Totals(NamedTuple):
    committed: int
    refused: int
    failed: int
    groups: int
    members: int
    elapsed: float


@dataclass(frozen=True)
class Target:
    """Where a measurement's database is, so that each process opens its own engine on it."""

    url: str
    connect_args: dict[str, str] = field(default_factory=dict)

    def engine(self) -> Engine:
        extra: dict[str, Any] = {"connect_args": self.connect_args} if self.connect_args else {}
        return make_engine(self.url, pool_size=60, max_overflow=0, **extra)


def run_clients(target: Target, mode: str, clients: int, first: int, seconds: float,
                start_at: float) -> Totals:  # fmt: skip
    """``clients`` clients of one process (its own engine and sequencer, as one ``serve`` worker),
    running from ``start_at`` (a ``time.time()``) for ``seconds``: committed, refused, failed, groups,
    group members, and the seconds until the last client returned."""
    engine = target.engine()
    registry = Registry(SigningKey.from_seed(b"R" * 32))
    keys = bench_keys()
    seq, out = Sequencer(engine), Outcome()
    ahead = int(seconds * SIGNED_AHEAD_PER_S / clients) + 50
    signed = [signed_ahead(keys, first + i, ahead) for i in range(clients)]
    for client in signed:
        next(client)  # sign the batch now, off the clock (the first transfer is dropped)
    young = gc.get_threshold()
    settle_heap()  # as ``serve`` does once its app is built: what exists now is frozen out of GC
    time.sleep(max(0.0, start_at - time.time()))
    start = time.perf_counter()
    until = start + seconds
    if mode == "grouped":
        args = [(seq, registry, signed[i], until, out) for i in range(clients)]
        threads = [threading.Thread(target=grouped_client, args=a) for a in args]
    else:
        args2 = [(engine, registry, signed[i], until, out) for i in range(clients)]
        threads = [threading.Thread(target=direct_client, args=a) for a in args2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    gc.set_threshold(*young)
    engine.dispose()
    stats = seq.stats
    return Totals(out.committed, out.refused, out.failed, stats.groups, stats.members, elapsed)


def _child(target: Target, mode: str, clients: int, first: int, seconds: float, start_at: float,
           results: Queue[Totals]) -> None:  # fmt: skip
    results.put(run_clients(target, mode, clients, first, seconds, start_at))


def measure(factory: Callable[[], Target], label: str, mode: str, clients: int, seconds: float,
            processes: int = 1) -> Row:  # fmt: skip
    """``clients`` clients for ``seconds``, in one process or spread over ``processes`` (each with
    its own sequencer; SQLite's writer lock or PostgreSQL's head row orders their groups)."""
    target = factory()
    engine = target.engine()
    setup(engine, Registry(SigningKey.from_seed(b"R" * 32)))
    engine.dispose()
    share = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    firsts = [sum(share[:i]) for i in range(processes)]
    start_at = time.time() + 2.0 + 0.3 * clients / processes  # after every process signed ahead
    if processes == 1:
        totals = [run_clients(target, mode, clients, 0, seconds, start_at)]
    else:
        ctx = multiprocessing.get_context("fork")  # no thread runs here yet: forking is safe
        results: Queue[Totals] = ctx.Queue()
        procs = [
            ctx.Process(target=_child, args=(target, mode, n, f, seconds, start_at, results))
            for n, f in zip(share, firsts, strict=True)
        ]
        for proc in procs:
            proc.start()
        totals = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
    load = os.getloadavg()[0]
    committed, refused = sum(t.committed for t in totals), sum(t.refused for t in totals)
    failed = sum(t.failed for t in totals)
    groups, members = sum(t.groups for t in totals), sum(t.members for t in totals)
    elapsed = max(t.elapsed for t in totals)
    engine = target.engine()
    with Session(engine) as s:
        report, diff = replay_database(s)
    engine.dispose()
    mean = members / groups if mode == "grouped" and groups else 1.0
    return Row(label, mode, clients, committed / elapsed, mean, refused, failed,
               report.ok and not diff, load, processes)  # fmt: skip


def group_ceiling(factory: Callable[[], Target], seconds: float, group: int = 50) -> float:
    """The sequencer's own ceiling on this machine, in the same run: one thread hands the same
    transfers to ``submit_batch`` in groups of ``group`` and commits each, with every body encoded
    and every signature checked beforehand, off the clock (the clients' share of the work, which
    they do on other cores); committed transfers per second of batch and commit time. Fifty clients
    cannot beat it: the figure the 50-client rows stand next to."""
    target = factory()
    engine = target.engine()
    registry = Registry(SigningKey.from_seed(b"R" * 32))
    keys = setup(engine, registry)
    source = signed_ahead(keys, 7_777, int(seconds * SIGNED_AHEAD_PER_S) + group)
    spent, committed = 0.0, 0
    while spent < seconds:
        batch = [next(source) for _ in range(group)]
        encoded = [Encoded.of(ins) for ins in batch]
        for enc in encoded:
            for sig in enc.ins.signatures:
                verify_ahead(keys[sig.party].public, TAG_BODY, enc.body_bytes, sig.sig)
        start = time.perf_counter()
        with Session(engine) as s:
            results = submit_batch(s, batch, registry=registry, encoded=encoded)
            s.commit()
        spent += time.perf_counter() - start
        committed += sum(1 for r in results if not isinstance(r, Exception))
    engine.dispose()
    return committed / spent


def sqlite_factory() -> Target:
    target = Target(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
    engine = target.engine()
    create_schema(engine)
    engine.dispose()
    return target


def pg_factory() -> Target:
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS ecoledger_cbench CASCADE"))
        conn.execute(text("CREATE SCHEMA ecoledger_cbench"))
    admin.dispose()
    target = Target(PG_URL, {"options": "-csearch_path=ecoledger_cbench"})
    engine = target.engine()
    create_schema(engine)
    engine.dispose()
    return target


def _pg_reachable() -> bool:
    try:
        probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except OperationalError:
        return False
    return True


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(rows: list[Row], plain: dict[int, float], ceiling: dict[str, float] | None = None) -> list[str]:
    """The table, then each target of issue 16 with its figure, per number of server processes."""
    ceiling = ceiling or {}
    lines = [
        f"{'engine':<10} {'mode':<8} {'procs':>5} {'clients':>7} {'committed/s':>12} {'repeats min-max':>16} "
        f"{'x 1 client':>10} "
        f"{'mean group':>10} {'plain tps':>10} {'registry/plain':>14} {'refused':>7} {'failed':>6} "
        f"{'replay':>6} {'load 1m':>7}"
    ]
    one = {(r.engine, r.mode, r.processes): r.per_s for r in rows if r.clients == 1}
    for r in rows:
        base = one.get((r.engine, r.mode, r.processes))
        p = plain.get(r.clients) if r.engine == "postgresql" else None
        lines.append(
            f"{r.engine:<10} {r.mode:<8} {r.processes:>5} {r.clients:>7} {r.per_s:>12,.0f} "
            f"{f'{r.low:,.0f}-{r.high:,.0f}':>16} "
            f"{(r.per_s / base if base else 0):>10.2f} {r.mean_group:>10.1f} "
            f"{(f'{p:,.0f}' if p else '-'):>10} {(f'{r.per_s / p:.2f}' if p else '-'):>14} "
            f"{r.refused:>7} {r.failed:>6} {'ok' if r.replay_ok else 'FAILED':>6} {r.load:>7.2f}"
        )
    for clients, tps in sorted(plain.items()):
        if not any(r.engine == "postgresql" for r in rows):
            lines.append(f"plain PL/pgSQL at {clients} clients: {tps:,.0f} tps")
    for eng, limit in ceiling.items():
        at_50 = [r.per_s for r in rows if r.engine == eng and r.clients == 50 and r.mode == "grouped"]
        share = f"; 50 clients reach {max(at_50) / limit:.0%} of it" if at_50 else ""
        lines.append(
            f"{eng} ceiling, one thread, groups of 50, signatures checked beforehand: {limit:,.0f}/s{share}"
        )
    grouped = {(r.engine, r.processes, r.clients): r.per_s for r in rows if r.mode == "grouped"}
    lines.append("targets (issue 16):")
    for procs in sorted({r.processes for r in rows}):
        where = f"{procs} process{'es' if procs > 1 else ''}"
        for eng in ("sqlite", "postgresql"):
            one_c, fifty = grouped.get((eng, procs, 1)), grouped.get((eng, procs, 50))
            if one_c and fifty:
                ratio = fifty / one_c
                lines.append(
                    f"  {eng}, {where}: 50 clients >= 4x 1 client: {ratio:.2f}x  {_verdict(ratio >= 4)}"
                )
        if grouped.get(("sqlite", procs, 50)):
            v = grouped[("sqlite", procs, 50)]
            lines.append(f"  sqlite, {where}: 50 clients >= 4,000/s: {v:,.0f}/s  {_verdict(v >= 4000)}")
        if grouped.get(("postgresql", procs, 50)) and plain.get(50):
            ratio = grouped[("postgresql", procs, 50)] / plain[50]
            lines.append(
                f"  postgresql, {where}: 50 clients >= 2x plain PL/pgSQL: {ratio:.2f}x "
                f" {_verdict(ratio >= 2)}"
            )
    return lines


def _median(cell: list[Row]) -> Row:
    """The run with the median rate, carrying the slowest and fastest rates of the cell."""
    ranked = sorted(cell, key=lambda r: r.per_s)
    middle = ranked[(len(ranked) - 1) // 2]
    refused, failed = sum(r.refused for r in cell), sum(r.failed for r in cell)
    return replace(
        middle,
        low=ranked[0].per_s,
        high=ranked[-1].per_s,
        refused=refused,
        failed=failed,
        replay_ok=all(r.replay_ok for r in cell),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--direct", action="store_true", help="also the old path: a commit per transfer")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL and its comparator only")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each figure is the median")
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1],
        help="server processes the clients are spread over, each run (as serve --workers N)",
    )  # fmt: skip
    args = parser.parse_args()
    modes = ["grouped", "direct"] if args.direct else ["grouped"]
    engines: list[tuple[str, Callable[[], Target]]] = [] if args.no_sqlite else [("sqlite", sqlite_factory)]
    pg = not args.no_pg and _pg_reachable()
    if pg:
        engines.append(("postgresql", pg_factory))
    elif not args.no_pg:
        print(f"postgresql: skipped (not reachable at {PG_URL.split('@')[-1]})")
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}")
    runs: dict[tuple[str, str, int, int], list[Row]] = {}
    plain_runs: dict[int, list[float]] = {}
    ceiling_runs: dict[str, list[float]] = {}
    for rep in range(args.repeats):  # every cell once per round: a slow spell hits all of them
        for clients in CLIENTS:  # engines and the comparator back to back at each client count
            for label, factory in engines:
                for mode in modes:
                    for procs in args.processes:
                        if procs > clients:
                            continue
                        row = measure(factory, label, mode, clients, args.seconds, procs)
                        runs.setdefault((label, mode, procs, clients), []).append(row)
                        print(
                            f"  round {rep + 1}: {label} {mode} {clients} clients in {procs} process(es): "
                            f"{row.per_s:,.0f}/s",
                            flush=True,
                        )
            if pg and pgbench() is not None:
                tps = run_plain(PG_URL, clients=clients, seconds=round(args.seconds), hot=HOT).tps
                plain_runs.setdefault(clients, []).append(tps)
                print(f"  round {rep + 1}: plain PL/pgSQL {clients} clients: {tps:,.0f} tps", flush=True)
        for label, factory in engines:  # each round, as the rows are: a slow spell hits both
            limit = group_ceiling(factory, args.seconds)
            ceiling_runs.setdefault(label, []).append(limit)
            print(f"  round {rep + 1}: {label} ceiling (groups of 50): {limit:,.0f}/s", flush=True)
    rows = [_median(cell) for cell in runs.values()]
    plain = {clients: statistics.median(v) for clients, v in plain_runs.items()}
    ceiling = {label: statistics.median(v) for label, v in ceiling_runs.items()}
    if pg and pgbench() is None:
        print("plain PL/pgSQL comparator: skipped (pgbench not found)")
    rows.sort(key=lambda r: (r.engine != "sqlite", r.mode, r.processes, r.clients))
    print("\n".join(report(rows, plain, ceiling)))


if __name__ == "__main__":
    main()
