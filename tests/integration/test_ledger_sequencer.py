"""Group commit (ledger.sequencer), both engines: writers queued together share one COMMIT, each gets
its own receipt or its own refusal, a refusal undoes only its own unit, a failed COMMIT stores nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from ledger.db import read_only
from ledger.errors import DomainError, IdempotencyKeyReused, InsufficientBalance, UnitsEncumbered
from ledger.model import AccountKind, HoldPlace, HoldSettle, OpenAccount, TxBody
from ledger.repository import BatchWriter, J
from ledger.sequencer import GROUP, GroupCommitFailed, Sequencer
from ledger.service import Instruction, Receipt, balances, new_nonce, replay_database, submit
from market.proposals.tables import ProposalRow
from tests.sql_plans import selects
from tests.support import COD_YUYAO, World, transfer

A, B = "ent:a.h", "ent:b.h"


@pytest.fixture
def rich(world: World) -> World:
    world.issue(A, 1_000)
    return world


def _held(world: World, account: str) -> int:
    with Session(read_only(world.engine)) as s:
        return sum(b.total for b in balances(s, account=account))


def _records(world: World) -> int:
    with Session(read_only(world.engine)) as s:
        return len(s.connection().execute(select(J.c.seq)).all())


def replays_clean(world: World) -> None:
    """The journal replays, and its balances are the live ones."""
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}


def _signed(world: World, amount: int, **kw: Any) -> Instruction:
    return Instruction.signed(transfer(A, B, amount), ("ent:a", world.keys["ent:a"]), **kw)


@contextmanager
def commits_counted(engine: Engine) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(_conn: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", count)


class Outcomes:
    """What each concurrent caller was answered, by name, and the group it ran in."""

    def __init__(self) -> None:
        self.answers: dict[str, Receipt | BaseException] = {}
        self.groups: dict[str, int | None] = {}
        self.threads: list[threading.Thread] = []

    def start(self, name: str, seq: Sequencer, call: Callable[[], Receipt]) -> None:
        def go() -> None:
            try:
                self.answers[name] = call()
            except BaseException as exc:
                self.answers[name] = exc
            self.groups[name] = seq.last_group

        t = threading.Thread(target=go)
        t.start()
        self.threads.append(t)

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=60)
            assert not t.is_alive()


def wait_for(seq: Sequencer, units: int, instructions: int) -> None:
    deadline = time.monotonic() + 30
    while seq.waiting() != (units, instructions):
        assert time.monotonic() < deadline, seq.waiting()
        time.sleep(0.005)


def test_writers_queued_together_share_one_commit_and_each_gets_its_own_receipt_or_refusal(
    rich: World,
) -> None:
    seq = Sequencer(rich.engine)
    out = Outcomes()
    reg = rich.registry

    def unit_transfer(amount: int) -> Callable[[], Receipt]:
        def call() -> Receipt:
            with seq.unit() as s:
                return submit(s, _signed(rich, amount), registry=reg)

        return call

    with commits_counted(rich.engine) as commits:
        with seq.unit() as first:  # holds the turn while the others queue behind it
            group = first.info[GROUP]
            held = submit(first, _signed(rich, 10), registry=reg)
            for i in range(5):
                out.start(f"ok{i}", seq, lambda: seq.submit(_signed(rich, 10), registry=reg))
            out.start("overdraft", seq, lambda: seq.submit(_signed(rich, 10_000), registry=reg))
            out.start("unit ok", seq, unit_transfer(20))
            out.start("unit overdraft", seq, unit_transfer(50_000))
            wait_for(seq, units=2, instructions=6)
            assert _held(rich, A) == 1_000, "nothing of the group is visible before its commit"
        out.join()
        assert len(commits) == 1, "one group, one COMMIT"

    assert set(out.groups.values()) == {group}
    refused = {k: v for k, v in out.answers.items() if isinstance(v, BaseException)}
    assert set(refused) == {"overdraft", "unit overdraft"}
    assert all(isinstance(v, InsufficientBalance) for v in refused.values())
    receipts = [held, *(v for v in out.answers.values() if isinstance(v, Receipt))]
    assert len({r.seq for r in receipts}) == len(receipts) == 7, "each its own record"
    assert _held(rich, A) == 1_000 - 10 - 5 * 10 - 20
    assert _held(rich, B) == 10 + 5 * 10 + 20
    replays_clean(rich)


def _offer_row(name: str) -> ProposalRow:
    """A workflow's own row (any table outside the ledger's would do)."""
    return ProposalRow(
        id=name,
        kind="trade_offer",
        party="ent:a",
        terms="{}",
        status="pending",
        created_at="2026-01-01T00:00:00Z",
    )


def test_a_refused_unit_undoes_its_own_rows_and_records_and_leaves_its_neighbours_committed(
    rich: World,
) -> None:
    seq = Sequencer(rich.engine)
    before = _records(rich)

    def step(name: str, amount: int, *, refuse: bool) -> Receipt:
        with seq.unit() as s:
            # a workflow step: a row of its own table, then its ledger record, in one unit
            s.add(_offer_row(name))
            s.flush()
            receipt = submit(s, _signed(rich, amount), registry=rich.registry)
            if refuse:
                raise InsufficientBalance("refused after writing", account=A)
            return receipt

    out = Outcomes()
    with seq.unit():
        out.start("kept1", seq, lambda: step("kept1", 1, refuse=False))
        out.start("undone", seq, lambda: step("undone", 2, refuse=True))
        out.start("kept2", seq, lambda: step("kept2", 3, refuse=False))
        wait_for(seq, units=3, instructions=0)
    out.join()

    assert isinstance(out.answers["undone"], InsufficientBalance)
    assert len(set(out.groups.values())) == 1
    with Session(read_only(rich.engine)) as s:
        keys = set(s.connection().execute(select(ProposalRow.__table__.c.id)).scalars())  # type: ignore[attr-defined]
    assert keys == {"kept1", "kept2"}
    assert _records(rich) == before + 2
    assert _held(rich, B) == 1 + 3


def test_a_failed_commit_answers_every_member_with_the_failure_and_stores_nothing(rich: World) -> None:
    seq = Sequencer(rich.engine)
    before = _records(rich)
    out = Outcomes()

    def fail_once(_conn: Any) -> None:
        event.remove(rich.engine, "commit", fail_once)
        raise OSError("disk gone")

    with pytest.raises(GroupCommitFailed) as failed, seq.unit() as s:  # noqa: PT012
        submit(s, _signed(rich, 5), registry=rich.registry)
        out.start("job", seq, lambda: seq.submit(_signed(rich, 6), registry=rich.registry))
        out.start("refused", seq, lambda: seq.submit(_signed(rich, 99_999), registry=rich.registry))
        wait_for(seq, units=0, instructions=2)
        event.listen(rich.engine, "commit", fail_once)
    out.join()

    assert isinstance(failed.value.__cause__, OSError)
    assert isinstance(out.answers["job"], GroupCommitFailed), "no receipt for a write that was not stored"
    assert isinstance(out.answers["refused"], InsufficientBalance), "a refusal stays its own"
    assert _records(rich) == before
    assert _held(rich, A) == 1_000
    # the sequencer goes on: the next caller opens a new group, reading afresh what was rolled back
    assert seq.submit(_signed(rich, 7), registry=rich.registry).seq == before
    assert (_held(rich, A), _held(rich, B)) == (1_000 - 7, 7)


@contextmanager
def next_flush_fails(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Arm (by calling what it yields, with what to do just before failing) a failure inside the
    database right after the next batch's writes: on PostgreSQL the whole transaction is then
    aborted, as on a real error."""
    armed: list[Callable[[], None]] = []
    flush = BatchWriter.flush

    def failing(self: BatchWriter, session: Session, *args: Any) -> None:
        flush(self, session, *args)
        if armed:
            armed.pop()()
            session.connection().exec_driver_sql("SELECT * FROM no_such_table")

    monkeypatch.setattr(BatchWriter, "flush", failing)
    yield lambda before=lambda: None: armed.append(before)


