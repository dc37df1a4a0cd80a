"""Farming households of a blue-carbon cooperative (ledger.households, market.households): the ledger's
index of confirmed rosters and attributed batches, and the cooperative's off-journal member register.

New tables only, so journals written before replay unchanged. Frozen once released: never edit it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_household",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "household_member",
        sa.Column("cooperative", sa.String(), nullable=False),
        sa.Column("member", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("id_card", sa.String(), nullable=False),
        sa.Column("salt", sa.String(), nullable=False),
        sa.Column("identity_hash", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("registered_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("cooperative", "member"),
    )
    op.create_table(
        "household_roster",
        sa.Column("roster", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("cooperative", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("signatures", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.String(), nullable=False),
        sa.Column("confirmed_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("roster"),
    )
    op.create_index("ix_household_roster_project", "household_roster", ["project"])
    op.create_index("ix_household_roster_cooperative", "household_roster", ["cooperative"])
    op.create_table(
        "household_sale",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("cooperative", sa.String(), nullable=False),
        sa.Column("roster", sa.String(), nullable=False),
        sa.Column("batch", sa.String(), nullable=False),
        sa.Column("buyer", sa.String(), nullable=False),
        sa.Column("tonnes", sa.BigInteger(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("proceeds_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("time", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_household_sale_cooperative", "household_sale", ["cooperative"])


def downgrade() -> None:
    forward_only(revision)
