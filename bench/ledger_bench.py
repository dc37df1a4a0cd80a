"""Committed signed transactions/s (SQLite, PostgreSQL; batched, one by one) and replay-and-verify/s,
each set against the raw Ed25519 and plain-insert limits of this machine measured in the same run."""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import os
import platform
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import SigningKey as NaclSigningKey
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, quoted_name, text
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.errors import DomainError
from ledger.journal import seal
from ledger.model import AccountKind, Lot, OpenAccount, Posting, RegisterKey, RegisterParty, TxBody
from ledger.replay import ReplayReport, replay_lines
from ledger.repository import table
from ledger.service import (
    Instruction,
    Registry,
    checkpoints,
    init_ledger,
    journal_lines,
    new_nonce,
    positions,
    submit,
    submit_batch,
)
from ledger.tables import JournalRow, PostingRow
from ledger.timeutil import format_utc, utc_now

PG_URL = os.environ.get("ECOLEDGER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "ecoledger_bench"
COMMIT_TARGET = 0.30  # signed, chained commits vs the raw sign+insert limit
REPLAY_TARGET = 0.50  # replay's signature verifications vs the raw verify limit

BUREAU = "bureau:330281"
CAP = "330281.cap"
RESERVE = "330281.reserve"
INSTRUMENT = "COD"
LOT = Lot(jurisdiction="330281", valid_until=date(2099, 12, 31))
FUNDING = 10**12  # kg/a issued to every enterprise: far more than the transfers move
MESSAGE_BYTES = 300

T = TypeVar("T")


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    batched: int
    single: int
    batch_size: int
    enterprises: int
    crypto_seconds: float
    pg_url: str | None
    profile: bool
    seed: int


def parse_args(argv: Sequence[str] | None = None) -> Config:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="a smoke run, about a tenth of the default sizes")
    p.add_argument("--n", type=int, help="batched transfers per engine (default 10,000; quick 2,000)")
    p.add_argument("--single", type=int, help="one-by-one transfers per engine (default n/10)")
    p.add_argument("--batch", type=int, default=1000, help="instructions per submit_batch and commit")
    p.add_argument("--enterprises", type=int, help="enterprises with a funded holding account")
    p.add_argument("--pg-url", default=PG_URL, help="PostgreSQL URL (default %(default)s)")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--profile", action="store_true", help="then cProfile a batched SQLite run and replay")
    p.add_argument("--seed", type=int, default=20240601)
    a = p.parse_args(argv)
    batched = a.n if a.n is not None else (2_000 if a.quick else 10_000)
    single = a.single if a.single is not None else max(batched // 10, 50)
    return Config(
        batched=batched,
        single=single,
        batch_size=a.batch,
        enterprises=a.enterprises or (30 if a.quick else 100),
        crypto_seconds=0.25 if a.quick else 0.6,
        pg_url=None if a.no_pg else a.pg_url,
        profile=a.profile,
        seed=a.seed,
    )


# -- helpers ---------------------------------------------------------------------------------


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fmt(value: float) -> str:
    return f"{value:,.0f}"


def pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def load_note(load: float, when: str) -> None:
    """Say so when other processes compete for the CPUs: every figure here is single-core."""
    cpus = os.cpu_count() or 1
    if load > 0.5 * cpus:
        print(
            f"note: load average {load:.1f} on {cpus} CPUs {when}: other processes compete, figures are noisy"
        )


def harmonic(a: float, b: float) -> float:
    """The rate of doing one of each in sequence: 1 / (1/a + 1/b)."""
    return 1.0 / (1.0 / a + 1.0 / b)


def timed_rate(op: Callable[[int], object], seconds: float, block: int = 256) -> float:
    """Operations per second of ``op(i)``, run in blocks for at least ``seconds``."""
    count, start, elapsed = 0, time.perf_counter(), 0.0
    while elapsed < seconds:
        for i in range(block):
            op(i)
        count += block
        elapsed = time.perf_counter() - start
    return count / elapsed


# -- raw limits: Ed25519 ---------------------------------------------------------------------


@dataclass(frozen=True)
class CryptoRates:
    crypto_sign: float
    crypto_verify: float
    nacl_sign: float
    nacl_verify: float

    def best(self, other: CryptoRates) -> CryptoRates:
        """The higher of two measurements (start and end of the run): a limit is a best case."""
        return CryptoRates(
            max(self.crypto_sign, other.crypto_sign),
            max(self.crypto_verify, other.crypto_verify),
            max(self.nacl_sign, other.nacl_sign),
            max(self.nacl_verify, other.nacl_verify),
        )


def measure_crypto(seconds: float, rng: random.Random) -> CryptoRates:
    """Bare Ed25519 over distinct 300-byte messages: no tags, no encoding, no key parsing."""
    messages = [rng.randbytes(MESSAGE_BYTES) for _ in range(256)]
    private = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    public = private.public_key()
    sigs = [private.sign(m) for m in messages]
    nacl_key = NaclSigningKey(rng.randbytes(32))
    nacl_verify_key = nacl_key.verify_key
    nacl_sigs = [nacl_key.sign(m).signature for m in messages]
    if any(nacl_verify_key.verify(m, s) != m for m, s in zip(messages, nacl_sigs, strict=True)):
        raise AssertionError("PyNaCl did not verify its own signatures")
    return CryptoRates(
        crypto_sign=timed_rate(lambda i: private.sign(messages[i]), seconds),
        crypto_verify=timed_rate(lambda i: public.verify(sigs[i], messages[i]), seconds),
        nacl_sign=timed_rate(lambda i: nacl_key.sign(messages[i]), seconds),
        nacl_verify=timed_rate(lambda i: nacl_verify_key.verify(messages[i], nacl_sigs[i]), seconds),
    )


# -- engines ---------------------------------------------------------------------------------


class Backend:
    """Hands out a fresh, empty ledger database per measurement, on one engine kind."""

    label = ""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def fresh(self) -> Engine:
        self.release()
        self.engine = self._make()
        create_schema(self.engine)
        return self.engine

    def _make(self) -> Engine:
        raise NotImplementedError

    def release(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def close(self) -> None:
        self.release()


class SqliteBackend(Backend):
    label = "SQLite"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.count = 0

    def _make(self) -> Engine:
        self.count += 1
        return make_engine(f"sqlite:///{self.directory / f'bench{self.count}.db'}")


class PostgresBackend(Backend):
    label = "PostgreSQL"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.admin = create_engine(url, connect_args={"connect_timeout": 3})

    @classmethod
    def connect(cls, url: str) -> PostgresBackend | str:
        """The backend, or one line saying why PostgreSQL cannot be used."""
        backend = cls(url)
        try:
            with backend.admin.connect() as c:
                c.execute(text("SELECT 1"))
        except Exception as exc:
            backend.admin.dispose()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return f"PostgreSQL not reachable at {url.split('@')[-1]} ({type(exc).__name__}: {reason[:100]})"
        return backend

    def _reset_schema(self, *, create: bool) -> None:
        with self.admin.begin() as c:
            c.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            if create:
                c.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))

    def _make(self) -> Engine:
        self._reset_schema(create=True)
        return make_engine(self.url, connect_args={"options": f"-csearch_path={PG_SCHEMA}"})

    def close(self) -> None:
        self.release()
        self._reset_schema(create=False)
        self.admin.dispose()