def test_a_batch_that_fails_alone_in_its_group_stores_nothing_and_the_next_batch_goes_on(
    rich: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First in its transaction, a batch runs without a savepoint on PostgreSQL: its failure rolls
    back the transaction, which held nothing else, and ends the group; a caller that queued
    meanwhile is batched in a new one, not in the aborted transaction."""
    seq = Sequencer(rich.engine)
    before = _records(rich)
    out = Outcomes()

    def another_caller_queues() -> None:
        out.start("next", seq, lambda: seq.submit(_signed(rich, 6), registry=rich.registry))
        wait_for(seq, units=0, instructions=1)

    with next_flush_fails(monkeypatch) as arm:
        arm(another_caller_queues)
        with pytest.raises(DBAPIError):
            seq.submit(_signed(rich, 5), registry=rich.registry)
        out.join()
    following = out.answers["next"]
    assert isinstance(following, Receipt), following
    assert following.seq == before, "read afresh: the failed batch took no sequence number"
    assert (_held(rich, A), _held(rich, B)) == (1_000 - 6, 6), "nothing of the failed batch stored"
    # PostgreSQL ended the failed group; SQLite undid the batch's savepoint and went on in it
    assert seq.stats.groups == (2 if rich.engine.dialect.name == "postgresql" else 1)
    assert seq.submit(_signed(rich, 7), registry=rich.registry).seq == before + 1


def test_a_batch_that_fails_after_a_unit_undoes_only_itself_and_the_unit_stays_committed(
    rich: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seq = Sequencer(rich.engine)
    out = Outcomes()
    with next_flush_fails(monkeypatch) as arm:
        with seq.unit() as s:
            kept = submit(s, _signed(rich, 5), registry=rich.registry)
            out.start("job", seq, lambda: seq.submit(_signed(rich, 6), registry=rich.registry))
            wait_for(seq, units=0, instructions=1)
            arm()
        out.join()
    assert isinstance(out.answers["job"], DBAPIError), "its own failure, not a receipt"
    assert (_held(rich, A), _held(rich, B)) == (1_000 - 5, 5), "the unit before it committed"
    assert seq.submit(_signed(rich, 7), registry=rich.registry).seq == kept.seq + 1
    replays_clean(rich)


def test_a_batch_that_fails_between_two_batches_of_its_group_undoes_only_itself(
    rich: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three batches in one group, the middle one failing in the database: on PostgreSQL each later
    batch has a savepoint it never releases, and undoing the failed one must go back to its own
    savepoint, not to the first batch's; the batches before and after it commit with the group."""
    seq = Sequencer(rich.engine)
    before = _records(rich)
    out = Outcomes()
    flush = BatchWriter.flush
    flushes: list[int] = []

    def queue_next_then(fail: bool) -> None:
        name, instruction = f"batch{len(flushes) + 1}", _signed(rich, len(flushes) + 5)
        out.start(name, seq, lambda: seq.submit(instruction, registry=rich.registry))
        wait_for(seq, units=0, instructions=1)  # queued: the turn's holder runs it next, same group
        if fail:
            raise_in_database()

    def raise_in_database() -> None:
        session_of_flush[-1].connection().exec_driver_sql("SELECT * FROM no_such_table")

    session_of_flush: list[Session] = []

    def flushing(self: BatchWriter, session: Session, *args: Any) -> None:
        flush(self, session, *args)
        flushes.append(1)
        session_of_flush.append(session)
        if len(flushes) <= 2:
            queue_next_then(fail=len(flushes) == 2)

    monkeypatch.setattr(BatchWriter, "flush", flushing)
    first = seq.submit(_signed(rich, 4), registry=rich.registry)
    out.join()
    assert isinstance(out.answers["batch2"], DBAPIError), "the middle batch: its own failure"
    last = out.answers["batch3"]
    assert isinstance(last, Receipt), last
    assert out.groups["batch2"] == out.groups["batch3"] == seq.last_group, "one group, three batches"
    assert (first.seq, last.seq) == (before, before + 1), "the failed batch took no sequence number"
    assert _records(rich) == before + 2
    assert (_held(rich, A), _held(rich, B)) == (1_000 - 4 - 7, 4 + 7), "the first and the last batch"
    replays_clean(rich)


def test_a_group_waits_for_as_many_callers_as_the_last_one_held(
    rich: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a group gathers its predecessor's count of callers before it opens, while they
    keep arriving, so they share one batch (and the head's lock is not held while it waits). On
    SQLite, where a later batch costs no round trip, a group never waits: each runs as it comes."""
    import ledger.sequencer as sequencer

    gathers = rich.engine.dialect.name == "postgresql"
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 1), registry=rich.registry)  # the signer's key is looked up once
    out = Outcomes()
    with seq.unit():  # three callers queue behind it: one group of a unit and three instructions
        for name, amount in (("a", 2), ("b", 3), ("c", 4)):
            out.start(
                name, seq, lambda amount=amount: seq.submit(_signed(rich, amount), registry=rich.registry)
            )
        wait_for(seq, units=0, instructions=3)
    out.join()
    monkeypatch.setattr(sequencer, "ARRIVAL_GAP_S", 5.0)  # long: only arrivals end the wait
    monkeypatch.setattr(sequencer, "GATHER_MAX_S", 30.0)
    real_batch = sequencer.submit_batch
    batches: list[int] = []

    def batch_counted(session: Session, instructions: Any, **kwargs: Any) -> Any:
        batches.append(len(instructions))
        return real_batch(session, instructions, **kwargs)

    monkeypatch.setattr(sequencer, "submit_batch", batch_counted)
    later = Outcomes()
    for name, amount in (("d", 5), ("e", 6), ("f", 7)):
        later.start(
            name, seq, lambda amount=amount: seq.submit(_signed(rich, amount), registry=rich.registry)
        )
        time.sleep(0.2)  # longer than a batch takes: without the gather, each would run alone
    later.join()
    assert batches == ([3] if gathers else [1, 1, 1]), batches
    assert len(set(later.groups.values())) == (1 if gathers else 3)
    assert all(isinstance(a, Receipt) for a in later.answers.values()), later.answers
    assert _held(rich, B) == sum(range(1, 8))


def test_a_gathering_group_stops_waiting_when_callers_stop_coming(rich: World) -> None:
    """After a group of three, a lone caller waits only ``ARRIVAL_GAP_S`` for others."""
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 1), registry=rich.registry)
    out = Outcomes()
    with seq.unit():
        for name, amount in (("a", 2), ("b", 3), ("c", 4)):
            out.start(
                name, seq, lambda amount=amount: seq.submit(_signed(rich, amount), registry=rich.registry)
            )
        wait_for(seq, units=0, instructions=3)
    out.join()
    started = time.monotonic()
    seq.submit(_signed(rich, 5), registry=rich.registry)
    assert time.monotonic() - started < 1.0


def test_one_caller_alone_commits_each_write_in_its_own_group(rich: World) -> None:
    seq = Sequencer(rich.engine)
    with commits_counted(rich.engine) as commits:
        first = seq.submit(_signed(rich, 1), registry=rich.registry)
        second = seq.run(lambda s: submit(s, _signed(rich, 1), registry=rich.registry))
    assert (second.seq, len(commits)) == (first.seq + 1, 2)
    assert seq.stats.groups == 2


def test_one_idempotency_key_twice_in_a_group_is_applied_once_and_answered_with_the_same_receipt(
    rich: World,
) -> None:
    seq = Sequencer(rich.engine)
    out = Outcomes()
    ins = _signed(rich, 4, idempotency_key="same")
    with seq.unit():
        out.start("first", seq, lambda: seq.submit(ins, registry=rich.registry))
        wait_for(seq, units=0, instructions=1)
        out.start("retry", seq, lambda: seq.submit(ins, registry=rich.registry))
        wait_for(seq, units=0, instructions=2)
    out.join()
    first, retry = out.answers["first"], out.answers["retry"]
    assert isinstance(first, Receipt)
    assert isinstance(retry, Receipt)
    assert (retry.seq, retry.hash, retry.replayed, first.replayed) == (first.seq, first.hash, True, False)
    assert _held(rich, B) == 4


def test_one_idempotency_key_with_another_body_in_the_same_group_is_refused_alone(rich: World) -> None:
    """Two requests race with one Idempotency-Key and different bodies (a client bug, or a replay of
    a key with altered terms) and land in one group beside an honest writer: the first body applies,
    the second is refused as a reused key, and the neighbour commits."""
    seq = Sequencer(rich.engine)
    out = Outcomes()
    first = _signed(rich, 4, idempotency_key="order-9")
    altered = _signed(rich, 400, idempotency_key="order-9")
    honest = Instruction.signed(transfer(A, B, 7), ("ent:a", rich.keys["ent:a"]))
    with seq.unit():
        out.start("first", seq, lambda: seq.submit(first, registry=rich.registry))
        wait_for(seq, units=0, instructions=1)
        out.start("altered", seq, lambda: seq.submit(altered, registry=rich.registry))
        wait_for(seq, units=0, instructions=2)
        out.start("honest", seq, lambda: seq.submit(honest, registry=rich.registry))
        wait_for(seq, units=0, instructions=3)
    out.join()
    assert isinstance(out.answers["first"], Receipt)
    assert isinstance(out.answers["altered"], IdempotencyKeyReused), out.answers["altered"]
    assert isinstance(out.answers["honest"], Receipt)
    assert len({out.groups["first"], out.groups["altered"], out.groups["honest"]}) == 1, "one group"
    assert _held(rich, B) == 4 + 7
    replays_clean(rich)


def test_a_writer_that_waits_too_long_gives_up_without_losing_the_turn(rich: World) -> None:
    seq = Sequencer(rich.engine, wait_s=0.2)
    with seq.unit():
        with pytest.raises(TimeoutError):
            seq.submit(_signed(rich, 1), registry=rich.registry)  # same thread: can never get a turn
        out = Outcomes()
        out.start("unit", seq, lambda: seq.run(lambda s: submit(s, _signed(rich, 1), registry=rich.registry)))
        out.join()
        assert isinstance(out.answers["unit"], TimeoutError)
    assert seq.waiting() == (0, 0)
    assert seq.submit(_signed(rich, 2), registry=rich.registry).seq > 0


def test_two_sequencers_on_one_database_as_two_server_processes_keep_one_gapless_chain(
    rich: World, tmp_path: Any
) -> None:
    """Each ``serve`` worker has its own sequencer: their groups take turns through SQLite's writer
    lock or PostgreSQL's journal_head row, and the chain stays one."""
    other = _second_engine(rich.engine)
    try:
        sequencers = [Sequencer(rich.engine), Sequencer(other)]
        out = Outcomes()
        for i in range(40):
            seq = sequencers[i % 2]
            out.start(f"w{i}", seq, lambda seq=seq: seq.submit(_signed(rich, 1), registry=rich.registry))
        out.join()
    finally:
        other.dispose()
    receipts = [a for a in out.answers.values() if isinstance(a, Receipt)]
    assert len(receipts) == 40, [a for a in out.answers.values() if not isinstance(a, Receipt)]
    replays_clean(rich)
    assert _held(rich, B) == 40


def _second_engine(engine: Engine) -> Engine:
    from ledger.db import make_engine

    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return make_engine(url)
    with engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def test_a_domain_error_raised_by_a_check_refuses_only_that_instruction(rich: World) -> None:
    seq = Sequencer(rich.engine)
    out = Outcomes()

    def refuse(_s: Session) -> None:
        raise DomainError("not allowed")

    with seq.unit():
        out.start("checked", seq, lambda: seq.submit(_signed(rich, 1), registry=rich.registry, check=refuse))
        out.start("plain", seq, lambda: seq.submit(_signed(rich, 2), registry=rich.registry))
        wait_for(seq, units=0, instructions=2)
    out.join()
    assert type(out.answers["checked"]) is DomainError
    assert isinstance(out.answers["plain"], Receipt)
    assert _held(rich, B) == 2


def test_a_callers_signature_is_verified_before_it_queues_and_not_again_in_the_batch(
    rich: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.crypto as crypto
    import ledger.sequencer as sequencer

    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 1), registry=rich.registry)  # the signer's key is looked up once
    events: list[str] = []
    real_verify, real_batch = crypto.verify_raw, sequencer.submit_batch

    def verify_counted(public_key: bytes, message: bytes, signature: bytes) -> bool:
        if message.startswith(crypto.TAG_BODY + b"\x00"):
            events.append("verify")
        return real_verify(public_key, message, signature)

    def batch_counted(*args: Any, **kwargs: Any) -> Any:
        events.append("batch")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(crypto, "verify_raw", verify_counted)
    monkeypatch.setattr(sequencer, "submit_batch", batch_counted)
    seq.submit(_signed(rich, 2), registry=rich.registry)
    assert events == ["verify", "batch"], "one check, made before the caller queued"
    assert _held(rich, B) == 3


def test_a_forged_signature_is_still_refused_by_the_sequencer(rich: World) -> None:
    from dataclasses import replace

    from ledger.errors import BadSignature

    seq = Sequencer(rich.engine)
    good = _signed(rich, 5)
    forged = replace(good, signatures=(replace(good.signatures[0], sig=bytes(64)),))
    with pytest.raises(BadSignature):
        seq.submit(forged, registry=rich.registry)
    assert _held(rich, B) == 0


def test_a_new_group_waits_for_callers_still_verifying_so_they_share_one_batch(
    rich: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit wakes its callers at once; the first to queue again would otherwise run alone while
    the rest are still encoding and verifying: one group, two batches, and a batch's fixed
    statements paid for one record."""
    import ledger.sequencer as sequencer

    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 1), registry=rich.registry)  # the signer's key is looked up once
    monkeypatch.setattr(sequencer, "GATHER_S", 30.0)  # long: only the slow caller's arrival ends it
    slow_ins, fast_ins = _signed(rich, 2), _signed(rich, 3)
    entered, release = threading.Event(), threading.Event()
    real_encode, real_batch = Sequencer._encode_and_verify, sequencer.submit_batch
    batches: list[int] = []

    def encode(self: Sequencer, instruction: Instruction) -> Any:
        if instruction is slow_ins:
            entered.set()
            release.wait(30)
        return real_encode(self, instruction)

    def batch_counted(session: Session, instructions: Any, **kwargs: Any) -> Any:
        batches.append(len(instructions))
        return real_batch(session, instructions, **kwargs)

    monkeypatch.setattr(Sequencer, "_encode_and_verify", encode)
    monkeypatch.setattr(sequencer, "submit_batch", batch_counted)
    out = Outcomes()
    out.start("slow", seq, lambda: seq.submit(slow_ins, registry=rich.registry))
    assert entered.wait(30)
    out.start("fast", seq, lambda: seq.submit(fast_ins, registry=rich.registry))
    wait_for(seq, units=0, instructions=1)  # the fast one queued and leads the group...
    time.sleep(0.2)
    assert batches == [], "...but runs nothing while a caller is still on its way"
    release.set()
    out.join()
    assert batches == [2], "one batch for both"
    assert out.groups["slow"] == out.groups["fast"]
    assert all(isinstance(a, Receipt) for a in out.answers.values()), out.answers
    assert _held(rich, B) == 1 + 2 + 3


def test_a_lone_caller_never_waits_for_others_to_gather(rich: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.sequencer as sequencer

    monkeypatch.setattr(sequencer, "GATHER_S", 30.0)
    seq = Sequencer(rich.engine)
    started = time.monotonic()
    for amount in (1, 2, 3):
        seq.submit(_signed(rich, amount), registry=rich.registry)
    assert time.monotonic() - started < 10, "a wait that nobody was going to end"
    assert seq.stats.groups == 3


@contextmanager
def selects_counted(engine: Engine) -> Iterator[list[str]]:
    """The text of each SELECT the block ran, filled in when it ends."""
    texts: list[str] = []
    with selects(engine) as seen:
        try:
            yield texts
        finally:
            texts.extend(sql for sql, _ in seen)


def test_a_batch_reuses_what_the_last_batch_read_while_the_head_has_not_moved(rich: World) -> None:
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 1), registry=rich.registry)
    with selects_counted(rich.engine) as cold:
        back = Instruction.signed(transfer(B, A, 1), ("ent:b", rich.keys["ent:b"]))
        seq.submit(back, registry=rich.registry)
    with selects_counted(rich.engine) as warm:
        seq.submit(_signed(rich, 2), registry=rich.registry)
    read_again = [q for q in warm if any(t in q for t in ("FROM account", "FROM balance", "FROM party"))]
    assert read_again == [], "the accounts, balances, parties and keys were the last batch's"
    assert len(warm) < len(cold)
    assert (_held(rich, A), _held(rich, B)) == (1_000 - 1 + 1 - 2, 2)


def test_a_record_written_by_another_writer_makes_the_next_batch_read_afresh(rich: World) -> None:
    """The kept view said A holds 990; another process's writer left it 5: the next batch must see
    5 and refuse 10, not overwrite the balance from what it kept."""
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 10), registry=rich.registry)
    with Session(rich.engine) as other:  # another server process: its own connection and commit
        submit(other, _signed(rich, 985), registry=rich.registry)
        other.commit()
    with pytest.raises(InsufficientBalance):
        seq.submit(_signed(rich, 10), registry=rich.registry)
    assert seq.submit(_signed(rich, 5), registry=rich.registry).seq > 0
    assert (_held(rich, A), _held(rich, B)) == (0, 1_000)
    replays_clean(rich)


def _reads_of(queries: list[str], *tables: str) -> list[str]:
    return [q for q in queries if any(f"FROM {t}" in q for t in tables)]


def test_after_another_process_s_plain_transfers_a_batch_reads_again_only_the_balances(rich: World) -> None:
    """``serve --workers 2``: the other process's group moved the head with plain transfers. The kept
    view catches up (the balances those records moved are read again, nothing else) instead of
    starting cold, and the balance it reads is the other writer's."""
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 10), registry=rich.registry)
    seq.submit(_signed(rich, 1), registry=rich.registry)
    with Session(rich.engine) as other:
        submit(other, _signed(rich, 985), registry=rich.registry)
        other.commit()
    with selects_counted(rich.engine) as after, pytest.raises(InsufficientBalance):
        seq.submit(_signed(rich, 5), registry=rich.registry)
    assert _reads_of(after, "account", "party", "key") == [], "only balances changed"
    assert _reads_of(after, "balance"), "the moved balances are read again"
    assert seq.submit(_signed(rich, 4), registry=rich.registry).seq > 0
    assert (_held(rich, A), _held(rich, B)) == (0, 1_000)
    replays_clean(rich)


def test_after_another_process_s_other_records_a_batch_starts_cold(rich: World) -> None:
    """A record that is not a plain transfer (here an account opened) may change what the view
    holds: the kept view had no account ent:a.h2; the next batch must find the one just opened."""
    seq = Sequencer(rich.engine)
    late = "ent:a.h2"
    with pytest.raises(DomainError):  # the view now says: no such account
        seq.submit(
            Instruction.signed(transfer(A, late, 1), ("ent:a", rich.keys["ent:a"])), registry=rich.registry
        )
    rich.batch([Instruction(OpenAccount(late, "ent:a", AccountKind.HOLDING, new_nonce()))])
    with selects_counted(rich.engine) as after:
        moved = seq.submit(
            Instruction.signed(transfer(A, late, 7), ("ent:a", rich.keys["ent:a"])), registry=rich.registry
        )
    assert moved.seq > 0
    assert _reads_of(after, "account"), "cold: the accounts are read again"
    assert _held(rich, late) == 7
    replays_clean(rich)


def test_a_transfer_that_places_a_hold_is_not_caught_up_as_a_plain_one(rich: World) -> None:
    """Under rule set 1 a ``transfer`` may carry hold operations: it moves no posting, yet it changes
    what a balance has free. The next batch must see the units held and refuse to move them."""
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 10), registry=rich.registry)
    pledge = HoldPlace("pledge-1", A, "COD", COD_YUYAO, 985, "pledge", "ent:b")
    rich.submit(TxBody("transfer", new_nonce(), (), (pledge,)), "ent:a")
    with pytest.raises(DomainError):
        seq.submit(_signed(rich, 10), registry=rich.registry)
    assert seq.submit(_signed(rich, 5), registry=rich.registry).seq > 0
    replays_clean(rich)


