"""Custody of a key in the key table: ``party_key.custody`` mirrors the ``"custody": true`` a
``key.register`` record carries when the registry holds the key. Frozen once released.

Every existing row gets false, which is what its journal record says: records written before this
revision carry no custody field (a journal of that time whose signatures say custody no longer
replays clean: custody now needs a key registered as held).
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
    op.add_column(
        "party_key", sa.Column("custody", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    forward_only(revision)