# -- the ledger workload ---------------------------------------------------------------------


def bench_key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(b"ecoledger-bench\x00" + name.encode()).digest())


def holding(party: str) -> str:
    return f"{party}.h"


@dataclass(frozen=True)
class Cast:
    """The registry, the issuing bureau and the enterprises, with their keys."""

    registry: Registry
    bureau: SigningKey
    enterprises: list[tuple[str, SigningKey]]

    @classmethod
    def create(cls, n: int) -> Cast:
        names = [f"ent:{i:04d}" for i in range(n)]
        return cls(Registry(bench_key("registry")), bench_key(BUREAU), [(p, bench_key(p)) for p in names])


def apply_all(engine: Engine, registry: Registry, instructions: Sequence[Instruction], size: int) -> None:
    for chunk in chunks(instructions, size):
        with Session(engine) as s:
            results = submit_batch(s, chunk, registry=registry)
            s.commit()
        refused = [r for r in results if isinstance(r, DomainError)]
        if refused:
            raise refused[0]


def setup_ledger(engine: Engine, cast: Cast) -> None:
    """Genesis, the bureau with its issuance account, enterprises with funded holding accounts."""
    with Session(engine) as s:
        init_ledger(s, registry=cast.registry, name="ecoledger bench registry")
        s.commit()
    valid_from = utc_now()
    members: list[tuple[str, str, SigningKey, str, AccountKind]] = [
        (BUREAU, "bureau", cast.bureau, CAP, AccountKind.ISSUANCE),
        *[(p, "enterprise", k, holding(p), AccountKind.HOLDING) for p, k in cast.enterprises],
    ]
    setup: list[Instruction] = []
    for party, role, key, account, kind in members:
        setup += [
            Instruction(RegisterParty(party, role, {"jurisdiction": "330281"}, new_nonce())),
            Instruction(RegisterKey(party, key.key_id, key.public, valid_from, new_nonce())),
            Instruction(OpenAccount(account, party, kind, new_nonce())),
        ]
    setup.append(Instruction(OpenAccount(RESERVE, BUREAU, AccountKind.RESERVE, new_nonce())))
    apply_all(engine, cast.registry, setup, 1000)
    total = FUNDING * len(cast.enterprises)
    cap = TxBody(
        "cap.set",
        new_nonce(),
        (Posting(CAP, INSTRUMENT, LOT, -total), Posting(RESERVE, INSTRUMENT, LOT, total)),
    )
    issues = [Instruction.signed(cap, (BUREAU, cast.bureau))] + [
        Instruction.signed(
            TxBody(
                "allocation.initial",
                new_nonce(),
                (
                    Posting(RESERVE, INSTRUMENT, LOT, -FUNDING),
                    Posting(holding(p), INSTRUMENT, LOT, FUNDING),
                ),
            ),
            (BUREAU, cast.bureau),
        )
        for p, _ in cast.enterprises
    ]
    apply_all(engine, cast.registry, issues, 1000)


