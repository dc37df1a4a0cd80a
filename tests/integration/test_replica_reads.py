"""Audits and reads from the synchronous standby: ``verify`` and ``export`` under ``--read-db`` and the
API's ``/health`` say how far the replica's journal is behind the primary's (replay paused: 3 records)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.demo import DEMO_SPECS, demo_key
from accounts.service import register_participant
from api.app import create_app
from api.cli import main
from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.service import Registry, head_size
from tests.integration.pg_pair import PgPair
from tests.support import World, transfer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("failover")]


@pytest.fixture(scope="module")
def world(pg_pair: PgPair) -> Iterator[World]:
    # commits wait for the primary's disk only: these tests pause the standby's replay
    engine = make_engine(pg_pair.primary.url, connect_args={"options": "-c synchronous_commit=local"})
    create_schema(engine)
    world = World.create(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5))
    world.issue("ent:a.h", 1_000)
    caught_up(pg_pair, engine)  # a test that pauses replay must find the schema on the standby
    yield world
    engine.dispose()


def replay(pair: PgPair, *, paused: bool) -> None:
    standby = make_engine(pair.standby.url, isolation_level="AUTOCOMMIT")
    with standby.connect() as conn:
        conn.execute(text(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()"))
    standby.dispose()


def caught_up(pair: PgPair, primary: Engine) -> None:
    standby = make_engine(pair.standby.url)
    deadline = time.monotonic() + 30
    query = text("SELECT next_seq FROM journal_head")
    try:
        while True:
            with primary.connect() as p, standby.connect() as s:
                try:
                    if p.execute(query).scalar() == s.execute(query).scalar():
                        return
                except ProgrammingError:  # the standby has not replayed the schema yet
                    pass
            assert time.monotonic() < deadline, "the standby did not catch up in 30 s"
            time.sleep(0.1)
    finally:
        standby.dispose()


def test_verify_and_export_from_a_lagging_replica_say_how_far_behind_it_is(
    pg_pair: PgPair, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "registry.pem"
    key.write_bytes(world.registry.key.to_pem())
    replay(pg_pair, paused=True)
    try:
        for _ in range(3):
            world.submit(transfer("ent:a.h", "ent:b.h", 10), "ent:a")
        cli = ["--db", pg_pair.primary.url, "--read-db", pg_pair.standby.url, "--key", str(key)]
        assert main([*cli, "verify"]) == 0
        out = capsys.readouterr().out
        assert "3 records behind the primary" in out
        assert "OK:" in out
        assert "verified the replica's journal up to head" in out
        assert "latest checkpoint" in out
        assert "ms behind" in out  # PostgreSQL's own replay delay, beside the head and checkpoint
        assert main([*cli, "export", str(tmp_path / "bundle")]) == 0
        assert "3 records behind the primary" in capsys.readouterr().out
    finally:
        replay(pg_pair, paused=False)
    caught_up(pg_pair, world.engine)
    assert main([*cli, "verify"]) == 0
    assert "0 records behind the primary" in capsys.readouterr().out


def test_health_reports_how_far_the_replica_is_behind(pg_pair: PgPair, world: World) -> None:
    replica = make_engine(pg_pair.standby.url)
    app = create_app(world.engine, world.registry, replica=replica)
    client = TestClient(app, raise_server_exceptions=False)
    caught_up(pg_pair, world.engine)
    assert client.get("/health").json()["replica"]["records_behind"] == 0
    replay(pg_pair, paused=True)
    try:
        world.submit(transfer("ent:a.h", "ent:b.h", 10), "ent:a")
        body = client.get("/health").json()
        assert body["replica"]["records_behind"] == 1
        assert body["replica"]["replica_records"] == body["journal_size"] - 1
        assert body["replica"]["replica_checkpoint"] > 0
    finally:
        replay(pg_pair, paused=False)
        replica.dispose()


def test_a_balance_read_from_the_replica_carries_the_head_it_reflects_and_its_replay_lag(
    pg_pair: PgPair, world: World
) -> None:
    replica = make_engine(pg_pair.standby.url)
    app = create_app(world.engine, world.registry, replica=replica)
    client = TestClient(app, raise_server_exceptions=False)
    with Session(world.engine) as s:
        spec = DEMO_SPECS["auditor"]  # an auditor may read every account
        auditor = register_participant(s, registry=world.registry, spec=spec, public_key=demo_key("a").public)
        token = issue_credential(s, party=auditor.party).token
        s.commit()
    account = "ent:a.h"
    caught_up(pg_pair, world.engine)
    try:
        answer = client.get(f"/v1/accounts/{account}/balances", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        head = int(answer.headers["X-Ecoledger-Replica-Head"])
        with Session(world.engine) as s:
            assert head == head_size(s)
        assert int(answer.headers["X-Ecoledger-Replica-Checkpoint"]) <= head
        assert answer.headers["X-Ecoledger-Replica-Lag"] == "0.000"  # caught up: nothing left to apply
        replay(pg_pair, paused=True)
        world.submit(transfer("ent:a.h", "ent:b.h", 10), "ent:a")
        time.sleep(0.3)
        behind = client.get(f"/v1/accounts/{account}/balances", headers={"Authorization": f"Bearer {token}"})
        assert int(behind.headers["X-Ecoledger-Replica-Head"]) == head  # the new record not yet applied
        assert behind.json() == answer.json()
        assert float(behind.headers["X-Ecoledger-Replica-Lag"]) > 0
    finally:
        replay(pg_pair, paused=False)
        replica.dispose()
