"""``ecoledger federation checkpoint`` (both registries sign their journals' heads in one statement) and
the two-bundle form of ``ecoledger audit verify A B`` that checks the pair against that statement.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from api.keyfile import checked_key
from ledger.db import make_engine
from ledger.errors import DomainError
from ledger.federation import Member, cross_checkpoint
from ledger.service import Registry

__all__ = ["add_federation_commands", "verify_two"]


def cmd_federation_checkpoint(args: argparse.Namespace) -> int:
    """Sign each journal's head now and the statement of both with each registry key."""
    members, engines = [], []
    try:
        for spec in args.journal:
            url, sep, key_path = spec.rpartition("=")
            if not sep or not url:
                raise SystemExit(f"--journal {spec!r}: give URL=KEYFILE")
            engine = make_engine(url)
            engines.append(engine)
            key = checked_key(engine, key_path)  # each registry's key checked against its record 0
            if key is None:
                raise SystemExit(f"--journal {url}: no registry key at {key_path}")
            members.append(Member(engine, Registry(key), "", "", key, {}))
        statement = cross_checkpoint(members)
    finally:
        for engine in engines:
            engine.dispose()
    Path(args.out).write_text(json.dumps(statement.to_json(), indent=2) + "\n")
    for journal, cp in statement.journals:
        print(f"journal {journal}: head {cp.tree_size}, root {cp.root.hex()[:16]}..., key {cp.key_id}")
    print(f"cross-journal checkpoint signed by {len(statement.signatures)} registries -> {args.out}")
    return 0


def verify_two(args: argparse.Namespace, keys: list[bytes | None]) -> int:
    """``audit verify A B``: each bundle, the cross-journal checkpoint, and every cross-reference."""
    from api.replay_checks import replay_checks
    from ledger.federation_audit import CrossCheckpoint, verify_pair

    if not args.federation_checkpoint:
        raise SystemExit(
            "audit verify A B: pass --federation-checkpoint FILE (ecoledger federation checkpoint)"
        )
    try:
        statement = CrossCheckpoint.from_json(json.loads(Path(args.federation_checkpoint).read_text()))
    except (OSError, ValueError, DomainError) as exc:
        raise SystemExit(f"--federation-checkpoint: {exc}") from None
    result = verify_pair([Path(b) for b in args.bundle], statement, registry_keys=keys, checks=replay_checks)
    print(result.render())
    return 0 if result.ok else 1


def add_federation_commands(sub: Any) -> None:
    fed = sub.add_parser("federation", help="journals of several registries: the cross-journal checkpoint")
    fsub = fed.add_subparsers(dest="federation_command", required=True)
    p = fsub.add_parser("checkpoint", help="sign every journal's head in one statement, by every registry")
    p.add_argument("out", help="the cross-journal checkpoint (JSON) to write")
    p.add_argument(
        "--journal",
        action="append",
        required=True,
        metavar="URL=KEYFILE",
        help="a journal and its registry key",
    )
    p.set_defaults(func=cmd_federation_checkpoint)