def make_transfers(cast: Cast, n: int, rng: random.Random) -> list[Instruction]:
    """Transfers between random pairs, each signed by the sender (the client's work)."""
    out = []
    for _ in range(n):
        (src, key), (dst, _) = rng.sample(cast.enterprises, 2)
        amount = rng.randint(1, 1000)
        body = TxBody(
            "transfer",
            new_nonce(),
            (
                Posting(holding(src), INSTRUMENT, LOT, -amount),
                Posting(holding(dst), INSTRUMENT, LOT, amount),
            ),
        )
        out.append(Instruction.signed(body, (src, key)))
    return out


def commit_one_by_one(engine: Engine, registry: Registry, instructions: Sequence[Instruction]) -> float:
    """Seconds to submit and commit each instruction in its own session and transaction."""
    start = time.perf_counter()
    for ins in instructions:
        with Session(engine) as s:
            submit(s, ins, registry=registry)
            s.commit()
    return time.perf_counter() - start


def commit_batched(
    engine: Engine, registry: Registry, instructions: Sequence[Instruction], size: int
) -> float:
    """Seconds to submit_batch ``size`` instructions at a time, one commit per batch."""
    refused: list[DomainError] = []
    start = time.perf_counter()
    for chunk in chunks(instructions, size):
        with Session(engine) as s:
            results = submit_batch(s, chunk, registry=registry)
            s.commit()
        refused += [r for r in results if isinstance(r, DomainError)]
    elapsed = time.perf_counter() - start
    if refused:
        raise RuntimeError(f"{len(refused)} bench transfers were refused, first: {refused[0]}")
    return elapsed


# -- raw limit: plain inserts of the same rows -----------------------------------------------

RawTx = tuple[dict[str, Any], list[dict[str, Any]]]
ROUND = 100  # one-by-one transfers per round: raw and ledger rounds alternate


