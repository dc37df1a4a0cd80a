"""Two indexes for reads that scanned a whole table, their cost growing with the registry's age: the
journal's blue carbon issuances, retirements and sales (the public registry's pages, a cooperative's
sales, newest first: a scan of every record for a few), and holds by controller (a bank's or a
bureau's account history: a scan of every party's holds). Frozen once released: never edit it.

Indexes only: no row and no record changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    where = sa.text("action IN ('bc.issue', 'bc.retire', 'bc.sale')")  # ledger.tables.READ_BACK_RECORDS
    op.create_index("ix_journal_read_back", "journal", ["seq"], sqlite_where=where, postgresql_where=where)
    op.create_index("ix_hold_controller", "hold", ["controller"])


def downgrade() -> None:
    forward_only(revision)
