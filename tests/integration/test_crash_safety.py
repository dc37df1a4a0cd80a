"""P3: SIGKILL the registry process at random moments; every acknowledged write survives, nothing half-done.

The kill delays come from a seed printed on failure; ``ECOLEDGER_CRASH_SEED=<seed>`` replays them (P9).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlmodel import Session

from ledger.canonical import canonical_bytes
from ledger.db import make_engine, read_only
from ledger.repository import HD, ID, J, P
from ledger.service import replay_database
from tests.conftest import PG_URL, _pg_unreachable
from tests.integration import crash_writer as writer

REPO = Path(__file__).resolve().parents[2]
KILL_CYCLES = 5
KILL_DELAY = (0.05, 0.4)  # seconds after the writer reports ready, i.e. while it is writing
SETUP_RECORDS = 1 + sum(2 + len(accounts) for _, accounts in writer.PARTIES.values()) + len(writer.HOLDERS)
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Ack:
    index: int
    seq: int
    replayed: bool


@dataclass
class Run:
    ready: bool
    acks: list[Ack]
    returncode: int
    stderr: str


def run_writer(url: str, schema: str | None, start: int, log: Path, *, kill_after: float | None) -> Run:
    """Start the writer at write ``start``; SIGKILL it ``kill_after`` s after it is ready, or run 3 writes."""
    cmd = [sys.executable, "-m", "tests.integration.crash_writer", url, "--start", str(start)]
    if schema:
        cmd += ["--schema", schema]
    if kill_after is None:
        cmd += ["--stop", str(start + 3)]
    lines: list[bytes] = []
    ready = threading.Event()
    with log.open("wb") as err, subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err) as proc:
        assert proc.stdout is not None

        def pump() -> None:
            for raw in proc.stdout:  # type: ignore[union-attr]
                lines.append(raw)
                if raw.startswith(b"ready "):
                    ready.set()
            ready.set()  # EOF: the writer is gone, whatever it printed

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            if kill_after is None:
                proc.wait(timeout=START_TIMEOUT)
            else:
                ready.wait(timeout=START_TIMEOUT)
                time.sleep(kill_after)
        finally:
            proc.kill()  # SIGKILL: no handler, no flush, no rollback in the client (no-op if it exited)
            proc.wait()
        reader.join(timeout=10)
    was_ready = any(raw.startswith(b"ready ") for raw in lines)
    return Run(was_ready, _parse_acks(lines), proc.returncode, log.read_text(errors="replace")[-3000:])


def _parse_acks(lines: list[bytes]) -> list[Ack]:
    acks = []
    for raw in lines:
        if not raw.endswith(b"\n"):  # a cut line never reached the client as an acknowledgement
            continue
        parts = raw.split()
        if parts[0] == b"ack":
            acks.append(Ack(int(parts[1]), int(parts[2]), parts[3] == b"1"))
    return acks


@contextmanager
def crash_database(kind: str, tmp_path: Path) -> Iterator[tuple[str, str | None, Engine]]:
    """A fresh database for the writer: a SQLite file, or a PostgreSQL schema of this worker's own."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.db'}"
        engine = make_engine(url)
        try:
            yield url, None, engine
        finally:
            engine.dispose()
        return
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = "ecoledger_crash_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield PG_URL, schema, engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def stored_keys(engine: Engine) -> dict[str, int]:
    with Session(read_only(engine)) as s:
        return {r.key: r.seq for r in s.connection().execute(select(ID.c.key, ID.c.seq))}


def check_every_acknowledged_write_is_stored(engine: Engine, acked: dict[int, int], why: str) -> None:
    stored = stored_keys(engine)
    lost = {i: seq for i, seq in acked.items() if stored.get(writer.idempotency_key(i)) != seq}
    assert lost == {}, f"acknowledged writes missing or moved after SIGKILL (index: seq) {why}"


