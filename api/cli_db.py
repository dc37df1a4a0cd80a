"""``ecoledger db``: schema migrations (upgrade, current, drafting a revision) and the check, after a
restore, that a checkpoint kept outside the database is a prefix of the journal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlmodel import Session

from api import migrations
from api.cli_common import REGISTRY_KEY_HELP, adopt_current_rules, registry_key_arg
from api.keyfile import checked_key, open_database
from ledger.db import read_only
from ledger.errors import DomainError
from ledger.service import Registry

__all__ = ["add_db_commands"]


def _db_url(args: argparse.Namespace) -> str | None:
    return str(args.url) if args.url else args.db


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    engine = open_database(_db_url(args), args.key)
    try:
        at = migrations.upgrade(engine, args.revision)
        key = checked_key(engine, args.key) if at == migrations.head() else None
        if key is not None:  # at head, a journal written under older rules adopts the current ones
            adopt_current_rules(engine, Registry(key))
    except migrations.MigrationError as exc:
        print(f"FAILED: {exc}")
        return 1
    finally:
        engine.dispose()
    print(f"database at revision {at}{' (head)' if at == migrations.head() else ''}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    engine = open_database(_db_url(args), args.key)
    try:
        at, head = migrations.current(engine), migrations.head()
    finally:
        engine.dispose()
    if at is None:
        print(f"no revision: the database is empty or was created without migrations (head is {head})")
        return 1
    print(f"{at} (head)" if at == head else f"{at} (behind head {head}: run `ecoledger db upgrade`)")
    return 0 if at == head else 1


def cmd_db_check_checkpoint(args: argparse.Namespace) -> int:
    from api.restore import check_kept_checkpoint, read_kept_checkpoints

    try:
        kept = read_kept_checkpoints(Path(args.file))
    except (OSError, ValueError, DomainError) as exc:
        raise SystemExit(f"{args.file}: {exc}") from None
    if not kept:
        raise SystemExit(f"{args.file}: no checkpoint in it")
    engine = open_database(_db_url(args), args.key)
    try:
        with Session(read_only(engine)) as s:
            result = check_kept_checkpoint(s, kept[-1], registry_key=registry_key_arg(args.registry_key))
    finally:
        engine.dispose()
    print(f"{'OK' if result.ok else 'FAILED'}: {result.message}")
    return 0 if result.ok else 1


def cmd_db_revision(args: argparse.Namespace) -> int:
    path = migrations.draft_revision(args.message)
    print(f"draft revision written to {path}: review it, write it out by hand, then commit it")
    return 0


def add_db_commands(sub: Any) -> None:
    db = sub.add_parser("db", help="schema migrations, and the checks after a restore")
    dsub = db.add_subparsers(dest="db_command", required=True)
    url_help = "database URL (default --db, $ECOLEDGER_DATABASE_URL or sqlite)"
    p = dsub.add_parser("upgrade", help="create or upgrade the schema (one transaction; forward only)")
    p.add_argument("--url", help=url_help)
    p.add_argument("--revision", default="head", help="target revision (default head)")
    p.set_defaults(func=cmd_db_upgrade)
    p = dsub.add_parser("current", help="print the database's revision (exit 1 unless at head)")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_db_current)
    p = dsub.add_parser(
        "check-checkpoint", help="is the latest checkpoint kept in FILE a prefix of this journal?"
    )
    p.add_argument("file", help="kept checkpoints: canonical lines as GET /v1/checkpoints/latest serves them")
    p.add_argument("--url", help=url_help)
    p.add_argument("--registry-key", help=REGISTRY_KEY_HELP)
    p.set_defaults(func=cmd_db_check_checkpoint)
    p = dsub.add_parser("revision", help="draft the next revision from the models (for developers)")
    p.add_argument("message")
    p.set_defaults(func=cmd_db_revision)
