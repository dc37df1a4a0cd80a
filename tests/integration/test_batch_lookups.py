"""A batch's lookups by composite key (balances, idempotency keys): exact on both engines, and on
SQLite an index search per key, whatever the table's size, not a scan of the whole index."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert
from sqlmodel import Session

from ledger.repository import DbView, table
from ledger.tables import BalanceRow, IdempotencyRow
from tests.sql_plans import selects, table_scans

STORED = 600  # more than one chunk of 500


def _digest(i: int) -> bytes:
    return bytes([i % 256]) * 32


def _fill(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(
            insert(table(IdempotencyRow)),
            [
                {"scope": f"ent:{i % 7}", "key": f"k{i}", "request_digest": _digest(i), "response": f"r{i}"}
                for i in range(STORED)
            ],
        )
        c.execute(
            insert(table(BalanceRow)),
            [
                {"account": f"acc{i % 50}", "instrument": "COD", "lot": f"lot{i}", "total": i, "held": 0}
                | {"floor_zero": True}
                for i in range(STORED)
            ],
        )


@pytest.mark.parametrize("asked", [1, 3, 64, 501])
def test_each_stored_key_is_found_and_each_absent_one_is_absent(engine: Engine, asked: int) -> None:
    _fill(engine)
    present = list(range(0, 2 * asked, 2))  # every other one asked is stored, beyond STORED absent
    pairs = [(f"ent:{i % 7}", f"k{i}") for i in present] + [
        ("ent:9", "k1"),
        ("ent:1", "nope"),
        ("ent:1", "k1' OR '1'='1"),
    ]
    keys = [(f"acc{i % 50}", "COD", f"lot{i}") for i in present]
    keys += [("acc1", "COD", "lot2"), ("acc0", "NH3", "lot0")]
    with Session(engine) as s:
        view = DbView(s)
        view.prefetch_idempotency(pairs)
        view.prefetch_positions(keys)
    for i in present:
        stored = i < STORED
        assert view.idempotency[(f"ent:{i % 7}", f"k{i}")] == ((_digest(i), f"r{i}") if stored else None)
        position = view.positions[(f"acc{i % 50}", "COD", f"lot{i}")]
        assert (position.total, position.held) == ((i, 0) if stored else (0, 0))
        assert ((f"acc{i % 50}", "COD", f"lot{i}") in view.stored_positions) is stored
    # a scope or account of another stored key does not match
    assert view.idempotency[("ent:9", "k1")] is None
    assert view.idempotency[("ent:1", "nope")] is None
    assert view.idempotency[("ent:1", "k1' OR '1'='1")] is None, "a key is a value, never SQL"
    assert ("acc1", "COD", "lot2") not in view.stored_positions
    assert ("acc0", "NH3", "lot0") not in view.stored_positions


def test_on_sqlite_a_lookup_searches_the_index_and_scans_nothing(sqlite_engine: Engine) -> None:
    _fill(sqlite_engine)
    with selects(sqlite_engine) as seen, Session(sqlite_engine) as s:
        view = DbView(s)
        view.prefetch_idempotency([(f"ent:{i % 7}", f"k{i}") for i in range(0, 100, 3)])
        view.prefetch_positions([(f"acc{i % 50}", "COD", f"lot{i}") for i in range(0, 100, 3)])
    assert len(seen) == 2
    assert table_scans(sqlite_engine, seen, ("idempotency", "balance")) == []