@dataclass(frozen=True)
class RawTables:
    """Copies of the ledger's journal and posting tables (same columns, keys and indexes)."""

    journal: Table
    posting: Table

    @classmethod
    def create(cls, engine: Engine) -> RawTables:
        metadata = MetaData()
        copies = []
        for source in (table(JournalRow), table(PostingRow)):
            copy = source.to_metadata(metadata, name=f"raw_{source.name}")
            for index in copy.indexes:
                if index.name is not None and not index.name.startswith("ix_raw_"):
                    index.name = quoted_name(
                        f"raw_{index.name}", None
                    )  # index names are per schema in PostgreSQL
            copies.append(copy)
        metadata.create_all(engine)
        return cls(*copies)


def raw_rows(n: int, core_bytes: int, accounts: Sequence[str], rng: random.Random) -> list[RawTx]:
    """What the ledger writes per transfer, as plain values: a journal row and two postings."""
    base = utc_now()
    lot = LOT.key()
    prev = bytes(32)
    rows: list[RawTx] = []
    for seq in range(1, n + 1):
        core = rng.randbytes(core_bytes)
        digest = hashlib.sha256(core).digest()
        src, dst = rng.sample(accounts, 2)
        amount = rng.randint(1, 1000)
        journal = {
            "seq": seq,
            "time": format_utc(base + timedelta(microseconds=seq)),
            "type": "tx",
            "action": "transfer",
            "core": core,
            "hash": digest,
            "prev": prev,
            "registry_sig": rng.randbytes(64),
            "body_digest": hashlib.sha256(digest).digest(),
        }
        postings = [
            {"seq": seq, "idx": 0, "account": src, "instrument": INSTRUMENT, "lot": lot, "amount": -amount},
            {"seq": seq, "idx": 1, "account": dst, "instrument": INSTRUMENT, "lot": lot, "amount": amount},
        ]
        rows.append((journal, postings))
        prev = digest
    return rows


def insert_batch(engine: Engine, raw: RawTables, rows: Sequence[RawTx]) -> float:
    """Seconds for one Core executemany per table of all ``rows``, and one commit."""
    journal, postings = [j for j, _ in rows], [p for _, ps in rows for p in ps]
    start = time.perf_counter()
    with engine.begin() as c:
        c.execute(insert(raw.journal), journal)
        c.execute(insert(raw.posting), postings)
    return time.perf_counter() - start


def insert_one_by_one(engine: Engine, raw: RawTables, rows: Sequence[RawTx]) -> float:
    """Seconds to insert each transaction's rows in a transaction of its own."""
    start = time.perf_counter()
    for journal, postings in rows:
        with engine.begin() as c:
            c.execute(insert(raw.journal), journal)
            c.execute(insert(raw.posting), postings)
    return time.perf_counter() - start


# -- replay ----------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    records: int
    seconds: float
    signatures: int  # party + registry signatures, plus checkpoint signatures
    report: ReplayReport
    mismatched_positions: int

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds

    @property
    def verifies_per_s(self) -> float:
        return self.signatures / self.seconds


def measure_replay(engine: Engine) -> ReplayResult:
    """Replay the stored journal from its lines (read beforehand) and compare with live balances."""
    with Session(engine) as s:
        lines = list(journal_lines(s))
        cps = {cp.tree_size: cp for cp in checkpoints(s)}
        live = positions(s)
    start = time.perf_counter()
    report = replay_lines(lines, cps)
    seconds = time.perf_counter() - start
    signatures = report.checkpoints_verified
    for line in lines:
        signatures += 1 + len(json.loads(line)["record"]["sigs"])
    replayed = report.state.balances()
    mismatched = sum(1 for k in set(live) | set(replayed) if live.get(k) != replayed.get(k))
    return ReplayResult(report.records, seconds, signatures, report, mismatched)


# -- one engine kind -------------------------------------------------------------------------


