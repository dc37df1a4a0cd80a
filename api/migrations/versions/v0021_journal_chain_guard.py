"""The journal's chain guard: a record whose ``prev`` is not the hash of the record before it (record
0's: 32 zero bytes) is refused by the database itself, and the unique indexes on ``journal.hash`` and
``journal.prev`` go. Frozen once released: never edit it.

The guard is replay's chain rule, checked live; the unique ``prev`` refused only a second record on
one ``prev``, and its index and the one on ``hash`` (random 32-byte keys, read by no query) dirtied a
page of their own for every record written. On SQLite a unique constraint goes only with its table,
so the journal is copied into a table without them, in one transaction: its rows, indexes and
append-only triggers are as before. No record changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ledger.db.chain_guard_statements at this revision, written out: frozen here
SQLITE_GUARD = """CREATE TRIGGER IF NOT EXISTS journal_chain BEFORE INSERT ON journal
        WHEN NEW.prev IS NOT (CASE WHEN NEW.seq = 0 THEN zeroblob(32)
                              ELSE (SELECT hash FROM journal WHERE seq = NEW.seq - 1) END)
        BEGIN SELECT RAISE(ABORT, 'journal: prev is not the hash of the record before it'); END"""
PG_GUARD = (
    """CREATE OR REPLACE FUNCTION ecoledger_journal_chain() RETURNS trigger AS $$
       DECLARE
         broken bigint;
       BEGIN
         -- the journal the statement wrote to, named by the trigger: no search_path or temporary
         -- table can stand in for it; one query a statement, whatever its number of rows
         EXECUTE format('SELECT min(n.seq) FROM inserted n LEFT JOIN %I.%I p ON p.seq = n.seq - 1'
                        ' WHERE n.prev IS DISTINCT FROM'
                        ' (CASE WHEN n.seq = 0 THEN decode(repeat(''00'', 32), ''hex'') ELSE p.hash END)',
                        TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO broken;
         IF broken IS NOT NULL THEN
           RAISE EXCEPTION 'journal: record %''s prev is not the hash of the record before it', broken
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER journal_chain AFTER INSERT ON journal REFERENCING NEW TABLE AS inserted
       FOR EACH STATEMENT EXECUTE FUNCTION ecoledger_journal_chain()""",
)

# The journal as revisions 0001, 0005, 0015 and 0020 left it, without the two unique constraints.
_SQLITE_JOURNAL = """CREATE TABLE journal_new (
	seq BIGINT NOT NULL,
	time VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	action VARCHAR,
	core BLOB NOT NULL,
	hash BLOB NOT NULL,
	prev BLOB NOT NULL,
	registry_sig BLOB NOT NULL,
	body_digest BLOB NOT NULL,
	PRIMARY KEY (seq),
	UNIQUE (body_digest)
)"""
_SQLITE_AFTER = (
    "CREATE INDEX ix_journal_time ON journal (time)",
    "CREATE INDEX ix_journal_rules_adopt ON journal (seq) WHERE type = 'rules.adopt'",
    "CREATE INDEX ix_journal_controls ON journal (seq)"
    " WHERE action IN ('controls.set', 'trust.add', 'trust.remove', 'registry.controls')",
    "CREATE INDEX ix_journal_read_back ON journal (seq) WHERE action IN ('bc.issue', 'bc.retire', 'bc.sale')",
    *(
        f"""CREATE TRIGGER journal_no_{name} BEFORE {name.upper()} ON journal
        BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END"""
        for name in ("update", "delete")
    ),
    SQLITE_GUARD,
)
_COLUMNS = "seq, time, type, action, core, hash, prev, registry_sig, body_digest"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(_SQLITE_JOURNAL)
        op.execute(f"INSERT INTO journal_new ({_COLUMNS}) SELECT {_COLUMNS} FROM journal ORDER BY seq")
        op.execute("DROP TABLE journal")  # its indexes and triggers with it
        op.execute("ALTER TABLE journal_new RENAME TO journal")
        for statement in _SQLITE_AFTER:
            op.execute(statement)
        return
    for constraint in sa.inspect(bind).get_unique_constraints("journal"):
        if constraint["column_names"] in (["hash"], ["prev"]) and constraint["name"]:
            op.drop_constraint(constraint["name"], "journal", type_="unique")
    for statement in PG_GUARD:
        op.execute(statement)


def downgrade() -> None:
    forward_only(revision)
