"""Schema migrations on SQLite and PostgreSQL: head equals the models (the drift guard), the
append-only triggers, journals that still verify across an upgrade, forward only, and the CLI."""

from __future__ import annotations

import importlib
import itertools
import multiprocessing
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from api.cli import main
from api.migrations import (
    BASELINE,
    MigrationError,
    alembic_config,
    current,
    draft_revision,
    head,
    schema_differences,
    upgrade,
)
from api.restore import check_kept_checkpoint
from ledger.db import create_schema, make_engine
from ledger.model import Posting, TxBody
from ledger.service import (
    Instruction,
    Registry,
    init_ledger,
    make_checkpoint,
    new_nonce,
    replay_database,
    submit,
)
from market.trades.service import trade
from tests.conftest import PG_URL, _pg_unreachable
from tests.integration.test_market_auctions_world import BUREAU, LOT, VALID_UNTIL, World

PACKAGES = ("ledger", "accounts", "market", "methodologies", "api")


def _import_every_module() -> None:
    """Import every module of the packages, so SQLModel.metadata holds every table defined
    anywhere, even in a module nothing imports yet. At collection time, before any fixture
    creates a schema from the metadata."""
    for package in PACKAGES:
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if not info.name.startswith("api.migrations"):
                importlib.import_module(info.name)


_import_every_module()
_schemas = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'blank.db'}")
        yield engine
        engine.dispose()
        return
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"ecoledger_mig_{worker}_{os.getpid()}_{next(_schemas)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    # The schema in the URL, not in connect_args, so that a subprocess can be given the URL.
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))


def _market_world(engine: Engine, registry: Registry) -> World:
    """Participants (accounts service), rights and cash, and a trade (market service)."""
    w = World.create(engine, registry)
    w.reserve(10_000)
    allocate = TxBody(
        "allocation.initial",
        new_nonce(),
        (
            Posting(f"{BUREAU}.reserve", "COD", LOT, -5_000),
            Posting(f"{w.party('yuyao_chem')}.holding", "COD", LOT, 5_000),
        ),
    )
    with Session(engine) as s:
        submit(s, Instruction.signed(allocate, (BUREAU, w.people["yuyao"].key)), registry=registry)
        s.commit()
    w.fund("yuyao_dye", 10_000_000)
    w.run(
        trade,
        actor=w.p("yuyao_chem"),
        seller=w.party("yuyao_chem"),
        buyer=w.party("yuyao_dye"),
        instrument="COD",
        valid_until=VALID_UNTIL,
        quantity_kg=2_000,
        price_fen_per_t=1_700_000,
    )
    return w


# -- (a) the drift guard --------------------------------------------------------------------------


def test_upgrading_an_empty_database_to_head_creates_exactly_the_models_schema(blank: Engine) -> None:
    """Fails when a table or column is added to the models without a migration: write one."""
    assert current(blank) is None
    assert upgrade(blank) == head()
    assert current(blank) == head()
    assert _differences(blank) == []


