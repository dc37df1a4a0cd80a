"""The registry key is the one in record 0 (or, after a rotation, the registry key valid now): every
command on a journal, the app factory and every write refuse another key before writing anything,
and no key is ever created for an existing journal. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.app import create_app
from api.cli import main
from ledger.crypto import SigningKey
from ledger.errors import RegistryKeyMismatch
from ledger.model import REGISTRY, RegisterKey, RevokeKey
from ledger.registry_key import check_registry_key
from ledger.service import Instruction, Registry, make_checkpoint, new_nonce, submit
from ledger.timeutil import utc_now
from tests.conftest import PG_URL, _pg_schema
from tests.support import World, transfer

WRONG = SigningKey.from_seed(b"w" * 32)


def url_of(engine: Engine) -> str:
    """The URL a command line names for the test's database (PostgreSQL: the worker's schema)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={_pg_schema()}"})
    return url.render_as_string(hide_password=False)


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        journal = conn.execute(text("SELECT count(*) FROM journal")).scalar_one()
        checkpoints = conn.execute(text("SELECT count(*) FROM checkpoint")).scalar_one()
    return int(journal), int(checkpoints)


@pytest.fixture
def journal(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A journal with a kept checkpoint; the working directory is empty (var/registry-key.pem, the
    default key file, does not exist) and no key is configured in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECOLEDGER_REGISTRY_KEY", raising=False)
    world.issue("ent:a.h", 500)
    with Session(world.engine) as s:
        cp = make_checkpoint(s, registry=world.registry)
        s.commit()
    (tmp_path / "kept.jsonl").write_bytes(cp.line() + b"\n")
    (tmp_path / "right.pem").write_bytes(world.registry.key.to_pem())
    (tmp_path / "wrong.pem").write_bytes(WRONG.to_pem())
    yield world
    world.engine.dispose()


COMMANDS = {
    "init": ["init"],
    "verify": ["verify"],
    "export": ["export", "bundle-out"],
    "prove": ["prove", "1", "proof.json"],
    "serve": ["serve", "--port", "0"],
    "db upgrade": ["db", "upgrade"],
    "db current": ["db", "current"],
    "db check-checkpoint": ["db", "check-checkpoint", "kept.jsonl"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("key", ["wrong", "missing"])
def test_a_command_with_a_wrong_or_missing_registry_key_stops_before_writing(
    journal: World, tmp_path: Path, command: str, key: str
) -> None:
    before = counts(journal.engine)
    flags = ["--key", str(tmp_path / "wrong.pem")] if key == "wrong" else []
    with pytest.raises(SystemExit) as stopped:
        main(["--db", url_of(journal.engine), *flags, *COMMANDS[command]])
    message = str(stopped.value.code)
    assert message.startswith("FAILED: ")
    if key == "wrong":
        assert f"({WRONG.key_id}) is not this journal's" in message
    else:
        assert "no registry key at var/registry-key.pem" in message
    assert f"record 0 names key {journal.registry.key.key_id}" in message
    assert "nothing was written" in message
    assert counts(journal.engine) == before
    assert not (tmp_path / "var").exists()  # no key was created for the existing journal
    assert not (tmp_path / "bundle-out").exists()
    assert not (tmp_path / "proof.json").exists()


def test_the_right_key_opens_the_journal_for_every_reading_command(
    journal: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right = ["--db", url_of(journal.engine), "--key", str(tmp_path / "right.pem")]
    assert main([*right, "verify"]) == 0
    assert main([*right, "db", "check-checkpoint", "kept.jsonl"]) == 0
    assert main([*right, "export", "bundle-out"]) == 0
    assert "OK: " in capsys.readouterr().out
    assert (tmp_path / "bundle-out" / "journal.jsonl").is_file()


def test_init_on_an_empty_database_creates_the_key_and_then_only_that_key_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECOLEDGER_REGISTRY_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["--db", url, "init"]) == 0
    made = SigningKey.from_pem((tmp_path / "var" / "registry-key.pem").read_bytes())
    assert main(["--db", url, "verify"]) == 0  # the default file is now the journal's key
    (tmp_path / "wrong.pem").write_bytes(WRONG.to_pem())
    with pytest.raises(SystemExit, match=f"record 0 names key {made.key_id}"):
        main(["--db", url, "--key", str(tmp_path / "wrong.pem"), "init"])


def test_the_app_factory_refuses_a_key_that_is_not_the_journals(world: World) -> None:
    with pytest.raises(RegistryKeyMismatch) as refused:
        create_app(world.engine, Registry(WRONG))
    assert refused.value.details["genesis"] == world.registry.key.key_id
    create_app(world.engine, world.registry)


def test_a_write_or_checkpoint_sealed_with_another_key_is_refused_and_writes_nothing(world: World) -> None:
    before = counts(world.engine)
    impostor = Registry(WRONG)
    world.issue("ent:a.h", 100)
    with Session(world.engine) as s, pytest.raises(RegistryKeyMismatch):
        submit(
            s,
            Instruction.signed(transfer("ent:a.h", "ent:b.h", 1), ("ent:a", world.keys["ent:a"])),
            registry=impostor,
        )
    with Session(world.engine) as s, pytest.raises(RegistryKeyMismatch):
        make_checkpoint(s, registry=impostor)
    assert counts(world.engine) == (before[0] + 1, before[1])


def _rotate(world: World) -> Registry:
    """The registry rotates its key: the new key registered under the old seal, then the old
    key revoked under the new one (both are valid in between, so neither record is orphaned)."""
    new = SigningKey.from_seed(b"n" * 32)
    with Session(world.engine) as s:
        submit(
            s,
            Instruction(RegisterKey(REGISTRY, new.key_id, new.public, utc_now(), new_nonce())),
            registry=world.registry,
        )
        s.commit()
    rotated = Registry(new, checkpoint_every=world.registry.checkpoint_every)
    with Session(world.engine) as s:
        old = world.registry.key.key_id
        submit(s, Instruction(RevokeKey(REGISTRY, old, None, "rotated", new_nonce())), registry=rotated)
        s.commit()
    return rotated


def test_after_a_rotation_the_new_registry_key_is_accepted_and_the_old_one_refused(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = world.registry
    new = _rotate(world)
    with world.engine.connect() as conn:
        check_registry_key(conn, public_key=new.key.public, at=utc_now())
        with pytest.raises(RegistryKeyMismatch, match=f"registry keys valid now: {new.key.key_id}"):
            check_registry_key(conn, public_key=old.key.public, at=utc_now())
    before = counts(world.engine)
    with Session(world.engine) as s, pytest.raises(RegistryKeyMismatch):
        make_checkpoint(s, registry=old)
    create_app(world.engine, new)
    with pytest.raises(RegistryKeyMismatch):
        create_app(world.engine, old)
    (tmp_path / "old.pem").write_bytes(old.key.to_pem())
    (tmp_path / "new.pem").write_bytes(new.key.to_pem())
    url = url_of(world.engine)
    with pytest.raises(SystemExit, match="is not this journal's"):
        main(["--db", url, "--key", str(tmp_path / "old.pem"), "verify"])
    assert counts(world.engine) == before
    capsys.readouterr()
    assert main(["--db", url, "--key", str(tmp_path / "new.pem"), "verify"]) == 0
    assert "OK: " in capsys.readouterr().out
    world.registry = new  # and the registry writes on under the new key
    world.issue("ent:a.h", 1)
    with Session(world.engine) as s:
        make_checkpoint(s, registry=new)
        s.commit()
    assert main(["--db", url, "--key", str(tmp_path / "new.pem"), "verify"]) == 0
