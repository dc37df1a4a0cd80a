"""Reads and audits from a read-only replica (``--read-db`` / ``$ECOLEDGER_READ_DATABASE_URL``).

Each command or app that reads from the replica says how far its journal is behind the primary's.
"""

from __future__ import annotations

import argparse
import os

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.keyfile import open_database
from ledger.db import make_engine
from ledger.replica import ReplicaLag, replica_lag

__all__ = ["READ_URL_ENV", "lag_between", "read_url", "source_engine"]

READ_URL_ENV = "ECOLEDGER_READ_DATABASE_URL"


def read_url(args: argparse.Namespace) -> str | None:
    return getattr(args, "read_db", None) or os.environ.get(READ_URL_ENV) or None


def lag_between(replica: Engine, primary: Engine) -> ReplicaLag:
    """The replica's lag; ``primary_records`` is None when the primary does not answer (a replica
    keeps serving reads while the primary is down)."""
    with Session(replica) as r:
        try:
            with Session(primary) as p:
                return replica_lag(r, p)
        except OperationalError:
            return replica_lag(r, None)


def source_engine(args: argparse.Namespace) -> Engine:
    """What ``verify`` and ``export`` read: the replica when one is configured (after printing how
    far behind the primary it is), else the primary (``--db``)."""
    url = read_url(args)
    if url is None:
        return open_database(args.db, args.key)
    replica = open_database(url, args.key)  # the registry key checked against the replica's record 0
    primary = make_engine(args.db, connect_args={"connect_timeout": 3})
    try:
        print(lag_between(replica, primary).describe())
    finally:
        primary.dispose()
    return replica
