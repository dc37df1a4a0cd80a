"""``ecoledger credential issue|revoke|list``: API keys managed from the registry's own host.

The API's operator may list and revoke anyone's keys but issues keys only for itself (a key acts as its
party); a participant's first key therefore comes from here, run by whoever administers the host, who
holds the database and the custody secret already and so gains no power by it.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlmodel import Session

from accounts.credentials import credentials_of, issue_credential, revoke_credential
from api import migrations
from api.keyfile import open_database
from ledger.errors import DomainError

__all__ = ["add_credential_commands"]


def _run(args: argparse.Namespace, work: Any) -> int:
    engine = open_database(args.db, args.key)  # the registry key is checked first, as everywhere
    try:
        migrations.upgrade(engine)
        with Session(engine) as s:
            code = int(work(s))
            s.commit()
        return code
    except DomainError as exc:
        print(f"FAILED: {exc.code}: {exc.message}")
        return 1
    finally:
        engine.dispose()


def cmd_issue(args: argparse.Namespace) -> int:
    def work(s: Session) -> int:
        issued = issue_credential(s, party=args.party, label=args.label)
        print(f"credential {issued.credential.id} for {args.party}; the token is shown this once:")
        print(issued.token)
        return 0

    return _run(args, work)


def cmd_revoke(args: argparse.Namespace) -> int:
    def work(s: Session) -> int:
        done = revoke_credential(s, credential_id=args.credential_id)
        print(f"credential {done.id} of {done.party} revoked at {done.revoked_at}")
        return 0

    return _run(args, work)


def cmd_list(args: argparse.Namespace) -> int:
    def work(s: Session) -> int:
        for c in credentials_of(s, party=args.party):
            state = "active" if c.active else f"revoked {c.revoked_at:%Y-%m-%d %H:%M}"
            print(f"{c.id}  {c.created_at:%Y-%m-%d %H:%M}  {state}  {c.label}")
        return 0

    return _run(args, work)


def add_credential_commands(sub: Any) -> None:
    cred = sub.add_parser("credential", help="API keys, from the registry's host (first keys, revocation)")
    csub = cred.add_subparsers(dest="credential_command", required=True)
    p = csub.add_parser("issue", help="issue an API key for a party and print its token once")
    p.add_argument("--party", required=True)
    p.add_argument("--label", default="")
    p.set_defaults(func=cmd_issue)
    p = csub.add_parser("revoke", help="revoke an API key now (its console sessions end too)")
    p.add_argument("credential_id")
    p.set_defaults(func=cmd_revoke)
    p = csub.add_parser("list", help="a party's API keys, without secrets")
    p.add_argument("--party", required=True)
    p.set_defaults(func=cmd_list)