def test_a_kept_view_does_not_catch_up_across_a_gap_in_the_chain(rich: World) -> None:
    """The kept head must be the parent of the first record read: a view kept from a group whose
    COMMIT failed, at a head the journal never had, is dropped (here: a kept hash altered)."""
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 10), registry=rich.registry)
    warm = seq._warm
    assert warm._at is not None
    warm._at = (warm._at[0], bytes(32))  # a head the journal never had
    with Session(rich.engine) as other:
        submit(other, _signed(rich, 985), registry=rich.registry)
        other.commit()
    with selects_counted(rich.engine) as after, pytest.raises(InsufficientBalance):
        seq.submit(_signed(rich, 10), registry=rich.registry)
    assert _reads_of(after, "account"), "cold: nothing of the kept view was trusted"
    replays_clean(rich)


def test_a_kept_view_does_not_catch_up_when_the_chain_stops_short_of_the_head(rich: World) -> None:
    """Every record read since the kept head is a plain transfer and links to the one before, but
    the last of them is not the head (here the newest record's row is gone, as a torn restore would
    leave it): the view is not trusted, the next batch starts cold, and the journal's chain guard
    refuses to seal a record on the hole; replay of what is left differs from the balances."""
    seq = Sequencer(rich.engine)
    seq.submit(_signed(rich, 10), registry=rich.registry)
    with Session(rich.engine) as other:
        submit(other, _signed(rich, 5), registry=rich.registry)
        last = submit(other, _signed(rich, 5), registry=rich.registry)
        other.commit()
    with rich.engine.begin() as conn:  # past the append-only guard, as an operator's restore would be
        if rich.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER journal_no_delete"))
        else:
            conn.execute(text("ALTER TABLE journal DISABLE TRIGGER journal_append_only"))
        conn.execute(J.delete().where(J.c.seq == last.seq))
    warm = seq._warm
    with selects_counted(rich.engine) as after, pytest.raises(DBAPIError, match="prev"):
        seq.submit(_signed(rich, 1), registry=rich.registry)
    assert _reads_of(after, "account"), "cold: nothing of the kept view was trusted"
    assert warm._at is None or warm._at[0] <= last.seq, "no view kept past the hole"
    with Session(rich.engine) as s:
        assert s.execute(select(func.max(J.c.seq))).scalar_one() == last.seq - 1, "nothing sealed on the hole"
        report, diff = replay_database(s)
    assert report.ok, "what is left is a sound prefix of the journal"
    assert diff, "and the live balances hold the lost record's movement: replay names the difference"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_interleaved_writers_with_kept_views_accept_exactly_what_the_balance_allows(
    rich: World, seed: int
) -> None:
    """Two sequencers (two server processes) and plain sessions take turns at random on one hot
    account: each write is accepted exactly when the true balance covers it, and the tables end
    equal to the journal's replay."""
    import random

    rng = random.Random(seed)
    other_engine = _second_engine(rich.engine)
    try:
        balance = _interleave(rich, rng, Sequencer(rich.engine), Sequencer(other_engine))
    finally:
        other_engine.dispose()
    assert _held(rich, A) == balance
    replays_clean(rich)


