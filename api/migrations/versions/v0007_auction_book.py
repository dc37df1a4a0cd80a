"""Auctions on the journal (ledger.auction_rules): the ledger's auction books, and on each bid row its
record, the need it reserved, its commitment and salt. Frozen once released: never edit it.

New tables and nullable columns only: bids placed before keep NULL there and their auctions (opened
under rule set 1) keep rule set 1's treatment, so existing journals replay unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_auction",
        sa.Column("auction_id", sa.String(), nullable=False),
        sa.Column("bureau", sa.String(), nullable=False),
        sa.Column("hold", sa.String(), nullable=False),
        sa.Column("terms", sa.String(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("opened_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.create_table(
        "ledger_auction_bid",
        sa.Column("auction_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record_seq", sa.BigInteger(), nullable=False),
        sa.Column("bidder", sa.String(), nullable=False),
        sa.Column("at", sa.String(), nullable=False),
        sa.Column("need_kg", sa.BigInteger(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("deposit_hold", sa.String(), nullable=True),
        sa.Column("commitment", sa.String(), nullable=True),
        sa.Column("salt_held", sa.Boolean(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=True),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("auction_id", "seq"),
    )
    with op.batch_alter_table("auction_bid") as batch:
        batch.add_column(sa.Column("record_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("need_kg", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("commitment", sa.String(), nullable=True))
        batch.add_column(sa.Column("salt", sa.String(), nullable=True))


def downgrade() -> None:
    forward_only(revision)
