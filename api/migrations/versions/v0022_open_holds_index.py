"""An index of the holds still open, by the record that placed them: the federation coordinator's
sweep of its open transfers read every hold ever placed and closed. Frozen once released: never
edit it.

An index only: no row and no record changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    where = sa.text("status = 'open'")  # ledger.tables.OPEN_HOLDS
    op.create_index("ix_hold_open", "hold", ["placed_seq"], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    forward_only(revision)
