"""The reader of short reads on PostgreSQL: its own pool, no ping before a read, a bound on each
statement, and one more try when the server dropped the connection under it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ledger.db import READER_TIMEOUT_S, read_again, statement_reader
from tests.conftest import engine_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(tmp_path: Path) -> Engine:
    return engine_for("postgres", tmp_path)


def backend_of(reader: Engine) -> int:
    with reader.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def drop(engine: Engine, pid: int) -> None:
    with engine.begin() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()


def test_a_statement_reader_is_made_once_per_engine_and_bounds_each_statement(pg: Engine) -> None:
    reader = statement_reader(pg)
    assert statement_reader(pg) is reader
    with reader.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == f"{READER_TIMEOUT_S}s"
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pg.connect() as other:  # each statement commits on its own: no transaction left open
            state = "SELECT state FROM pg_stat_activity WHERE pid = :pid"
            assert other.execute(text(state), {"pid": pid}).scalar_one() == "idle"


def test_a_read_that_meets_a_dropped_connection_is_read_again_on_a_fresh_one(pg: Engine) -> None:
    reader = statement_reader(pg)
    reader.dispose()  # the pool is shared with earlier tests: from here it holds one connection
    drop(pg, backend_of(reader))
    # no ping before a read: the dropped connection is met by the read itself...
    with pytest.raises(DBAPIError) as met, reader.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert met.value.connection_invalidated
    # ...and read_again tries once more on a fresh one
    drop(pg, backend_of(reader))
    tries: list[int] = []

    def work() -> int:
        tries.append(1)
        with reader.connect() as conn:
            return int(conn.execute(text("SELECT 41 + 1")).scalar_one())

    assert read_again(work) == 42
    assert len(tries) == 2


def test_read_again_does_not_repeat_a_read_refused_for_another_reason(pg: Engine) -> None:
    reader = statement_reader(pg)
    tries: list[int] = []

    def work() -> None:
        tries.append(1)
        with reader.connect() as conn:
            conn.execute(text("SELECT no_such_column FROM journal_head"))

    with pytest.raises(DBAPIError):
        read_again(work)
    assert len(tries) == 1


def test_disposing_the_engine_closes_its_readers_connections(pg: Engine) -> None:
    reader = statement_reader(pg)
    backend_of(reader)
    assert reader.pool.checkedin() >= 1  # type: ignore[attr-defined]
    pg.dispose()
    assert reader.pool.checkedin() == 0  # type: ignore[attr-defined]
