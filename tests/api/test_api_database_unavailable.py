"""A lost database connection is a 503 with a stable code and Retry-After, never a 500 or a 200.

What a client sees while the primary is down or a standby is being promoted (the failover drill).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from ledger.db import make_engine, read_only, statement_reader
from ledger.service import Registry, head_size
from tests.api.test_api_ledger import Api
from tests.integration.pg_pair import free_port


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_registry_whose_database_stops_answering_says_503_and_when_to_retry(
    engine: Engine, registry: Registry
) -> None:
    api = Api(engine, registry)
    assert api.client.get("/health").status_code == 200
    nowhere = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=1")
    app = api.client.app.state.ecoledger  # type: ignore[attr-defined]
    app.engine, app.reader, app.quick_reader = nowhere, read_only(nowhere), statement_reader(nowhere)
    assert_unavailable(api.client.get("/health"))
    nowhere.dispose()


def test_a_commit_that_loses_the_connection_is_a_503_and_acknowledges_nothing(
    engine: Engine, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(engine, registry)
    api.allocate("yuyao_chem", 5_000)
    with Session(api.engine) as s:
        before = head_size(s)

    def lost(self: Session) -> None:
        self.rollback()  # the server went away: the transaction is gone with it
        raise OperationalError("COMMIT", {}, psycopg.OperationalError("server closed the connection"))

    monkeypatch.setattr(Session, "commit", lost)
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 100)
    assert_unavailable(api.client.post("/v1/instructions", json=payload, headers=api.headers("yuyao_chem")))
    monkeypatch.undo()
    with Session(api.engine) as s:
        assert head_size(s) == before
