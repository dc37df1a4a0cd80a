"""Allocation offers: a bureau's signed paid-use allocation, pending the enterprise's consent (market).
Frozen once released: never edit it.

Written out by hand to match ``market.trade_tables.AllocationOfferRow``; a new table only, so
existing rows and the journal are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "allocation_offer",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("enterprise", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("valid_until", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("project", sa.String(), nullable=True),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("price_fen_per_tonne_year", sa.BigInteger(), nullable=True),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("bureau_signature", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("closed_at", sa.String(), nullable=True),
        sa.Column("allocation_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_allocation_offer_bureau", "allocation_offer", ["bureau"])
    op.create_index("ix_allocation_offer_enterprise", "allocation_offer", ["enterprise"])


def downgrade() -> None:
    forward_only(revision)
