"""The end of a default (拍卖处置, ledger.forced_sale): each defaulted pledge's claim in forced sale, the
pledge a forced auction sells on the ledger's auction book and on the workflow's auction row; and the
valuation of a pledge (docs/valuation.md): the registry's reference price and the bank's own appraisal.

New table and nullable columns only: auctions opened before are the reserve's (NULL pledge).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_pledge_claim",
        sa.Column("pledge", sa.String(), nullable=False),
        sa.Column("bank", sa.String(), nullable=False),
        sa.Column("enterprise", sa.String(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("recovered_fen", sa.BigInteger(), nullable=False),
        sa.Column("opened_seq", sa.BigInteger(), nullable=False),
        sa.Column("changed_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pledge"),
    )
    with op.batch_alter_table("ledger_auction") as batch:
        batch.add_column(sa.Column("pledge", sa.String(), nullable=True))
    with op.batch_alter_table("auction") as batch:
        batch.add_column(sa.Column("pledge", sa.String(), nullable=True))
        batch.add_column(sa.Column("seller", sa.String(), nullable=True))
    with op.batch_alter_table("pledge") as batch:
        batch.add_column(sa.Column("reference_fen_per_tonne", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("reference_source", sa.String(), nullable=True))
        batch.add_column(sa.Column("bank_fen_per_tonne", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    forward_only(revision)
