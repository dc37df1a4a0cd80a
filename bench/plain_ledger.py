"""The comparator: a plain double-entry ledger in one PL/pgSQL function, driven by pgbench.

No signatures, no hash chain, no journal: two balance rows locked (in id order) and checked, a
transfer row, two entry rows, one commit per call. The registry's PostgreSQL figures stand next to it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["PlainRun", "install", "pgbench", "run_plain"]

SCHEMA = "ecoledger_plain"
OPENING = 1_000_000_000  # per account: the comparator never runs short, the registry's bench neither

# Own code; one statement per string (the function body is one statement).
DDL = (
    f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
    f"CREATE SCHEMA {SCHEMA}",
    f"""CREATE TABLE {SCHEMA}.account (
        id bigint PRIMARY KEY,
        balance bigint NOT NULL CHECK (balance >= 0)
    )""",
    f"""CREATE TABLE {SCHEMA}.transfer (
        id bigserial PRIMARY KEY,
        debit bigint NOT NULL REFERENCES {SCHEMA}.account,
        credit bigint NOT NULL REFERENCES {SCHEMA}.account,
        amount bigint NOT NULL CHECK (amount > 0),
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    f"""CREATE TABLE {SCHEMA}.entry (
        id bigserial PRIMARY KEY,
        transfer_id bigint NOT NULL REFERENCES {SCHEMA}.transfer,
        account_id bigint NOT NULL REFERENCES {SCHEMA}.account,
        amount bigint NOT NULL
    )""",
    f"""CREATE FUNCTION {SCHEMA}.transfer(p_from bigint, p_to bigint, p_amount bigint)
    RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        v_balance bigint;
        v_id bigint;
    BEGIN
        IF p_from = p_to OR p_amount <= 0 THEN
            RAISE EXCEPTION 'a transfer moves a positive amount between two accounts';
        END IF;
        -- Both rows locked in id order: opposite transfers never deadlock.
        PERFORM 1 FROM {SCHEMA}.account WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE;
        SELECT balance INTO v_balance FROM {SCHEMA}.account WHERE id = p_from;
        IF v_balance IS NULL OR v_balance < p_amount THEN
            RETURN NULL;  -- refused: no such account or not enough on it
        END IF;
        UPDATE {SCHEMA}.account SET balance = balance - p_amount WHERE id = p_from;
        UPDATE {SCHEMA}.account SET balance = balance + p_amount WHERE id = p_to;
        INSERT INTO {SCHEMA}.transfer (debit, credit, amount) VALUES (p_from, p_to, p_amount)
            RETURNING id INTO v_id;
        INSERT INTO {SCHEMA}.entry (transfer_id, account_id, amount)
            VALUES (v_id, p_from, -p_amount), (v_id, p_to, p_amount);
        RETURN v_id;
    END $$""",
)

# A transfer between two different accounts of ``hot``, as the registry's bench does.
SCRIPT = """\\set a random(1, {hot})
\\set d random(1, {hot_less_one})
\\set b 1 + (:a + :d - 1) % {hot}
\\set kg random(1, 50)
SELECT {schema}.transfer(:a, :b, :kg);
"""


@dataclass(frozen=True)
class PlainRun:
    clients: int
    tps: float
    transfers: int  # rows in the transfer table after the run


def install(url: str, hot: int) -> None:
    """(Re)create the comparator's schema with ``hot`` funded accounts."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in DDL:
            conn.execute(text(statement))
        conn.execute(
            text(f"INSERT INTO {SCHEMA}.account (id, balance) SELECT g, :b FROM generate_series(1, :n) g"),
            {"b": OPENING, "n": hot},
        )
    engine.dispose()


def pgbench() -> str | None:
    """The pgbench executable (Debian's postgresql-client), or None."""
    return shutil.which("pgbench") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench")) if p.exists()), None
    )


def run_plain(url: str, *, clients: int, seconds: int, hot: int) -> PlainRun:
    """pgbench at ``clients`` connections for ``seconds`` against a fresh comparator schema."""
    exe = pgbench()
    if exe is None:
        raise FileNotFoundError("pgbench not found (Debian: apt-get install postgresql-client)")
    install(url, hot)
    u = make_url(url)
    script = SCRIPT.format(hot=hot, hot_less_one=hot - 1, schema=SCHEMA)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    env = {**os.environ, "PGPASSWORD": u.password or ""}
    cmd = [
        exe,
        "-n",  # no vacuum of pgbench's own tables: there are none
        "-f",
        f.name,
        "-c",
        str(clients),
        "-j",
        str(min(clients, os.cpu_count() or 1)),
        "-T",
        str(seconds),
        "-h",
        u.host or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
        u.database or "postgres",
    ]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=seconds + 120)
    finally:
        os.unlink(f.name)
    found = re.search(r"tps = ([0-9.]+)", done.stdout)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps:\n{done.stdout}\n{done.stderr}")
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = int(conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.transfer")).scalar_one())
        total = int(conn.execute(text(f"SELECT sum(balance) FROM {SCHEMA}.account")).scalar_one())
        conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        conn.commit()
    engine.dispose()
    if total != OPENING * hot:
        raise RuntimeError(f"the comparator lost conservation: {total} != {OPENING * hot}")
    return PlainRun(clients, float(found.group(1)), rows)