def _interleave(rich: World, rng: Any, first: Sequencer, second: Sequencer) -> int:
    """40 writes of random sizes from A by random writers, some given back to A, and holds placed on
    A's units and released (records a kept view must not catch up with); A's balance after."""
    balance, held, holds = 1_000, 0, 0
    for _ in range(40):
        amount = rng.choice([1, 5, 50, 120, 400])
        writer = rng.choice(["first", "second", "session"])
        if rng.random() < 0.25:  # a pledge on A's units, or its release, by any writer
            held, holds = _hold_or_release(rich, writer, first, second, held, holds, amount, balance)
            continue
        try:
            _write(rich, writer, first, second, _signed(rich, amount))
        except (InsufficientBalance, UnitsEncumbered):
            assert amount > balance - held, (writer, amount, balance, held)
        else:
            assert amount <= balance - held, (writer, amount, balance, held)
            balance -= amount
        if balance < 1_000 and rng.random() < 0.2:  # some back, signed by B's owner
            back = rng.randint(1, 1_000 - balance)
            give = Instruction.signed(transfer(B, A, back), ("ent:b", rich.keys["ent:b"]))
            rng.choice([first, second]).submit(give, registry=rich.registry)
            balance += back
    return balance


def _write(rich: World, writer: str, first: Sequencer, second: Sequencer, ins: Instruction) -> None:
    if writer == "session":
        with Session(rich.engine) as s:
            submit(s, ins, registry=rich.registry)
            s.commit()
    else:
        (first if writer == "first" else second).submit(ins, registry=rich.registry)


