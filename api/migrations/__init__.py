"""Schema migrations (Alembic) for every ecoledger table, configured in code: no alembic.ini.
Real databases are created and upgraded only through here, so each one carries its revision.

Migrations go forward only. A ledger's journal is append-only and its records are signed, so
there is no schema "down" that keeps it: to go back, restore a backup (docs/operations.md).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

import accounts.tables  # noqa: F401  (registers the participant and custody tables)
import ledger.tables  # noqa: F401  (registers the journal, balances and key tables)
import market  # noqa: F401  (registers the workflow tables)
from ledger.db import append_only_statements, chain_guard_statements, make_engine, read_only

__all__ = [
    "BASELINE",
    "MIGRATIONS",
    "MigrationError",
    "alembic_config",
    "current",
    "draft_revision",
    "forward_only",
    "head",
    "schema_differences",
    "target_metadata",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent
# The schema `create_schema` built before migrations existed: an unstamped database with a
# journal is adopted at this revision (or at head, if it already equals head).
BASELINE = "0001"
_UPGRADE_LOCK = int.from_bytes(b"ecoledgr")  # the advisory lock key migrations hold on PostgreSQL


class MigrationError(Exception):
    """The database cannot be brought to the revision asked for; nothing was changed."""


def target_metadata() -> MetaData:
    """Every table of every package, as the code defines them now (what head must equal)."""
    return SQLModel.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing into this package; ``connection`` is the one env.py runs on."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # `v` first: revision files must be importable module names (mypy, import-linter).
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision in versions/."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if rev is None:
        raise MigrationError(f"no revisions in {MIGRATIONS / 'versions'}")
    return rev


def current(engine: Engine) -> str | None:
    """The revision the database is stamped with, or None (empty, or created without migrations)."""
    with read_only(engine).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(conn: Connection) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the code's tables (empty: equal)."""
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, target_metadata()))


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to ``revision`` in one transaction and return the revision it is at.

    A database created before migrations (tables, no stamp) is adopted: stamped at head if it
    equals the code's schema, otherwise at ``BASELINE`` and upgraded from there, and then it
    must equal the code's schema, or the whole upgrade is rolled back.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Registry instances starting together upgrade one after the other: the later ones
            # find the schema at head and do nothing. (SQLite's BEGIN IMMEDIATE already serializes.)
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
        adopted = _adopt_unmanaged(conn)
        try:
            command.upgrade(alembic_config(conn), revision)
        except SQLAlchemyError as exc:
            if not adopted:
                raise
            raise MigrationError(
                f"the database has ecoledger tables but no revision, and upgrading it from revision "
                f"{BASELINE} failed (it holds tables of a later revision?): {exc}"
            ) from exc
        at = MigrationContext.configure(conn).get_current_revision()
        if adopted and at == head():
            differences = schema_differences(conn)
            if differences:
                # Raising inside engine.begin() rolls the stamp and every created table back.
                shown = "; ".join(str(d) for d in differences[:5])
                raise MigrationError(
                    f"the database was not created by ecoledger (or by a version with another schema): "
                    f"after adopting it, it still differs from revision {at}: {shown}"
                )
        return at


def _adopt_unmanaged(conn: Connection) -> bool:
    if MigrationContext.configure(conn).get_current_revision() is not None:
        return False
    if "journal" not in inspect(conn).get_table_names():
        return False  # an empty database: the migrations create everything
    stamp = head() if not schema_differences(conn) else BASELINE
    command.stamp(alembic_config(conn), stamp)
    # A database built by create_schema has the triggers; make sure an adopted one does.
    for statement in [*append_only_statements(conn.dialect.name), *chain_guard_statements(conn.dialect.name)]:
        conn.execute(text(statement))
    return True


def forward_only(revision: str) -> NoReturn:
    """Every revision's downgrade: refused, because no schema down-step keeps a signed journal."""
    raise MigrationError(
        f"revision {revision} cannot be downgraded: ecoledger migrations go forward only "
        "(the journal is append-only); to go back, restore a backup taken before the upgrade "
        "(docs/operations.md)"
    )


def draft_revision(message: str, *, directory: Path | None = None) -> Path:
    """Autogenerate the next revision (``v0003_...``) from the difference between head and the
    code's tables, on a scratch SQLite database; review and edit the draft before committing it."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            upgrade(engine)
            cfg = alembic_config()
            if directory is not None:
                cfg.set_main_option("path_separator", "os")
                cfg.set_main_option(
                    "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(directory)])
                )
            rev_id = f"{int(head()) + 1:04d}"
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                script = command.revision(
                    cfg,
                    message=message,
                    autogenerate=True,
                    rev_id=rev_id,
                    version_path=str(directory) if directory is not None else None,
                )
        finally:
            engine.dispose()
    if script is None or isinstance(script, list):
        raise MigrationError("alembic wrote no single revision")
    return Path(script.path)
