"""Engines for SQLite (embedded default) and PostgreSQL, chosen by URL, and the schema.

Concurrency design: one writer at a time. SQLite takes its write lock at BEGIN IMMEDIATE;
PostgreSQL writers lock the single ``journal_head`` row (SELECT ... FOR UPDATE) before
reading any balance. Either way a transaction sees the state its record is applied to,
sequence numbers are gapless and the chain cannot fork; batching gives group commit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import SQLModel

from ledger import tables as _tables  # noqa: F401  (registers the tables on the metadata)

__all__ = [
    "APPEND_ONLY_TABLES",
    "DEFAULT_URL",
    "append_only_statements",
    "create_schema",
    "drop_schema",
    "make_engine",
    "read_only",
]

DEFAULT_URL = "sqlite:///ecoledger.db"
READ_ONLY = "ecoledger_read_only"


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: ``$ECOLEDGER_DATABASE_URL`` or ./ecoledger.db)."""
    url = url or os.environ.get("ECOLEDGER_DATABASE_URL", DEFAULT_URL)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def read_only(engine: Engine) -> Engine:
    """The same engine for read-only sessions: on SQLite they skip the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def _configure_sqlite(engine: Engine) -> None:
    # synchronous=FULL: a commit is on disk before it is acknowledged (no write lost on power
    # loss); BEGIN IMMEDIATE: the write lock is taken before the first read, so a balance
    # checked is the balance written (without it, threads lost updates here).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


APPEND_ONLY_TABLES = ("journal", "posting", "checkpoint")


def append_only_statements(dialect: str, tables: Sequence[str] = APPEND_ONLY_TABLES) -> list[str]:
    """The DDL that makes ``tables`` refuse UPDATE and DELETE on ``dialect`` (``sqlite`` or
    ``postgresql``); idempotent. The schema migrations run these same statements."""
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
            for table in tables
            for op in ("UPDATE", "DELETE")
        ]
    return [
        """CREATE OR REPLACE FUNCTION ecoledger_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql""",
        *[
            f"""CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION ecoledger_append_only()"""
            for table in tables
        ],
    ]


def create_schema(engine: Engine) -> None:
    """Create the tables and the append-only triggers (idempotent), without migrations: for
    tests and throwaway databases. Real databases are created by ``ecoledger db upgrade``."""
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in append_only_statements(engine.dialect.name):
            conn.execute(text(statement))


def drop_schema(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
