"""Backups that keep the journal verifiable, as docs/operations.md tells an operator to take them:
SQLite's online backup of a live WAL database, and pg_dump / pg_restore; each restore is then
replayed (`ecoledger verify`) and checked against a checkpoint kept outside the database."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from api.cli import main
from api.keyfile import load_or_create_key
from api.migrations import head, upgrade
from ledger.checkpoint import Checkpoint
from ledger.crypto import b64e
from ledger.db import make_engine
from ledger.model import AccountKind
from ledger.service import Registry, init_ledger, make_checkpoint, replay_database
from tests.conftest import PG_URL, _pg_unreachable
from tests.support import World, grant_rights, transfer


def _initialised(url: str, key: Path, *, cli: bool = True) -> tuple[Engine, World]:
    """A registry created as an operator does (`ecoledger init`, or the same two steps in code),
    with parties and some trading."""
    registry = Registry(load_or_create_key(key))
    if cli:
        assert main(["--db", url, "--key", str(key), "init"]) == 0
    engine = make_engine(url)
    if not cli:
        upgrade(engine)
        with Session(engine) as s:
            init_ledger(s, registry=registry, name="ecoledger backup test")
            s.commit()
    w = World(engine, registry)
    yuyao = {"jurisdiction": "330281"}
    bureau = [("bureau:330281.cap.COD", AccountKind.ISSUANCE), ("bureau:330281.reserve", AccountKind.RESERVE)]
    w.add_party("bureau:330281", "bureau", bureau, yuyao)
    w.add_party("ent:a", "enterprise", [("ent:a.h", AccountKind.HOLDING)], yuyao)
    w.add_party("ent:b", "enterprise", [("ent:b.h", AccountKind.HOLDING)], yuyao)
    _grant(w, "ent:a.h", 5_000)
    w.submit(transfer("ent:a.h", "ent:b.h", 1_200), "ent:a")
    return engine, w


def _grant(w: World, account: str, amount: int) -> None:
    for body in grant_rights("bureau:330281", account, amount):
        w.submit(body, "bureau:330281")


def _keep_checkpoint(w: World, path: Path) -> Checkpoint:
    """Sign a checkpoint and keep it outside the database, as GET /checkpoints/latest gives it: its
    canonical bytes, one line."""
    with Session(w.engine) as s:
        cp = make_checkpoint(s, registry=w.registry)
        s.commit()
    path.write_bytes(cp.line() + b"\n")
    return cp


def _check(url: str, kept: Path, w: World) -> int:
    key = b64e(w.registry.key.public)  # base64url: it may start with "-", hence the `=` form
    return main(["--db", url, *_key(kept), "db", "check-checkpoint", str(kept), f"--registry-key={key}"])


def _key(beside: Path) -> list[str]:
    """The registry's key, which every command on an existing journal needs (tests keep it in the
    temporary directory, beside the kept checkpoints)."""
    return ["--key", str(beside.parent / "registry-key.pem")]


def test_an_online_backup_of_a_live_sqlite_database_restores_to_a_verifiable_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = tmp_path / "live" / "ecoledger.db"
    live.parent.mkdir()
    engine, w = _initialised(f"sqlite:///{live}", tmp_path / "registry-key.pem")
    kept = _keep_checkpoint(w, tmp_path / "kept.json")
    w.submit(transfer("ent:b.h", "ent:a.h", 200), "ent:b")  # the backup has one record more
    # Live: the registry's pooled connections are open and recent commits are still in the WAL,
    # which a copy of the database file alone would miss.
    assert Path(f"{live}-wal").stat().st_size > 0

    backup = tmp_path / "ecoledger-backup.db"
    with closing(sqlite3.connect(live)) as src, closing(sqlite3.connect(backup)) as dst:
        src.backup(dst)
    _grant(w, "ent:a.h", 700)  # the live registry writes on after the backup
    _keep_checkpoint(w, tmp_path / "kept-later.json")
    engine.dispose()

    restored = tmp_path / "restored" / "ecoledger.db"
    restored.parent.mkdir()
    shutil.copyfile(backup, restored)  # the backup file is not live: a plain copy of it is fine
    url = f"sqlite:///{restored}"
    capsys.readouterr()
    assert main(["--db", url, *_key(tmp_path / "kept.json"), "verify"]) == 0
    assert f"OK: {kept.tree_size + 1} records" in capsys.readouterr().out
    assert _check(url, tmp_path / "kept.json", w) == 0
    out = capsys.readouterr().out
    assert f"OK: the checkpoint at size {kept.tree_size} (signed" in out
    assert f"prefix of the restored journal of {kept.tree_size + 1} records" in out
    assert main(["--db", url, *_key(tmp_path / "kept.json"), "db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"{head()} (head)"
    # A checkpoint published after the backup was taken names the records the restore lacks.
    assert _check(url, tmp_path / "kept-later.json", w) == 1
    assert (
        f"records {kept.tree_size + 1}..{kept.tree_size + 2} are missing" in capsys.readouterr().out
    )  # a grant is 2


def test_a_kept_checkpoint_of_another_history_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, w = _initialised(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "registry-key.pem")
    other_engine, other = _initialised(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "registry-key.pem")
    _grant(other, "ent:a.h", 1)  # same registry key, same start, then a different record
    _grant(w, "ent:a.h", 2)
    _keep_checkpoint(other, tmp_path / "other.json")
    engine.dispose()
    other_engine.dispose()
    capsys.readouterr()
    assert _check(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "other.json", w) == 1
    assert "not an extension of the kept checkpoint" in capsys.readouterr().out


# -- PostgreSQL: pg_dump -Fc / pg_restore into a database of its own --------------------------------


@pytest.fixture
def pg_scratch() -> Iterator[tuple[str, str]]:
    """A source schema in the test database and an empty database to restore into; both dropped."""
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH")
    tag = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    schema, database = f"ecoledger_bak_{tag}", f"ecoledger_restore_{tag}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {database}"))
    yield schema, database
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def test_pg_dump_and_pg_restore_keep_the_journal_verifiable(
    pg_scratch: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema, database = pg_scratch
    base = make_url(PG_URL)
    source = base.update_query_dict({"options": f"-csearch_path={schema}"})
    target = source.set(database=database)
    # In code rather than through `ecoledger init` and `verify`, which leave their engine's
    # connections open: PostgreSQL would have them dropped with the databases, unclosed.
    engine, w = _initialised(
        source.render_as_string(hide_password=False), tmp_path / "registry-key.pem", cli=False
    )
    kept = _keep_checkpoint(w, tmp_path / "kept.json")

    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "ecoledger.dump"
    subprocess.run(["pg_dump", "-Fc", "-n", schema, "-f", str(dump), libpq], check=True, timeout=60)
    _grant(w, "ent:a.h", 700)  # the source writes on after the dump
    engine.dispose()
    restore_to = base.set(drivername="postgresql", database=database).render_as_string(hide_password=False)
    subprocess.run(
        ["pg_restore", "--exit-on-error", "--no-owner", "-d", restore_to, str(dump)], check=True, timeout=60
    )

    url = target.render_as_string(hide_password=False)
    restored = make_engine(url)
    try:
        with Session(restored) as s:
            report, diff = replay_database(s)  # what `ecoledger verify --db URL` runs
        assert report.ok, report.failure
        assert diff == {}
        assert report.records == kept.tree_size
        capsys.readouterr()
        assert _check(url, tmp_path / "kept.json", w) == 0
        assert f"checkpoint at size {kept.tree_size} (signed" in capsys.readouterr().out
        assert main(["--db", url, *_key(tmp_path / "kept.json"), "db", "current"]) == 0
        assert capsys.readouterr().out.strip() == f"{head()} (head)"
        with pytest.raises(DBAPIError, match="append-only"), restored.begin() as conn:
            conn.execute(text("DELETE FROM journal"))  # the triggers came back with the restore
    finally:
        restored.dispose()
