"""Fixtures shared by every test: database engines for SQLite and PostgreSQL, a registry.

PostgreSQL is the server on 127.0.0.1:5432 (``ECOLEDGER_TEST_PG_URL`` overrides it). Each
xdist worker gets its own schema, emptied before every test; without a server the
PostgreSQL cases skip with a one-line reason.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

import accounts.tables  # noqa: F401  (registers the participant tables before create_schema)
import market  # noqa: F401  (registers the workflow tables before create_schema)
from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
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
    from sqlmodel import SQLModel

    names = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def engine_for(kind: str, tmp_path: Path) -> Engine:
    if kind == "postgres":
        reason = _pg_unreachable()
        if reason:
            pytest.skip(reason)
        engine = _pg_engine()
        _truncate(engine)
        return engine
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    return engine


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
