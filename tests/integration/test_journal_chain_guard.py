"""The journal's chain guard, on both engines: the database refuses a record whose ``prev`` is not
the hash of the record before it (a fork, a record past a gap, a forged link), whoever writes it,
and lets the next honest record through."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, TextClause, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from ledger.repository import J
from ledger.service import replay_database
from tests.support import World


def _last(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(J).order_by(J.c.seq.desc()).limit(1)).one()
    return dict(row._mapping)


def _insert(engine: Engine, **row: Any) -> None:
    with engine.begin() as conn:
        conn.execute(J.insert().values(**row))


def _insert_into(table: str, row: dict[str, Any]) -> TextClause:
    return text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})")


def _forged(last: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A row after ``last`` as an outsider with the database's password would write it: unique where
    it must be (seq, digest), linked or not as ``changes`` say."""
    row = {
        **last,
        "seq": last["seq"] + 1,
        "prev": last["hash"],
        "hash": bytes(reversed(last["hash"])),
        "body_digest": bytes(reversed(last["body_digest"])),
    }
    return {**row, **changes}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda last: {"prev": last["prev"]}, id="a fork: the prev of the last record again"),
        pytest.param(lambda last: {"prev": bytes(32)}, id="record 0's prev on a later record"),
        pytest.param(lambda last: {"seq": last["seq"] + 2}, id="past a gap: the right prev, one seq skipped"),
        pytest.param(lambda last: {"prev": last["hash"][:31]}, id="a prefix of the right prev"),
    ],
)
def test_the_database_refuses_a_record_not_chained_to_the_one_before(world: World, change: Any) -> None:
    world.fund("ent:a.cash", 500)
    last = _last(world.engine)
    with pytest.raises(DBAPIError, match="prev"):
        _insert(world.engine, **_forged(last, **change(last)))
    assert _last(world.engine) == last, "nothing was written"
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}


def test_a_second_genesis_is_refused_and_a_linked_row_is_let_through(world: World) -> None:
    """The guard refuses by the link alone: a row linked to its predecessor passes it (and replay,
    which checks its signatures, then refuses it), so the guard is not a blanket refusal."""
    last = _last(world.engine)
    with pytest.raises(DBAPIError, match="prev"):
        _insert(world.engine, **_forged(last, seq=0))  # record 0 exists: its seq is taken, its prev wrong
    _insert(world.engine, **_forged(last))
    assert _last(world.engine)["seq"] == last["seq"] + 1
    with Session(world.engine) as s:
        report, _ = replay_database(s)
    assert not report.ok  # a forged row, linked: only replay's signature checks catch it
    assert report.failure is not None
    assert report.failure.seq == last["seq"] + 1


def test_honest_writes_go_on_after_a_refused_forgery(world: World) -> None:
    last = _last(world.engine)
    with pytest.raises(DBAPIError, match="prev"):
        _insert(world.engine, **_forged(last, prev=last["prev"]))
    receipt = world.fund("ent:a.cash", 700)
    assert receipt.seq == last["seq"] + 1
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}


def test_a_temporary_table_named_journal_does_not_stand_in_for_the_journal(world: World) -> None:
    """The guard reads the journal the row goes to, not whatever ``journal`` a session's name lookup
    finds first: a temporary table holding a made-up predecessor does not get a forged row in."""
    last = _last(world.engine)
    made_up = {**last, "hash": bytes(range(32)), "body_digest": bytes(range(1, 33))}  # at last's seq
    forged = _forged(made_up)  # the next seq, linked to the made-up record, not to ``last``
    with world.engine.connect() as conn:
        pg = conn.dialect.name == "postgresql"
        schema = conn.execute(text("SELECT current_schema()")).scalar_one() if pg else "main"
        conn.execute(text("CREATE TEMPORARY TABLE journal AS SELECT * FROM journal WHERE seq < 0"))
        temp = "pg_temp" if pg else "temp"
        conn.execute(_insert_into(f"{temp}.journal", made_up), made_up)  # the "record before" the forged one
        with pytest.raises(DBAPIError, match="prev"):
            conn.execute(_insert_into(f"{schema}.journal", forged), forged)
        conn.rollback()
    assert _last(world.engine) == last
