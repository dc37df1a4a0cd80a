"""Reads whose cost must follow what they return, not the registry's age: on SQLite each is planned
as index searches, never a scan of the journal or of every party's holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.model import Participant, Role
from ledger.federation_store import open_federation_holds
from ledger.history import records_touching
from ledger.records import transactions_with_action
from market.proposals.reads import proposals_of
from tests.sql_plans import selects, table_scans

BIG_TABLES = ("journal", "hold", "posting", "proposal")
BANK = Participant("bank:b", Role.BANK, "Bank B")
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _scans(engine: Engine, read: Callable[[Session], object]) -> list[str]:
    with selects(engine) as seen, Session(engine) as s:
        read(s)
    assert seen, "the read ran no statement"
    return table_scans(engine, seen, BIG_TABLES)


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
        pytest.param(open_federation_holds, id="the federation's open holds"),
    ],
)
def test_on_sqlite_the_read_scans_no_large_table(
    sqlite_engine: Engine, read: Callable[[Session], object]
) -> None:
    assert _scans(sqlite_engine, read) == []


def test_an_action_the_index_does_not_hold_is_refused_not_scanned_for(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as s, pytest.raises(ValueError, match="transfer"):
        transactions_with_action(s, actions={"bc.retire", "transfer"})
