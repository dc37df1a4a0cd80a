"""Engines for SQLite (embedded default) and PostgreSQL, chosen by URL, and the schema.

Concurrency design: one writer at a time. SQLite takes its write lock at BEGIN IMMEDIATE;
PostgreSQL writers lock the single ``journal_head`` row (SELECT ... FOR UPDATE) before
reading any balance. Either way a transaction sees the state its record is applied to,
sequence numbers are gapless and the chain cannot fork; batching gives group commit.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from ledger import tables as _tables  # noqa: F401  (registers the tables on the metadata)

__all__ = [
    "APPEND_ONLY_TABLES",
    "DEFAULT_URL",
    "append_only_statements",
    "chain_guard_statements",
    "create_schema",
    "drop_schema",
    "make_engine",
    "read_again",
    "read_only",
    "statement_reader",
]

DEFAULT_URL = "sqlite:///ecoledger.db"
READ_ONLY = "ecoledger_read_only"
T = TypeVar("T")


POOL_SIZE = 16  # connections kept open per process; a server admits fewer requests than this at once


# How each engine ``make_engine`` made was made, for its statement reader's own pool.
_MADE_WITH: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()
_STATEMENT_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
STATEMENT_READERS = 4  # connections kept by a PostgreSQL statement reader's own pool
READER_TIMEOUT_S = 3  # a statement reader's bound on connecting and on each statement


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: ``$ECOLEDGER_DATABASE_URL`` or ./ecoledger.db)."""
    url = url or os.environ.get("ECOLEDGER_DATABASE_URL", DEFAULT_URL)
    made = _make_engine(url, **kwargs)
    _MADE_WITH[made] = kwargs
    return made


def _make_engine(url: str, **kwargs: Any) -> Engine:
    if ":memory:" not in url and url != "sqlite://":
        # beyond the kept connections, each one is opened and closed per use (PRAGMAs, TLS...)
        kwargs = {"pool_size": POOL_SIZE, "max_overflow": 8, **kwargs}
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, **{"pool_pre_ping": True, **kwargs})


def statement_reader(engine: Engine) -> Engine:
    """An engine for short reads that need no snapshot across their statements (a balance, a
    credential): on PostgreSQL each statement commits on its own, sparing the BEGIN and ROLLBACK
    round trips; on SQLite, ``read_only``.

    On PostgreSQL, for an engine ``make_engine`` made, the reader has its own small pool that does
    not ping a connection before each use (a round trip as long as the read): a read that meets a
    connection the server dropped fails with ``connection_invalidated`` set, every older connection
    of the pool is discarded, and the caller may simply read again (``read_again``)."""
    if engine.dialect.name != "postgresql":
        return read_only(engine)
    made = _MADE_WITH.get(engine)
    if made is None:
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    reader = _STATEMENT_READERS.get(engine)
    if reader is None:
        options = {k: v for k, v in made.items() if k not in ("pool_size", "max_overflow", "pool_pre_ping")}
        # A server that does not answer must not hold a caller (an event loop) for long.
        if "connect_timeout" not in engine.url.query:
            options["connect_args"] = {"connect_timeout": READER_TIMEOUT_S, **options.get("connect_args", {})}
        reader = create_engine(
            engine.url,
            **{"isolation_level": "AUTOCOMMIT", **options},
            pool_size=STATEMENT_READERS,
            max_overflow=POOL_SIZE,
            pool_pre_ping=False,
        )
        event.listen(reader, "connect", _bound_statements)
        event.listen(engine, "engine_disposed", lambda _: reader.dispose())
        _STATEMENT_READERS[engine] = reader
    return reader


