"""Reads whose cost must follow what they return, not the registry's age: on SQLite each is planned
as index searches, never a scan of the journal or of every party's holds."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from accounts.model import Participant, Role
from ledger.history import records_touching
from ledger.records import transactions_with_action
from market.proposals.reads import proposals_of

BIG_TABLES = ("journal", "hold", "posting", "proposal")
BANK = Participant("bank:b", Role.BANK, "Bank B")
NOW = datetime(2026, 12, 7, tzinfo=UTC)


@contextmanager
def _selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def log(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


def _scans(engine: Engine, read: Callable[[Session], object]) -> list[str]:
    with _selects(engine) as seen, Session(engine) as s:
        read(s)
    assert seen, "the read ran no statement"
    found = []
    with engine.connect() as c:
        # a partial index holds only the rows it is for: scanning it is reading what matches
        partial = {
            r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE sql LIKE '% WHERE %'")
        }
        for sql, params in seen:
            for row in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params):
                step = row[-1]
                m = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", step)
                if m and m.group(1) in BIG_TABLES and m.group(2) not in partial:
                    found.append(step)
    return found


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(
            lambda s: transactions_with_action(s, actions={"bc.retire"}), id="records of one action"
        ),
        pytest.param(
            lambda s: transactions_with_action(s, actions={"bc.retire", "bc.sale"}), id="of two actions"
        ),
        pytest.param(
            lambda s: records_touching(s, accounts=["acc:a", "acc:b"], controller="bank:b"),
            id="a controller's account history",
        ),
        pytest.param(
            lambda s: records_touching(s, accounts=["acc:a"], controller="bank:b", instrument="COD"),
            id="its history of one instrument",
        ),
        pytest.param(lambda s: proposals_of(s, actor=BANK, now=NOW), id="a party's proposals"),
        pytest.param(lambda s: proposals_of(s, actor=BANK, now=NOW, awaiting=True), id="its to-do list"),
    ],
)
def test_on_sqlite_the_read_scans_no_large_table(
    sqlite_engine: Engine, read: Callable[[Session], object]
) -> None:
    assert _scans(sqlite_engine, read) == []


def test_an_action_the_index_does_not_hold_is_refused_not_scanned_for(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as s, pytest.raises(ValueError, match="transfer"):
        transactions_with_action(s, actions={"bc.retire", "transfer"})
