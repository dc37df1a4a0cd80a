"""The rule set in force on the journal's head (ledger.movements): typed movements from rule set 2.
Frozen once released: never edit it.

Existing journals start at rule set 1, the rules they were written under; the registry then
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
    with op.batch_alter_table("journal_head") as batch:
        batch.add_column(sa.Column("rule_set", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    forward_only(revision)