def _bound_statements(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {READER_TIMEOUT_S * 1000}")


def read_again(work: Callable[[], T]) -> T:
    """``work()``, a read through a ``statement_reader``, once more if it met a dropped connection."""
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return work()


def snapshot_reader(engine: Engine) -> Engine:
    """The same engine for reads whose statements must see one snapshot (a replica's answer and the
    journal head it reflects): REPEATABLE READ on PostgreSQL (a hot standby allows it), else ``read_only``."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return read_only(engine)


def read_only(engine: Engine) -> Engine:
    """The same engine for read-only sessions: on SQLite they skip the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


class _WriterQueue:
    """First come, first served for one process's SQLite writers.

    SQLite's busy handler polls (sleeps up to 100 ms between tries) while a committing writer's
    successor takes the lock within microseconds, so under 50 writers one request could wait out the
    whole busy timeout. Tickets served in order bound each wait by the queue ahead of it. A waiter
    that gives up leaves its ticket abandoned, and the queue skips it.
    """

    def __init__(self, timeout_s: float, lock_file: str | None = None) -> None:
        self.timeout_s = timeout_s
        self._cv = threading.Condition()
        self._next = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._between = _ProcessLock(lock_file) if lock_file else None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        with self._cv:
            ticket, self._next = self._next, self._next + 1
            while ticket != self._serving:
                left = deadline - time.monotonic()
                if left <= 0 or not self._cv.wait(left):
                    if ticket == self._serving:
                        break
                    self._abandoned.add(ticket)
                    raise sqlite3.OperationalError("database is locked (waited for the writer queue)")
        if self._between is not None:
            try:
                self._between.acquire(deadline)
            except BaseException:
                self._advance()
                raise

    def release(self) -> None:
        if self._between is not None:
            self._between.release()
        self._advance()

    def _advance(self) -> None:
        with self._cv:
            self._serving += 1
            while self._serving in self._abandoned:
                self._abandoned.discard(self._serving)
                self._serving += 1
            self._cv.notify_all()


class _ProcessLock:
    """The writer's turn among processes on one SQLite file (``serve --workers``): an exclusive
    ``flock`` on a file beside the database, tried every 2 ms at most. Left to SQLite's busy handler,
    which sleeps up to 100 ms between tries, writers in two processes waited up to 3.8 s (p99) for a
    lock that changes hands every few milliseconds."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, deadline: float) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        pause = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked (by another process)") from None
                time.sleep(pause)
                pause = min(2 * pause, 0.002)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __del__(self) -> None:  # with its engine
        if self._fd is not None:
            os.close(self._fd)


BUSY_TIMEOUT_MS = 30_000
SIDE_FILES = ("", "-wal", "-shm", "-journal", "-writer.lock")  # the database and what SQLite puts beside it


def _private_files(database: str) -> None:
    """The database and its side files are its owner's alone (0600): they hold the journal, hashed
    API keys and the custody table. A new database is created so before SQLite opens it (SQLite gives
    -wal and -shm the database's mode), and files already there are narrowed with chmod.

    Never open and close an existing database file here: closing any descriptor of a file drops
    every POSIX lock this process holds on it, SQLite's included ("disk I/O error" under load)."""
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # a directory that does not exist: SQLite's own error says so better
    for suffix in SIDE_FILES:
        path = database + suffix
        try:
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)
        except OSError:
            continue  # not there (yet), or not ours to change


def _releasing(end: Callable[[Any], None], release: Callable[[Any], None]) -> Callable[[Any], None]:
    def ended(connection: Any) -> None:  # the pool's proxy, or the DBAPI connection itself
        try:
            end(connection)
        finally:
            release(getattr(connection, "dbapi_connection", connection))

    return ended


def _configure_sqlite(engine: Engine) -> None:
    # synchronous=FULL: a commit is on disk before it is acknowledged (no write lost on power
    # loss); BEGIN IMMEDIATE: the write lock is taken before the first read, so a balance
    # checked is the balance written (without it, threads lost updates here).
    database = engine.url.database or ""
    on_disk = database not in ("", ":memory:") and not database.startswith("file:")
    if on_disk:
        _private_files(database)
    queue = _WriterQueue(BUSY_TIMEOUT_MS / 1000, f"{database}-writer.lock" if on_disk else None)
    holders: set[int] = set()  # DBAPI connections whose transaction holds a ticket
    holders_lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        pragmas = (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
        )
        for pragma in pragmas:
            dbapi_conn.execute(f"PRAGMA {pragma}")
        if on_disk:
            _private_files(database)  # the -wal and -shm files appear with the first connection

    def _release(dbapi_conn: Any) -> None:
        with holders_lock:
            held = id(dbapi_conn) in holders
            holders.discard(id(dbapi_conn))
        if held:
            queue.release()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        dbapi_conn = conn.connection.dbapi_connection
        queue.acquire()
        with holders_lock:
            holders.add(id(dbapi_conn))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(dbapi_conn)
            raise

    # The turn passes on once SQLite's COMMIT or ROLLBACK returned, not when SQLAlchemy announces
    # it (its ``commit`` event comes first). Passed on earlier, the next writer met SQLite's own lock
    # still held and its busy handler slept 1, 2, then 5 ms; and the COMMIT's automatic checkpoint
    # ran while the next writer was already writing, so under ``serve --workers 2`` the WAL never
    # started over (140 MB in 10 s, every commit growing the file).
    for name in ("do_commit", "do_rollback"):
        setattr(engine.dialect, name, _releasing(getattr(engine.dialect, name), _release))
    # A connection returned or invalidated mid-transaction must not keep its ticket.
    event.listen(engine.pool, "reset", lambda dbapi_conn, *_: _release(dbapi_conn))
    event.listen(engine.pool, "invalidate", lambda dbapi_conn, *_: _release(dbapi_conn))


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


def chain_guard_statements(dialect: str) -> list[str]:
    """The DDL that makes the journal refuse a record whose ``prev`` is not the hash of the record
    just before it (record 0's: 32 zero bytes) on ``dialect``; idempotent, and frozen into the
    migration that added it (revision 0021) by value, not by calling this.

    Why a trigger: it is the live form of replay's chain rule, and stronger than the unique ``prev``
    and ``hash`` it replaced (which refused only a second record on one ``prev``); those two indexes
    of random 32-byte keys dirtied a page of their own a record: half the CPU of a SQLite COMMIT."""
    if dialect == "sqlite":
        return [
            """CREATE TRIGGER IF NOT EXISTS journal_chain BEFORE INSERT ON journal
        WHEN NEW.prev IS NOT (CASE WHEN NEW.seq = 0 THEN zeroblob(32)
                              ELSE (SELECT hash FROM journal WHERE seq = NEW.seq - 1) END)
        BEGIN SELECT RAISE(ABORT, 'journal: prev is not the hash of the record before it'); END"""
        ]
    return [
        """CREATE OR REPLACE FUNCTION ecoledger_journal_chain() RETURNS trigger AS $$
       DECLARE
         broken bigint;
       BEGIN
         -- the journal the statement wrote to, named by the trigger: no search_path or temporary
         -- table can stand in for it; one query a statement, whatever its number of rows
         EXECUTE format('SELECT min(n.seq) FROM inserted n LEFT JOIN %I.%I p ON p.seq = n.seq - 1'
                        ' WHERE n.prev IS DISTINCT FROM'
                        ' (CASE WHEN n.seq = 0 THEN decode(repeat(''00'', 32), ''hex'') ELSE p.hash END)',
                        TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO broken;
         IF broken IS NOT NULL THEN
           RAISE EXCEPTION 'journal: record %''s prev is not the hash of the record before it', broken
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE TRIGGER journal_chain AFTER INSERT ON journal REFERENCING NEW TABLE AS inserted
       FOR EACH STATEMENT EXECUTE FUNCTION ecoledger_journal_chain()""",
    ]


def create_schema(engine: Engine) -> None:
    """Create the tables, the append-only triggers and the journal's chain guard (idempotent),
    without migrations: for tests and throwaway databases. Real databases are created by
    ``ecoledger db upgrade``."""
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        dialect = engine.dialect.name
        for statement in [*append_only_statements(dialect), *chain_guard_statements(dialect)]:
            conn.execute(text(statement))


def drop_schema(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
