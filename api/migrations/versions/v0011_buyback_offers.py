"""Buy-back offers: a bureau's signed buy-back (收储), pending the enterprise's consent (market).
Frozen once released: never edit it.

Written out by hand to match ``market.reserve.tables.BuyBackOfferRow``; a new table only, so
existing rows and the journal are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "buyback_offer",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("enterprise", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("valid_until", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.String(), nullable=True),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("bureau_signature", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("closed_at", sa.String(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("buy_back_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_buyback_offer_bureau", "buyback_offer", ["bureau"])
    op.create_index("ix_buyback_offer_enterprise", "buyback_offer", ["enterprise"])


def downgrade() -> None:
    forward_only(revision)