def check_the_journal_after_the_last_restart(engine: Engine, acked: dict[int, int], why: str) -> None:
    with Session(read_only(engine)) as s:
        c = s.connection()
        rows = c.execute(
            select(J.c.seq, J.c.hash, J.c.type, J.c.core, J.c.body_digest).order_by(J.c.seq)
        ).all()
        head = c.execute(select(HD.c.next_seq, HD.c.hash).where(HD.c.id == 1)).one()
        legs: dict[int, Counter[tuple[str, int]]] = {}
        for p in c.execute(select(P.c.seq, P.c.account, P.c.amount)):
            legs.setdefault(p.seq, Counter())[(p.account, p.amount)] += 1
        report, diff = replay_database(s)
    n = len(rows)
    # Gapless, and the sequencer row agrees with the last record.
    assert [r.seq for r in rows] == list(range(n)), why
    assert (head.next_seq, bytes(head.hash)) == (n, bytes(rows[-1].hash)), why
    # Nothing but the set-up and the acknowledged writes: no unacknowledged write is visible.
    assert n == SETUP_RECORDS + len(acked), f"{n} records, {len(acked)} acknowledged writes {why}"
    assert set(stored_keys(engine)) == {writer.idempotency_key(i) for i in acked}, why
    by_seq = {r.seq: r for r in rows}
    for i, seq in acked.items():
        body = writer.instruction(i).body.to_json()
        assert bytes(by_seq[seq].body_digest) == hashlib.sha256(canonical_bytes(body)).digest(), (i, seq, why)
    # Every transaction record has exactly its own postings: no record without its legs, no stray leg.
    for r in rows:
        core = json.loads(bytes(r.core))
        expected: Counter[tuple[str, int]] = Counter(
            (p["account"], p["amount"]) for p in core["body"].get("postings", [])
        )
        assert legs.pop(r.seq, Counter()) == expected, (r.seq, why)
    assert legs == {}, f"postings without a journal record {why}"
    # The chain, every signature and every rule verify, and replay rebuilds the live balances.
    assert report.ok, f"{report.failure} {why}"
    assert report.records == n, why
    assert report.checkpoints_verified >= 1, why
    assert diff == {}, why


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_writes_acknowledged_before_a_sigkill_survive_the_restart_and_the_journal_still_replays(
    kind: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("ECOLEDGER_CRASH_SEED") or random.randrange(2**32))
    why = f"[{kind}; replay with ECOLEDGER_CRASH_SEED={seed}]"
    print(f"crash test seed {seed} {why}")
    rng = random.Random(seed)
    acked: dict[int, int] = {}  # write index -> journal seq, for every ack the client saw
    retried_after_commit = acked_before_a_kill = 0
    with crash_database(kind, tmp_path) as (url, schema, engine):
        start = 0
        for cycle in range(KILL_CYCLES + 1):
            last = cycle == KILL_CYCLES  # restart once more and let it exit cleanly
            delay = None if last else rng.uniform(*KILL_DELAY)
            run = run_writer(url, schema, start, tmp_path / f"writer-{cycle}.err", kill_after=delay)
            expected_rc = 0 if last else -signal.SIGKILL
            assert run.ready, f"cycle {cycle}: writer never got ready {why}\n{run.stderr}"
            assert run.returncode == expected_rc, f"cycle {cycle}: writer failed {why}\n{run.stderr}"
            assert [a.index for a in run.acks] == list(range(start, start + len(run.acks))), why
            for ack in run.acks:
                if ack.replayed:
                    # Only the write in flight at the kill can have committed without an ack; its
                    # retry gets the stored receipt, exactly once (P4).
                    assert ack.index == start, (ack, why)
                    retried_after_commit += 1
                assert acked.setdefault(ack.index, ack.seq) == ack.seq, (ack, why)
            if run.acks:
                start = run.acks[-1].index + 1
                acked_before_a_kill += 0 if last else len(run.acks)
            check_every_acknowledged_write_is_stored(engine, acked, f"(after cycle {cycle}) {why}")
        assert acked_before_a_kill > 0, f"no kill landed while writes were being acknowledged {why}"
        check_the_journal_after_the_last_restart(engine, acked, why)
    print(
        f"{len(acked)} acknowledged writes ({acked_before_a_kill} before a kill), "
        f"{retried_after_commit} committed but unacknowledged at a kill"
    )
