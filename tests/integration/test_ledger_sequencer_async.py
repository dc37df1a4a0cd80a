"""Callers in an event loop (``Sequencer.submit_async``), both engines: the same batches and answers as
waiting threads, with no thread of their own; the groups run in a sequencer thread."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import event

from ledger.errors import InsufficientBalance
from ledger.sequencer import GroupCommitFailed, Sequencer
from ledger.service import Receipt
from tests.integration.test_ledger_sequencer import (
    A,
    B,
    _held,
    _records,
    _signed,
    replays_clean,
    rich,
    wait_for,
)
from tests.support import World

__all__ = ["rich"]  # the fixture, shared


def test_loop_callers_and_threads_share_groups_and_each_gets_its_own_answer(rich: World) -> None:
    seq = Sequencer(rich.engine)
    reg = rich.registry
    threaded: list[Receipt | BaseException] = []

    def in_thread(amount: int) -> None:
        try:
            threaded.append(seq.submit(_signed(rich, amount), registry=reg))
        except BaseException as exc:
            threaded.append(exc)

    async def callers() -> list[Receipt | BaseException]:
        calls = [seq.submit_async(_signed(rich, 10), registry=reg) for _ in range(20)]
        calls.append(seq.submit_async(_signed(rich, 50_000), registry=reg))  # an overdraft among them
        return await asyncio.gather(*calls, return_exceptions=True)

    with seq.unit():  # holds the turn: the loop's callers and the threads queue behind it
        threads = [threading.Thread(target=in_thread, args=(5,)) for _ in range(4)]
        for t in threads:
            t.start()
        answers: list[Receipt | BaseException] = []
        loop = threading.Thread(target=lambda: answers.extend(asyncio.run(callers())))
        loop.start()
        wait_for(seq, units=0, instructions=25)
    loop.join(timeout=60)
    for t in threads:
        t.join(timeout=60)

    refused = [a for a in answers if isinstance(a, BaseException)]
    assert len(refused) == 1
    assert isinstance(refused[0], InsufficientBalance), "a refusal refuses only itself"
    receipts = [a for a in [*answers, *threaded] if isinstance(a, Receipt)]
    assert len(receipts) == 24
    assert len({r.seq for r in receipts}) == 24, "each its own record"
    assert seq.stats.groups <= 3, "queued together, committed together"
    assert _held(rich, A) == 1_000 - 20 * 10 - 4 * 5
    assert _held(rich, B) == 20 * 10 + 4 * 5
    replays_clean(rich)


def test_a_lone_loop_caller_is_answered_once_its_group_commits(rich: World) -> None:
    seq = Sequencer(rich.engine)

    async def one() -> Receipt:
        return await seq.submit_async(_signed(rich, 3), registry=rich.registry)

    first, second = asyncio.run(one()), asyncio.run(one())
    assert second.seq == first.seq + 1
    assert _held(rich, B) == 6
    assert seq.waiting() == (0, 0)


def test_a_loop_caller_is_told_when_its_groups_commit_fails(rich: World) -> None:
    seq = Sequencer(rich.engine)
    before = _records(rich)
    answers: list[Receipt | BaseException] = []

    def fail_once(_conn: object) -> None:
        event.remove(rich.engine, "commit", fail_once)
        raise OSError("disk gone")

    async def caller() -> None:
        try:
            answers.append(await seq.submit_async(_signed(rich, 6), registry=rich.registry))
        except BaseException as exc:
            answers.append(exc)

    with pytest.raises(GroupCommitFailed), seq.unit():  # noqa: PT012
        loop = threading.Thread(target=lambda: asyncio.run(caller()))
        loop.start()
        wait_for(seq, units=0, instructions=1)
        event.listen(rich.engine, "commit", fail_once)
    loop.join(timeout=60)
    assert len(answers) == 1
    assert isinstance(answers[0], GroupCommitFailed), "no receipt for a write that was not stored"
    assert _records(rich) == before


def test_a_loop_caller_that_waits_too_long_gives_up_and_leaves_the_queue(rich: World) -> None:
    seq = Sequencer(rich.engine, wait_s=0.2)

    async def caller() -> Receipt:
        return await seq.submit_async(_signed(rich, 1), registry=rich.registry)

    with seq.unit():
        with pytest.raises(TimeoutError):
            asyncio.run(caller())  # the turn is held by this thread's unit meanwhile
        assert seq.waiting() == (0, 0)
    assert asyncio.run(caller()).seq > 0


def test_fifty_loop_callers_commit_exactly_what_they_were_acknowledged(rich: World) -> None:
    seq = Sequencer(rich.engine)
    amounts = [7 * (i % 9) + 1 for i in range(150)]  # 150 transfers in waves of 50; some overdraw

    async def wave(part: list[int]) -> list[Receipt | BaseException]:
        calls = [seq.submit_async(_signed(rich, n), registry=rich.registry) for n in part]
        return await asyncio.gather(*calls, return_exceptions=True)

    async def all_waves() -> list[Receipt | BaseException]:
        out: list[Receipt | BaseException] = []
        for start in range(0, len(amounts), 50):
            out += await wave(amounts[start : start + 50])
        return out

    before = _records(rich)
    answers = asyncio.run(all_waves())
    acknowledged = [n for n, a in zip(amounts, answers, strict=True) if isinstance(a, Receipt)]
    refused = [a for a in answers if not isinstance(a, Receipt)]
    assert all(isinstance(a, InsufficientBalance) for a in refused)
    assert refused, "the waves overdraw: some are refused"
    assert _records(rich) - before == len(acknowledged), "every acknowledged write is a record, no other"
    assert _held(rich, B) == sum(acknowledged)
    assert _held(rich, A) == 1_000 - sum(acknowledged) >= 0
    assert seq.stats.groups < len(amounts) / 5, "waves are grouped"
