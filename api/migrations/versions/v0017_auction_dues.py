"""What each winner of a closed auction owes, on the ledger's auction book (``ledger_auction.dues``), so
that the ledger checks a forced settlement's payment against the result (``ledger.forced_sale``).
Frozen once released: never edit it.

A nullable column, filled for auctions already closed from the awards the workflow recorded from the
same result record (``auction_award``); replay recomputes it from the journal and needs none of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_auction") as batch:
        batch.add_column(sa.Column("dues", sa.String(), nullable=True))
    bind = op.get_bind()
    closed = bind.execute(sa.text("SELECT auction_id FROM ledger_auction WHERE open = :no"), {"no": False})
    for (auction_id,) in list(closed):
        awards = bind.execute(
            sa.text("SELECT bidder, amount_fen FROM auction_award WHERE auction_id = :id"), {"id": auction_id}
        )
        # Sorted, compact JSON: the form ledger.auction_store writes (RFC 8785 for these plain values).
        dues = json.dumps(
            {str(bidder): int(fen) for bidder, fen in awards}, sort_keys=True, separators=(",", ":")
        )
        bind.execute(
            sa.text("UPDATE ledger_auction SET dues = :dues WHERE auction_id = :id"),
            {"dues": dues, "id": auction_id},
        )


def downgrade() -> None:
    forward_only(revision)
