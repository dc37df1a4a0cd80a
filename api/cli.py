"""The ``ecoledger`` command: init, demo, serve, verify and key generation.

Configuration comes from the environment (ECOLEDGER_DATABASE_URL, ECOLEDGER_REGISTRY_KEY)
or flags; each command opens its own session and commits what it wrote.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the participant tables before create_schema)
import market  # noqa: F401  (registers the workflow tables before create_schema)
from ledger.crypto import SigningKey, b64e
from ledger.db import create_schema, make_engine
from ledger.service import Registry, head_size, init_ledger, make_checkpoint, replay_database

DEFAULT_KEY = "var/registry-key.pem"


def load_or_create_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.to_pem())
    path.chmod(0o600)
    return key


def open_registry(url: str | None, key_path: str | None) -> tuple[Engine, Registry]:
    engine = make_engine(url)
    create_schema(engine)
    key = load_or_create_key(Path(key_path or os.environ.get("ECOLEDGER_REGISTRY_KEY", DEFAULT_KEY)))
    return engine, Registry(key)


def cmd_init(args: argparse.Namespace) -> int:
    engine, registry = open_registry(args.db, args.key)
    with Session(engine) as s:
        receipt = init_ledger(s, registry=registry, name=args.name)
        s.commit()
    print(f"journal created: genesis {receipt.hash[:16]}..., registry key {registry.key.key_id}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    engine = make_engine(args.db)
    with Session(engine) as s:
        report, diff = replay_database(s)
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
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    Path(args.out).write_bytes(key.to_pem())
    Path(args.out).chmod(0o600)
    print(f"key_id {key.key_id}\npublic_key {b64e(key.public)}")
    return 0


def serve(engine: Engine, registry: Registry, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(engine, registry), host=host, port=port, log_level="info")


def cmd_serve(args: argparse.Namespace) -> int:
    engine, registry = open_registry(args.db, args.key)
    serve(engine, registry, args.host, args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from api import demo

    db = Path(args.dir) / "demo.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    engine, registry = open_registry(f"sqlite:///{db}", str(Path(args.dir) / "registry-key.pem"))
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger demo registry (Zhejiang)")
        s.commit()
    loaded = demo.load(engine, registry)
    with Session(engine) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    with Session(engine) as s:
        report, diff = replay_database(s)
        size = head_size(s)
    status = "verified" if report.ok and not diff else f"NOT verified: {report.failure}"
    print("=" * 72)
    print(" ecoledger demo — Zhejiang discharge-rights registry (SQLite, embedded)")
    print(f" database      {db}")
    print(f" journal       {size} signed records, replay {status}")
    print(f" participants  {loaded['participants']} (Yuyao bureau, two enterprises, a bank)")
    print(f" API           http://{args.host}:{args.port}/docs")
    print(" console       arrives with the API issue; logins will be listed here")
    print("=" * 72, flush=True)
    if not args.no_serve:
        serve(engine, registry, args.host, args.port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecoledger", description=__doc__)
    parser.add_argument("--db", help="database URL (default $ECOLEDGER_DATABASE_URL or sqlite)")
    parser.add_argument("--key", help="registry key PEM (default $ECOLEDGER_REGISTRY_KEY)")
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
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
