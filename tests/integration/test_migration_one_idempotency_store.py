"""Revision 0008 folds the API's stored answers into the one idempotency store: an answer stored
before the upgrade answers a retry of its request exactly as before, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import Session

from api.migrations import head, upgrade
from api.write import once, request_digest
from ledger.errors import IdempotencyKeyReused
from ledger.idempotency import StoredAnswer, find_answer
from ledger.service import Registry
from tests.integration.test_market_auctions_world import World
from tests.integration.test_migrations import _differences, blank

__all__ = ["blank"]  # the fixture: an empty database of this test's own, on either engine


class Answer(BaseModel):
    id: str
    status: str


OLD_BODY = {"instrument": "COD", "quantity_kg": 1000}
PATH = "/v1/demands"


def _old_api_row(conn: Connection, party: str, key: str, body: object, response: str) -> None:
    digest = request_digest("POST", PATH, body).hex()  # revision 0002 kept the hex text
    conn.execute(
        text(
            "INSERT INTO api_idempotent_response (party, key, request_digest, status_code, response, "
            "created_at) VALUES (:p, :k, :d, 200, :r, '2026-12-01T00:00:00.000000Z')"
        ),
        {"p": party, "k": key, "d": digest, "r": response},
    )


def _never() -> Answer:
    raise AssertionError("a stored answer must be replayed, not run again")


def test_an_answer_stored_before_revision_0008_replays_the_same_after_it(
    blank: Engine, registry: Registry
) -> None:
    assert upgrade(blank, "0007") == "0007"
    party = World.create(blank, registry, aliases=("yuyao", "yuyao_chem")).party("yuyao_chem")
    stored = Answer(id="d-1", status="open").model_dump_json()
    with blank.begin() as conn:
        _old_api_row(conn, party, "old-1", OLD_BODY, stored)
        # The same key used before for a signed instruction too: the instruction's row stays.
        _old_api_row(conn, party, "both", OLD_BODY, stored)
        conn.execute(
            text(
                "INSERT INTO idempotency (scope, key, request_digest, seq, response) "
                "VALUES (:s, 'both', :d, 3, :r)"
            ),
            {"s": party, "d": b"\x01" * 32, "r": '{"seq": 3}'},
        )

    assert upgrade(blank) == head()

    assert "api_idempotent_response" not in inspect(blank).get_table_names()
    assert _differences(blank) == []
    with Session(blank) as s:
        replayed = once(
            s, scope=party, key="old-1", digest=request_digest("POST", PATH, OLD_BODY), out=Answer, run=_never
        )
        assert replayed.model_dump_json() == stored
        with pytest.raises(IdempotencyKeyReused):
            once(
                s,
                scope=party,
                key="old-1",
                digest=request_digest("POST", PATH, {"other": 1}),
                out=Answer,
                run=_never,
            )
        assert find_answer(s, scope=party, key="both") == StoredAnswer(b"\x01" * 32, '{"seq": 3}')