def test_the_migration_environment_sees_every_table_the_packages_define() -> None:
    """api.migrations imports the table modules itself (for autogenerate and adoption): a new
    module of tables must be added there. In a fresh interpreter, so nothing else registers any."""
    listed = subprocess.run(
        [sys.executable, "-c", "import api.migrations as m; print(*sorted(m.target_metadata().tables))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert listed == sorted(SQLModel.metadata.tables)


def test_head_has_every_table_of_the_models_and_no_other(blank: Engine) -> None:
    upgrade(blank)
    migrated = set(inspect(blank).get_table_names()) - {"alembic_version"}
    assert migrated == {t.name for t in SQLModel.metadata.sorted_tables}


# -- (b) append-only --------------------------------------------------------------------------------


def test_after_upgrade_journal_postings_and_checkpoints_refuse_update_and_delete(
    blank: Engine, registry: Registry
) -> None:
    upgrade(blank)
    _market_world(blank, registry)
    with Session(blank) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    for statement in (
        "UPDATE journal SET time = 'rewritten' WHERE seq = 0",
        "DELETE FROM journal WHERE seq = 1",
        "UPDATE posting SET amount = amount + 1",
        "DELETE FROM posting",
        "UPDATE checkpoint SET time = 'rewritten'",
        "DELETE FROM checkpoint",
    ):
        with pytest.raises(DBAPIError, match="append-only"), blank.begin() as conn:
            conn.execute(text(statement))


# -- (c) an upgrade keeps the journal verifiable ---------------------------------------------------


def test_a_journal_written_at_the_baseline_still_verifies_after_upgrading_to_head(
    blank: Engine, registry: Registry
) -> None:
    assert upgrade(blank, BASELINE) == BASELINE
    w = _market_world(blank, registry)
    with Session(blank) as s:
        kept = make_checkpoint(s, registry=registry)
        s.commit()
    before = w.snapshot()

    assert upgrade(blank) == head()

    assert w.snapshot() == before
    with Session(blank) as s:
        report, diff = replay_database(s)
        assert report.ok, report.failure
        assert diff == {}
        assert report.records == before[0]
        assert check_kept_checkpoint(s, kept, registry_key=registry.key.public).ok
    w.fund("yuyao_chem", 1_000)  # and the registry writes on in the new schema
    with Session(blank) as s:
        report, diff = replay_database(s)
    assert report.ok
    assert diff == {}
    assert report.records == before[0] + 1
    # the journal copied by revision 0021 keeps its guards: a fork is refused, and so is a rewrite
    with blank.connect() as conn:
        last = dict(conn.execute(sa.text("SELECT * FROM journal ORDER BY seq DESC LIMIT 1")).one()._mapping)
    fork = {**last, "seq": last["seq"] + 1, "hash": bytes(32), "body_digest": bytes(32)}
    with pytest.raises(DBAPIError, match="prev"), blank.begin() as conn:
        conn.execute(
            sa.text(f"INSERT INTO journal ({', '.join(fork)}) VALUES ({', '.join(':' + k for k in fork)})"),
            fork,
        )
    with pytest.raises(DBAPIError, match="append-only"), blank.begin() as conn:
        conn.execute(text("DELETE FROM journal WHERE seq = 1"))


# -- (d) forward only ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["base", "-1", BASELINE])
def test_downgrading_is_refused_and_changes_nothing(blank: Engine, target: str) -> None:
    upgrade(blank)
    tables = set(inspect(blank).get_table_names())
    with pytest.raises(MigrationError, match="forward only"), blank.begin() as conn:
        command.downgrade(alembic_config(conn), target)
    assert current(blank) == head()
    assert set(inspect(blank).get_table_names()) == tables


def _upgrade_in_child(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def test_registry_processes_starting_together_both_find_the_schema_at_head(blank: Engine) -> None:
    # Processes, not threads: Alembic's `op` and `context` are module-wide. Forked, so that they
    # start at once without importing everything again.
    url = blank.url.render_as_string(hide_password=False)
    fork = multiprocessing.get_context("fork")
    runs = [fork.Process(target=_upgrade_in_child, args=(url,)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert [run.exitcode for run in runs] == [0, 0]
    assert current(blank) == head()
    assert _differences(blank) == []


def test_upgrading_a_database_at_head_again_changes_nothing(blank: Engine, registry: Registry) -> None:
    upgrade(blank)
    with Session(blank) as s:
        init_ledger(s, registry=registry, name="twice")
        s.commit()
    assert upgrade(blank) == head()
    assert _differences(blank) == []


# -- databases created before migrations -----------------------------------------------------------


def test_a_database_created_by_create_schema_is_adopted_at_head(blank: Engine, registry: Registry) -> None:
    create_schema(blank)
    w = _market_world(blank, registry)
    before = w.snapshot()
    assert upgrade(blank) == head()
    assert w.snapshot() == before
    assert _differences(blank) == []


def test_a_database_of_the_baseline_schema_without_a_stamp_is_adopted_and_upgraded(
    blank: Engine, registry: Registry
) -> None:
    upgrade(blank, BASELINE)
    with blank.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # as create_schema left it before migrations
    w = _market_world(blank, registry)
    before = w.snapshot()
    assert upgrade(blank) == head()
    assert w.snapshot() == before
    assert _differences(blank) == []
    with Session(blank) as s:
        assert replay_database(s)[0].ok


def test_a_database_with_another_schema_is_refused_and_left_as_it_was(blank: Engine) -> None:
    upgrade(blank, BASELINE)
    with blank.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("ALTER TABLE party ADD COLUMN nickname VARCHAR"))
    tables = set(inspect(blank).get_table_names())
    with pytest.raises(MigrationError, match="nickname"):
        upgrade(blank)
    assert current(blank) is None
    assert set(inspect(blank).get_table_names()) == tables  # 0002's tables were rolled back


# -- (e) the command line --------------------------------------------------------------------------


def test_db_upgrade_then_db_current_prints_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "current", "--url", url]) == 1
    assert "no revision" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url, "--revision", BASELINE]) == 0
    assert capsys.readouterr().out.strip() == f"database at revision {BASELINE}"
    assert main(["db", "current", "--url", url]) == 1
    assert "behind head" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == f"database at revision {head()} (head)"
    assert main(["--db", url, "db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"{head()} (head)"


def test_init_creates_a_migration_managed_database(tmp_path: Path) -> None:
    """`demo`, `serve` and `prove` open the registry through the same `open_registry`."""
    url = f"sqlite:///{tmp_path / 'init.db'}"
    assert main(["--db", url, "--key", str(tmp_path / "k.pem"), "init"]) == 0
    engine = make_engine(url)
    try:
        assert current(engine) == head()
        with engine.connect() as conn:
            assert schema_differences(conn) == []
    finally:
        engine.dispose()
    assert main(["--db", url, "--key", str(tmp_path / "k.pem"), "verify"]) == 0


# -- drafting the next revision ---------------------------------------------------------------------


def test_a_drafted_revision_imports_sqlmodel_and_follows_head(tmp_path: Path) -> None:
    probe = sa.Table(
        "zz_migration_probe",
        SQLModel.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", AutoString, nullable=False, index=True),
    )
    try:
        path = draft_revision("probe table", directory=tmp_path)
    finally:
        SQLModel.metadata.remove(probe)
    source = path.read_text()
    assert path.name == f"v{int(head()) + 1:04d}_probe_table.py"
    assert f"down_revision: str | None = '{head()}'" in source
    assert "import sqlmodel" in source
    assert "sqlmodel.sql.sqltypes.AutoString()" in source
    assert "batch_alter_table('zz_migration_probe'" in source  # render_as_batch for SQLite
    assert "forward_only(revision)" in source
    compile(source, str(path), "exec")
