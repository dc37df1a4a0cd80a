"""Alembic's environment for ecoledger: runs the revisions in versions/ on the connection that
``api.migrations.upgrade`` passes in, or, from the alembic command line, on ``sqlalchemy.url``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from api.migrations import MigrationError, target_metadata
from ledger.db import make_engine


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        # SQLite alters most things only by copying the table: autogenerate must write batch ops.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    # Inside the caller's transaction this opens none: the whole upgrade commits or rolls back once.
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise MigrationError("offline (--sql) migrations are not supported: run them on a database")
    given = context.config.attributes.get("connection")
    if given is not None:
        run_on(given)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            run_on(conn)
    finally:
        engine.dispose()


main()
