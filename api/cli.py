"""The ``ecoledger`` command: init, demo, serve, verify, key generation, export, audit and db.

Configuration comes from the environment (ECOLEDGER_DATABASE_URL, ECOLEDGER_REGISTRY_KEY)
or flags; each command opens its own session and commits what it wrote.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the participant tables before create_schema)
import market  # noqa: F401  (registers the workflow tables before create_schema)
from accounts.custody import Vault
from api.cli_audit import add_audit_commands
from api.cli_common import open_registry
from api.cli_credentials import add_credential_commands
from api.cli_db import add_db_commands
from api.cli_federation import add_federation_commands
from api.keyfile import load_key, resolve_key_path, write_secret
from api.replay_checks import replay_checks
from api.replica import READ_URL_ENV, read_url, source_engine
from ledger.audit import SummaryLine
from ledger.crypto import SigningKey, b64e
from ledger.db import make_engine
from ledger.errors import DomainError
from ledger.service import (
    Registry,
    head_size,
    init_ledger,
    latest_checkpoint,
    make_checkpoint,
    replay_database,
)


def cmd_init(args: argparse.Namespace) -> int:
    engine, registry = open_registry(args.db, args.key, create=True)
    try:
        with Session(engine) as s:
            receipt = init_ledger(s, registry=registry, name=args.name)
            s.commit()
    except DomainError as exc:
        print(f"FAILED: {exc.message}")
        return 1
    finally:
        engine.dispose()  # a CLI command leaves no connection behind (PostgreSQL counts them)
    print(f"journal created: genesis {receipt.hash[:16]}..., registry key {registry.key.key_id}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    engine = source_engine(args)  # the replica (key checked, lag printed) under --read-db
    plugins = replay_checks()
    with Session(engine) as s:
        report, diff = replay_database(s, checks=plugins)
        kept = latest_checkpoint(s, at_least=0)
    engine.dispose()
    if not report.ok:
        print(f"FAILED at {report.failure}")
        return 1
    if diff:
        print(f"FAILED: {len(diff)} live balances differ from the replay, e.g. {next(iter(diff.items()))}")
        return 1
    print(
        f"OK: {report.records} records, {report.checkpoints_verified} checkpoints verified, "
        f"{len(report.state.positions)} positions equal to the replay"
    )
    for plugin in plugins:
        if isinstance(plugin, SummaryLine):
            name, line = plugin.summary_line()
            print(f"{name}: {line}")
    where = "the replica's journal" if read_url(args) else "the journal"
    checkpoint = "no checkpoint yet"
    if kept is not None:  # a replica moves on while it is replayed: name what the replay covered
        checkpoint = f"latest checkpoint {kept.tree_size}" + (
            " (written after the replayed head)" if kept.tree_size > report.records else ""
        )
    print(f"verified {where} up to head {report.records} (hash {report.head_hash.hex()}); {checkpoint}")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    write_secret(Path(args.out), key.to_pem())
    print(f"key_id {key.key_id}\npublic_key {b64e(key.public)}")
    return 0


def build_app(url: str | None, key_path: str | None, custody_secret: str | None) -> Any:
    """The API over an upgraded database: what each ``serve --workers`` process runs."""
    from api.app import create_app

    key = load_key(resolve_key_path(key_path))
    replica_url = os.environ.get(READ_URL_ENV)  # serve --read-db sets it for its workers
    replica = make_engine(replica_url) if replica_url else None
    # create_app checks the key again
    return create_app(make_engine(url), Registry(key), load_vault(custody_secret), replica=replica)


def load_vault(path: str | None) -> Vault | None:
    """The custody vault from ``--custody-secret FILE``, else $ECOLEDGER_CUSTODY_SECRET, else none
    (then the registry signs for no one: every participant signs its own instructions)."""
    if path is None:
        return Vault.from_env()
    try:
        return Vault.from_text(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--custody-secret: {exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    engine, _ = open_registry(args.db, args.key)  # key checked and schema upgraded once, here
    engine.dispose()
    load_vault(args.custody_secret)  # a bad secret stops here, not in every worker
    if read_url(args):
        os.environ[READ_URL_ENV] = read_url(args) or ""  # balance reads from the replica, in every worker
    return serve(
        partial(build_app, args.db, args.key, args.custody_secret),
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=not args.no_access_log,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from api import demo

    folder = Path(args.dir)
    db = folder / "demo.db"
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    # a new journal (the file was just removed): the folder's key is used, or made
    engine, registry = open_registry(f"sqlite:///{db}", str(folder / "registry-key.pem"), create=True)
    vault = Vault.generate()
    demo.write_private(folder / "custody-secret", vault.to_text() + "\n")
    facts = demo.load(engine, registry, vault)
    demo.write_private(folder / "logins.txt", demo.logins_text(facts.logins))
    with Session(engine) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    with Session(engine) as s:
        report, diff = replay_database(s, checks=replay_checks())
        size = head_size(s)
    status = "verified" if report.ok and not diff else f"NOT verified: {report.failure}"
    base = f"http://{args.host}:{args.port}"
    print("=" * 100)
    print(" ecoledger demo — Zhejiang discharge rights, VOCs quotas and blue carbon (SQLite, embedded)")
    print(f" database  {db}  (scenario loaded in {facts.seconds:.1f} s)")
    print(f" journal   {size} signed records, checkpoint at {size}, replay {status}")
    print(f" scenario  {facts.participants} participants with keys in custody and a login each")
    for line in facts.summary:
        print(f"   · {line}")
    print(f" console   {base}/console")
    print(f" public    {base}/public   (no login)")
    print(f" API docs  {base}/docs   (Authorization: Bearer <access key>)")
    print(f" logins    also in {folder / 'logins.txt'} (0600); custody secret in {folder / 'custody-secret'}")
    for line in demo.logins_text(facts.logins).splitlines():
        print(f"   {line}")
    print(
        f" again     ecoledger --db sqlite:///{db} --key {folder / 'registry-key.pem'} serve "
        f"--custody-secret {folder / 'custody-secret'}"
    )
    print("=" * 100, flush=True)
    if not args.no_serve:
        from api.app import create_app
        from api.server import serve

        return serve(lambda: create_app(engine, registry, vault), host=args.host, port=args.port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecoledger", description=__doc__)
    parser.add_argument("--db", help="database URL (default $ECOLEDGER_DATABASE_URL or sqlite)")
    parser.add_argument("--key", help="registry key PEM (default $ECOLEDGER_REGISTRY_KEY)")
    parser.add_argument(
        "--read-db",
        help="read-only replica URL for verify, export and balance reads ($ECOLEDGER_READ_DATABASE_URL)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create the schema and the genesis record")
    p.add_argument("--name", default="ecoledger registry")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("verify", help="replay the journal and compare with live balances")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("keygen", help="write a new Ed25519 key (PEM) and print its id")
    p.add_argument("out")
    p.set_defaults(func=cmd_keygen)
    for name, func in (("serve", cmd_serve), ("demo", cmd_demo)):
        p = sub.add_parser(name, help=f"{name} the registry over HTTP")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(func=func)
    sub.choices["demo"].add_argument("--dir", default="var/demo")
    sub.choices["demo"].add_argument("--no-serve", action="store_true", help="load, verify, exit")
    sub.choices["serve"].add_argument(
        "--custody-secret", help="file holding the custody secret (default $ECOLEDGER_CUSTODY_SECRET)"
    )
    sub.choices["serve"].add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (reads scale with them)"
    )
    sub.choices["serve"].add_argument("--no-access-log", action="store_true", help="no line per request")
    add_audit_commands(sub)
    add_db_commands(sub)
    add_credential_commands(sub)
    add_federation_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