@dataclass
class EngineResult:
    label: str
    raw_batched: float  # tx/s
    raw_single: float
    ledger_batched: float
    ledger_single: float
    replay: ReplayResult | None = None


@dataclass
class Workload:
    cfg: Config
    cast: Cast
    single: list[Instruction]
    batched: list[Instruction]
    raw: list[RawTx]
    core_bytes: int
    client_signs_per_s: float


def run_engine(backend: Backend, w: Workload, *, replay: bool) -> EngineResult:
    """Ledger and plain inserts in one database, alternating so both see the same machine.

    One by one: rounds of ``ROUND`` plain-insert transactions, then as many ledger commits.
    Batched: a plain batch, then a ledger batch, of ``batch_size`` each.
    """
    cfg, registry = w.cfg, w.cast.registry
    engine = backend.fresh()
    setup_ledger(engine, w.cast)
    raw = RawTables.create(engine)
    raw_single_rows, raw_batched_rows = w.raw[: cfg.single], w.raw[cfg.single :]
    print(f"  {backend.label}: one by one, ledger and plain inserts alternating ...", flush=True)
    raw_s = ledger_s = 0.0
    for ledger_round, raw_round in zip(chunks(w.single, ROUND), chunks(raw_single_rows, ROUND), strict=True):
        raw_s += insert_one_by_one(engine, raw, raw_round)
        ledger_s += commit_one_by_one(engine, registry, ledger_round)
    raw_single, ledger_single = cfg.single / raw_s, cfg.single / ledger_s
    print(f"  {backend.label}: batched, ledger and plain inserts alternating ...", flush=True)
    raw_s = ledger_s = 0.0
    size = cfg.batch_size
    for ledger_batch, raw_batch in zip(chunks(w.batched, size), chunks(raw_batched_rows, size), strict=True):
        raw_s += insert_batch(engine, raw, raw_batch)
        ledger_s += commit_batched(engine, registry, ledger_batch, size)
    result = EngineResult(
        backend.label, cfg.batched / raw_s, raw_single, cfg.batched / ledger_s, ledger_single
    )
    if replay:
        print(f"  {backend.label}: replay of the journal ...", flush=True)
        result.replay = measure_replay(engine)
    backend.release()
    return result


# -- report ----------------------------------------------------------------------------------


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<44} {value:>12}  {note}".rstrip()


