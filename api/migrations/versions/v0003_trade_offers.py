"""Trade offers: the seller's signed consent to a bilateral trade, pending the buyer's (market).
Frozen once released: never edit it.

Written out by hand to match ``market.trade_tables.TradeOfferRow``; a new table only, so existing
rows and the journal are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trade_offer",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("seller", sa.String(), nullable=False),
        sa.Column("buyer", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("valid_until", sa.String(), nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("seller_signature", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("closed_at", sa.String(), nullable=True),
        sa.Column("trade_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trade_offer_seller", "trade_offer", ["seller"])
    op.create_index("ix_trade_offer_buyer", "trade_offer", ["buyer"])


def downgrade() -> None:
    forward_only(revision)
