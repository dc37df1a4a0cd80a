"""An index to find the journal's ``rules.adopt`` records (ledger.movements: rule set 2, typed movements).
Frozen once released: never edit it.

A journal without such a record is under rule set 1, the rules it was written under; the registry then
appends a ``rules.adopt`` record (ledger.service.adopt_rules), so replay applies rule set 1 to the
records before it and rule set 2 from it on, and the old journal stays verifiable.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    where = sa.text("type = 'rules.adopt'")
    op.create_index("ix_journal_rules_adopt", "journal", ["seq"], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    forward_only(revision)
