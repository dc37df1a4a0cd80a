"""Fixtures shared by every test: database engines for SQLite and PostgreSQL, a registry.

PostgreSQL is the server on 127.0.0.1:5432 (``ECOLEDGER_TEST_PG_URL`` overrides it). Each
xdist worker gets its own schema, emptied before every test; without a server the
PostgreSQL cases skip with a one-line reason.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

import accounts.tables  # noqa: F401  (registers the participant tables before create_schema)
import market  # noqa: F401  (registers the workflow tables before create_schema)
from ledger.crypto import SigningKey
from ledger.db import APPEND_ONLY_TABLES, append_only_statements, create_schema, make_engine
from ledger.service import Registry
from tests.support import World

pytest_plugins = ("pytester",)  # tests/unit/test_suite_timeout.py runs a small suite of its own

SLOW_TEST_TIMEOUT_S = 600  # crash, concurrency, serving and browser tests; the rest have pyproject's 120 s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked slow or browser gets the longer timeout, unless it names its own."""
    for item in items:
        slow = item.get_closest_marker("slow") or item.get_closest_marker("browser")
        if slow is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT_S))


PG_URL = os.environ.get("ECOLEDGER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@cache
def _pg_unreachable() -> str | None:
    try:
        probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL.split('@')[-1]}: {type(exc).__name__}"
    return None


def _pg_schema() -> str:
    # Per process, so concurrent runs on one server never drop each other's tables.
    return f"ecoledger_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


@cache
def _pg_engine() -> Engine:
    schema = _pg_schema()
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    create_schema(engine)
    atexit.register(_drop_pg_schema, engine, schema)
    return engine


def _drop_pg_schema(engine: Engine, schema: str) -> None:
    engine.dispose()
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    """Empty every table and restart the sequences. A DELETE of a few rows per table costs about a
    tenth of a TRUNCATE of every table (which makes each table's files anew): 8 against 125 ms a
    test here. The append-only triggers refuse DELETE, so they are off for this one transaction
    (``session_replication_role``, a superuser's setting); without that right, TRUNCATE as before."""
    from sqlmodel import SQLModel

    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("; ".join(f"DELETE FROM {name}" for name in reversed(tables))))
            for sequence in conn.execute(_SEQUENCES).scalars().all():
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    except DBAPIError:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    with engine.begin() as conn:  # a tampering test switched the append-only guard off: back on
        if conn.execute(_GUARDS_ON).scalar_one() != len(APPEND_ONLY_TABLES):
            for statement in append_only_statements("postgresql"):
                conn.execute(text(statement))
            for table in APPEND_ONLY_TABLES:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))


_SEQUENCES = text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
_GUARDS_ON = text(
    "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE '%append_only'"
    " AND t.tgenabled <> 'D'"
)


@cache
def _sqlite_template() -> Path:
    """A SQLite file with the schema made once per process; each test starts from a copy of it
    (creating the schema took about 45 ms a test, the copy well under one)."""
    folder = Path(tempfile.mkdtemp(prefix="ecoledger-schema-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    with closing(sqlite3.connect(path)) as db:  # all in the one file: a copy needs no -wal beside it
        db.execute("PRAGMA journal_mode=DELETE")
    return path


def engine_for(kind: str, tmp_path: Path) -> Engine:
    if kind == "postgres":
        reason = _pg_unreachable()
        if reason:
            pytest.skip(reason)
        engine = _pg_engine()
        _truncate(engine)
        return engine
    path = tmp_path / "ledger.db"
    if path.exists():  # a database the test made: the schema is added to it, as before
        engine = make_engine(f"sqlite:///{path}")
        create_schema(engine)
        return engine
    shutil.copyfile(_sqlite_template(), path)
    return make_engine(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same test on both engines."""
    eng = engine_for(request.param, tmp_path)
    yield eng
    if request.param == "sqlite":
        eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = engine_for("sqlite", tmp_path)
    yield eng
    eng.dispose()


@pytest.fixture
def registry() -> Registry:
    return Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5)


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    """An initialised ledger with a bureau, two enterprises and a bank, on both engines."""
    return World.create(engine, registry)