def print_report(w: Workload, crypto: CryptoRates, results: list[EngineResult]) -> bool:
    cfg = w.cfg
    print()
    print("raw limits (measured in this run, one core each; Ed25519: best of start and end of run)")
    print(
        row("Ed25519 sign, cryptography", fmt(crypto.crypto_sign) + " /s", f"{MESSAGE_BYTES}-byte messages")
    )
    print(row("Ed25519 verify, cryptography", fmt(crypto.crypto_verify) + " /s"))
    print(row("Ed25519 sign, PyNaCl", fmt(crypto.nacl_sign) + " /s"))
    print(row("Ed25519 verify, PyNaCl (the ledger's verifier)", fmt(crypto.nacl_verify) + " /s"))
    for r in results:
        print(
            row(
                f"{r.label} plain insert, batched",
                fmt(r.raw_batched) + " tx/s",
                f"Core executemany, {cfg.batch_size:,} per commit",
            )
        )
        print(row(f"{r.label} plain insert, one by one", fmt(r.raw_single) + " tx/s", "a commit each"))
        print(
            row(
                f"{r.label} sign+insert limit, batched",
                fmt(harmonic(crypto.crypto_sign, r.raw_batched)) + " tx/s",
                "1/(1/signs + 1/inserts)",
            )
        )
        print(
            row(
                f"{r.label} sign+insert limit, one by one",
                fmt(harmonic(crypto.crypto_sign, r.raw_single)) + " tx/s",
            )
        )
    print()
    print("ledger (signed, hash-chained, committed; registry signs and checks every record)")
    for r in results:
        print(
            row(f"{r.label} commits, batched", fmt(r.ledger_batched) + " tx/s", f"{cfg.batched:,} transfers")
        )
        print(
            row(f"{r.label} commits, one by one", fmt(r.ledger_single) + " tx/s", f"{cfg.single:,} transfers")
        )
    replayed = next((r.replay for r in results if r.replay is not None), None)
    if replayed is not None:
        print(
            row("replay-and-verify", fmt(replayed.records_per_s) + " rec/s", f"{replayed.records:,} records")
        )
        print(
            row(
                "  signatures verified in replay",
                fmt(replayed.verifies_per_s) + " /s",
                f"{replayed.signatures / replayed.records:.2f} per record, checkpoints included",
            )
        )
    print()
    goals = f"commits >= {pct(COMMIT_TARGET)} of raw sign+insert, replay >= {pct(REPLAY_TARGET)} of verify"
    print(f"targets: {goals}")
    all_ok = True
    for r in results:
        for mode, ledger, raw in (
            ("batched", r.ledger_batched, r.raw_batched),
            ("one-by-one", r.ledger_single, r.raw_single),
        ):
            limit = harmonic(crypto.crypto_sign, raw)
            ok = ledger / limit >= COMMIT_TARGET
            all_ok &= ok
            print(
                f"  {mode} {r.label} commits {fmt(ledger)} tx/s = {pct(ledger / limit)} of raw sign+insert "
                f"{fmt(limit)}/s (target {pct(COMMIT_TARGET)}): {verdict(ok)}"
            )
    if replayed is not None:
        ratio = replayed.verifies_per_s / crypto.crypto_verify
        ok = ratio >= REPLAY_TARGET
        all_ok &= ok
        print(
            f"  replay {fmt(replayed.records_per_s)} records/s = {fmt(replayed.verifies_per_s)} signature "
            f"verifies/s = {pct(ratio)} of raw cryptography verify {fmt(crypto.crypto_verify)}/s "
            f"(target {pct(REPLAY_TARGET)}): {verdict(ok)}"
        )
        nacl_ratio = replayed.verifies_per_s / crypto.nacl_verify
        print(
            f"  replay against raw PyNaCl verify {fmt(crypto.nacl_verify)}/s, the verifier it uses: "
            f"{pct(nacl_ratio)} (same target, informational): {verdict(nacl_ratio >= REPLAY_TARGET)}"
        )
        rep = replayed.report
        if rep.ok and replayed.mismatched_positions == 0:
            print(
                f"  replay of the bench journal: ok ({rep.records:,} records, "
                f"{rep.checkpoints_verified} checkpoints verified, balances equal the live tables)"
            )
        else:
            all_ok = False
            print(
                f"  replay of the bench journal: FAILED ({rep.failure}; "
                f"{replayed.mismatched_positions} positions differ from the live tables)"
            )
    return all_ok


# -- profiling -------------------------------------------------------------------------------


def print_profile(title: str, profiler: cProfile.Profile, limit: int = 18) -> None:
    stats = pstats.Stats(profiler).get_stats_profile()
    total = stats.total_tt or 1.0
    root = str(Path(__file__).resolve().parent.parent)
    items = stats.func_profiles.items()

    def line(share: float, seconds: float, calls: str, name: str, file: str, lineno: int) -> str:
        short = file.removeprefix(root + os.sep) if file.startswith(root) else Path(file).name
        where = f"{short}:{lineno}:{name}" if file and file != "~" else name
        return f"    {pct(share):>4} {seconds:7.2f} s {calls:>9}  {where}"

    print(f"\nprofile: {title} (total {total:.2f} s)")
    print("  own time (tottime):")
    for name, fp in sorted(items, key=lambda kv: -kv[1].tottime)[:limit]:
        print(line(fp.tottime / total, fp.tottime, fp.ncalls, name, fp.file_name, fp.line_number))
    print("  ledger functions by inclusive time (cumtime):")
    ledger = [kv for kv in items if f"{os.sep}ledger{os.sep}" in kv[1].file_name]
    for name, fp in sorted(ledger, key=lambda kv: -kv[1].cumtime)[:limit]:
        print(line(fp.cumtime / total, fp.cumtime, fp.ncalls, name, fp.file_name, fp.line_number))