def _hold_or_release(
    rich: World,
    writer: str,
    first: Sequencer,
    second: Sequencer,
    held: int,
    holds: int,
    amount: int,
    balance: int,
) -> tuple[int, int]:
    """Release the open hold, or place one of ``amount`` (rule set 1: a ``transfer`` that moves
    nothing); the units held and the holds placed so far, after."""
    if held:
        release = HoldSettle("release", f"pledge-{holds}", held)
        body = TxBody("transfer", new_nonce(), (), (release,))
        _write(rich, writer, first, second, Instruction.signed(body, ("ent:b", rich.keys["ent:b"])))
        return 0, holds
    place = HoldPlace(f"pledge-{holds + 1}", A, "COD", COD_YUYAO, amount, "pledge", "ent:b")
    ins = Instruction.signed(TxBody("transfer", new_nonce(), (), (place,)), ("ent:a", rich.keys["ent:a"]))
    try:
        _write(rich, writer, first, second, ins)
    except (InsufficientBalance, UnitsEncumbered):
        assert amount > balance, (writer, amount, balance)
        return 0, holds
    assert amount <= balance, (writer, amount, balance)
    return amount, holds + 1


def test_a_batch_reads_an_accounts_owner_once_and_forgets_it_when_a_group_fails(
    rich: World,
) -> None:
    """Checks in the turn (``submit(check=...)``, the API's transfers) read an account's owner and a
    party's jurisdiction, facts fixed once recorded, through the sequencer's memo: once, not per
    check. What a failed group read may never have been stored, so the memo is emptied then."""
    from accounts.service import SessionDirectory

    seq = Sequencer(rich.engine)
    owners: list[str | None] = []

    def check(session: Session) -> None:
        directory = SessionDirectory(session)
        owners.append(directory.owner_of(A))
        assert directory.owner_of("nobody.h") is None

    def account_reads(statements: list[str]) -> int:
        return len([q for q in statements if "FROM account" in q and "account.id =" in q])

    with selects_counted(rich.engine) as cold:
        seq.submit(_signed(rich, 1), registry=rich.registry, check=check)
    with selects_counted(rich.engine) as warm:
        seq.submit(_signed(rich, 1), registry=rich.registry, check=check)
    assert owners == ["ent:a", "ent:a"]
    assert account_reads(cold) == 2, "A's owner and the unknown account"
    assert account_reads(warm) == 1, "only the unknown account, which may open later"

    def fail_once(_conn: Any) -> None:
        event.remove(rich.engine, "commit", fail_once)
        raise OSError("disk gone")

    event.listen(rich.engine, "commit", fail_once)
    with pytest.raises(GroupCommitFailed):
        seq.submit(_signed(rich, 1), registry=rich.registry, check=check)
    with selects_counted(rich.engine) as after:
        seq.submit(_signed(rich, 1), registry=rich.registry, check=check)
    assert account_reads(after) == 2, "read afresh after the failed group"
    assert _held(rich, B) == 3


def test_a_registered_partys_jurisdiction_is_kept_and_an_unknown_party_is_not(engine: Engine) -> None:
    from accounts.demo import register_demo
    from accounts.service import SessionDirectory
    from ledger.crypto import SigningKey
    from ledger.sequencer import KNOWN_FACTS
    from ledger.service import Registry, init_ledger

    registry = Registry(SigningKey.generate())
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="known facts")
        demo = register_demo(s, registry=registry)
        s.commit()
    party = demo["yuyao"].party
    memo: dict[tuple[str, str], Any] = {}
    with Session(engine) as s:
        s.info[KNOWN_FACTS] = memo
        jurisdiction = SessionDirectory(s).jurisdiction_of(party)
        assert SessionDirectory(s).jurisdiction_of("ent:not-yet") is None
    assert jurisdiction == "330281"
    assert memo == {("jurisdiction", party): "330281"}
    with selects_counted(engine) as reads, Session(engine) as s:
        s.info[KNOWN_FACTS] = memo
        assert SessionDirectory(s).jurisdiction_of(party) == "330281"
    assert reads == []
