"""P3: SIGKILL the registry process at random moments; every acknowledged write survives, nothing half-done.

Twice: one write at a time, and grouped (several client threads through one group-commit sequencer,
with writes their group refuses alone).

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
from collections.abc import Iterator, Sequence
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


@dataclass(frozen=True)
class Answer:
    """A grouped write's answer: acknowledged (with its record) or refused, and its group."""

    index: int
    seq: int | None  # None: refused
    replayed: bool
    group: int


@dataclass
class Run:
    ready: bool
    acks: list[Ack]
    returncode: int
    stderr: str
    answers: list[Answer]


def run_writer(
    url: str,
    schema: str | None,
    start: int,
    log: Path,
    *,
    kill_after: float | None,
    clients: int = 0,
    retry: Sequence[int] = (),
) -> Run:
    """Start the writer at write ``start``; SIGKILL it ``kill_after`` s after it is ready, or run 3 writes
    (grouped: ``retry`` and the writes up to a few more than the clients could have had in flight)."""
    cmd = [sys.executable, "-m", "tests.integration.crash_writer", url, "--start", str(start)]
    if schema:
        cmd += ["--schema", schema]
    if clients:
        cmd += ["--clients", str(clients), "--retry", ",".join(map(str, retry))]
    if kill_after is None:
        cmd += ["--stop", str(start + (clients + 3 if clients else 3))]
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
    stderr = log.read_text(errors="replace")[-3000:]
    return Run(was_ready, _parse_acks(lines), proc.returncode, stderr, _parse_answers(lines))


def _parse_answers(lines: list[bytes]) -> list[Answer]:
    answers = []
    for raw in lines:
        parts = raw.split()
        if not raw.endswith(b"\n") or len(parts) < 4:  # a cut line was never an answer
            continue
        if parts[0] == b"ack" and len(parts) == 5:
            answers.append(Answer(int(parts[1]), int(parts[2]), parts[3] == b"1", int(parts[4])))
        elif parts[0] == b"refused":
            assert parts[2] == b"insufficient_balance", raw
            answers.append(Answer(int(parts[1]), None, False, int(parts[3])))
    return answers


def _parse_acks(lines: list[bytes]) -> list[Ack]:
    acks = []
    for raw in lines:
        if not raw.endswith(b"\n"):  # a cut line never reached the client as an acknowledgement
            continue
        parts = raw.split()
        if parts[0] == b"ack" and len(parts) == 4:
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


GROUPED_CLIENTS = 8
GROUPED_KILL_DELAY = (0.1, 1.0)  # a group answers its eight writes at once: give the first time to land


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_grouped_writes_acknowledged_before_a_sigkill_survive_and_a_refusal_leaves_its_group_committed(
    kind: str, tmp_path: Path
) -> None:
    """Eight threads write through one sequencer (plain instructions in the group's batch, units as
    savepoints); the test kills the process, restarts it with every unanswered write to retry, and
    finds each acknowledged write stored once, no write acknowledged twice, no refused write stored,
    and groups that held a refusal with their other writes committed."""
    seed = int(os.environ.get("ECOLEDGER_CRASH_SEED") or random.randrange(2**32))
    why = f"[{kind}, grouped; replay with ECOLEDGER_CRASH_SEED={seed}]"
    print(f"crash test seed {seed} {why}")
    rng = random.Random(seed)
    acked: dict[int, int] = {}
    refused: set[int] = set()
    groups: dict[tuple[int, int], Counter[str]] = {}
    retry: list[int] = []
    start = acked_before_a_kill = retried_after_commit = 0
    with crash_database(kind, tmp_path) as (url, schema, engine):
        for cycle in range(KILL_CYCLES + 1):
            last = cycle == KILL_CYCLES
            run = run_writer(
                url,
                schema,
                start,
                tmp_path / f"grouped-{cycle}.err",
                kill_after=None if last else rng.uniform(*GROUPED_KILL_DELAY),
                clients=GROUPED_CLIENTS,
                retry=retry,
            )
            assert run.ready, f"cycle {cycle}: writer never got ready {why}\n{run.stderr}"
            assert run.returncode == (0 if last else -signal.SIGKILL), f"cycle {cycle} {why}\n{run.stderr}"
            for a in run.answers:
                assert a.index not in acked.keys() | refused, f"{a} answered twice {why}"
                groups.setdefault((cycle, a.group), Counter())["refused" if a.seq is None else "acked"] += 1
                if a.seq is None:
                    assert writer.refused_by_design(a.index), (a, why)
                    refused.add(a.index)
                    continue
                assert not writer.refused_by_design(a.index), (a, why)
                # Replayed: committed in flight at the kill, then retried (P4).
                assert not a.replayed or (a.index in retry or a.index >= start), (a, why)
                retried_after_commit += a.replayed
                acked[a.index] = a.seq
            assert len(set(acked.values())) == len(acked), f"one record acknowledged for two writes {why}"
            answered = set(acked) | refused
            top = max(answered, default=start - 1)
            retry = sorted(set(range(top + 1)) - answered)
            start = max(start, top + 1)
            acked_before_a_kill += 0 if last else len(run.answers)
            check_every_acknowledged_write_is_stored(engine, acked, f"(after cycle {cycle}) {why}")
        assert retry == [], f"writes never answered: {retry} {why}"
        assert acked_before_a_kill > 0, f"no kill landed while writes were being acknowledged {why}"
        assert refused, f"no write was refused {why}"
        mixed = [g for g, c in groups.items() if c["refused"] and c["acked"]]
        assert mixed, f"no group held both a refusal and acknowledged writes {why}"
        assert max(sum(c.values()) for c in groups.values()) > 1, f"writes were never grouped {why}"
        check_the_journal_after_the_last_restart(engine, acked, why)
    print(
        f"{len(acked)} acknowledged and {len(refused)} refused grouped writes ({acked_before_a_kill} "
        f"answered before a kill) in {len(groups)} groups, {len(mixed)} with a refusal; "
        f"{retried_after_commit} committed but unacknowledged at a kill"
    )