def profile_sqlite(w: Workload, backend: SqliteBackend) -> None:
    """cProfile the three SQLite measurements (profiling slows them: read shares, not rates)."""
    engine = backend.fresh()
    setup_ledger(engine, w.cast)
    profiler = cProfile.Profile()
    profiler.runcall(commit_one_by_one, engine, w.cast.registry, w.single)
    print_profile(f"one-by-one SQLite commits of {len(w.single):,} transfers", profiler)
    engine = backend.fresh()
    setup_ledger(engine, w.cast)
    profiler = cProfile.Profile()
    profiler.runcall(commit_batched, engine, w.cast.registry, w.batched, w.cfg.batch_size)
    print_profile(f"batched SQLite commits of {len(w.batched):,} transfers", profiler)
    with Session(engine) as s:
        lines = list(journal_lines(s))
        cps = {cp.tree_size: cp for cp in checkpoints(s)}
    profiler = cProfile.Profile()
    profiler.runcall(replay_lines, lines, cps)
    print_profile(f"replay of {len(lines):,} records", profiler)
    backend.release()


# -- main ------------------------------------------------------------------------------------


def build_workload(cfg: Config) -> Workload:
    rng = random.Random(cfg.seed)
    cast = Cast.create(cfg.enterprises)
    start = time.perf_counter()
    single = make_transfers(cast, cfg.single, rng)
    batched = make_transfers(cast, cfg.batched, rng)
    client_rate = (cfg.single + cfg.batched) / (time.perf_counter() - start)
    sample = batched[0]
    core = seal(
        seq=cfg.batched,
        prev=bytes(32),
        time=utc_now(),
        body=sample.body.to_json(),
        sigs=sample.signatures,
        registry=cast.registry.key,
    ).core
    accounts = [holding(p) for p, _ in cast.enterprises]
    raw = raw_rows(cfg.single + cfg.batched, len(core), accounts, rng)
    return Workload(cfg, cast, single, batched, raw, len(core), client_rate)


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    print(
        f"ecoledger benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"cryptography {version('cryptography')}, PyNaCl {version('pynacl')}, "
        f"SQLAlchemy {version('sqlalchemy')}"
    )
    load_note(os.getloadavg()[0], "at start")
    backends: list[Backend] = []
    with tempfile.TemporaryDirectory(prefix="ecoledger-bench-") as tmp:
        backends.append(SqliteBackend(Path(tmp)))
        if cfg.pg_url is None:
            print("PostgreSQL skipped (--no-pg)")
        else:
            pg = PostgresBackend.connect(cfg.pg_url)
            if isinstance(pg, str):
                print(pg + "; continuing with SQLite only")
            else:
                backends.append(pg)
        try:
            w = build_workload(cfg)
            print(
                f"workload: {cfg.enterprises} enterprises funded by issuance; per engine {cfg.single:,} "
                f"transfers one by one (a commit each) and {cfg.batched:,} in submit_batch of "
                f"{cfg.batch_size:,} (a commit each); journal core ~{w.core_bytes} bytes"
            )
            print(
                f"transfers are signed by their senders before timing (client signing ran at "
                f"{fmt(w.client_signs_per_s)}/s); SQLite: WAL, synchronous=FULL"
            )
            gc.collect()
            gc.freeze()  # the pre-built workload is not the ledger's garbage to scan
            print("measuring Ed25519 ...", flush=True)
            before = measure_crypto(cfg.crypto_seconds, random.Random(cfg.seed))
            results = [run_engine(b, w, replay=isinstance(b, SqliteBackend)) for b in backends]
            print("measuring Ed25519 again ...", flush=True)
            crypto = before.best(measure_crypto(cfg.crypto_seconds, random.Random(cfg.seed)))
            all_ok = print_report(w, crypto, results)
            load_note(os.getloadavg()[0], "at end")
            if cfg.profile:
                (Path(tmp) / "profile").mkdir()
                profile_sqlite(w, SqliteBackend(Path(tmp) / "profile"))
        finally:
            for b in backends:
                b.close()
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
