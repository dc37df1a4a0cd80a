"""Award payment as a proposal (market.auctions.payment): ``auction_award`` gains ``payment_proposal``, and
each award pending at upgrade time gets its proposal of kind ``auction.payment``, with both signer slots
(the bureau's, the winner's) open; a forced auction's awards get none (both sign as they settle). And a
pledge's registration (steps 3-4, market.pledges.registration): ``pledge`` gains
``registration_proposal``; a pledge whose loan awaits the enterprise at upgrade time gets its proposal
when the enterprise confirms, the bank's kept signature filling the bank's slot. Frozen once released:
never edit it.

Proposals made at the close carry the bureau's signature, given with the key it closed with; no key is at
hand here, so the bureau of an award pending across the upgrade signs its slot when it settles (the
console's 结算, or /v1/proposals/{id}/sign). The journal is untouched.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only
from ledger.canonical import canonical_bytes

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = "auction.payment"  # market.auctions.payment.PAYMENT, written out: a migration never changes


def upgrade() -> None:
    with op.batch_alter_table("auction_award") as batch:
        batch.add_column(sa.Column("payment_proposal", sa.String(), nullable=True))
    with op.batch_alter_table("pledge") as batch:
        batch.add_column(sa.Column("registration_proposal", sa.String(), nullable=True))
    bind = op.get_bind()
    pending = bind.execute(
        sa.text(
            "SELECT a.auction_id, a.bidder, a.quantity_kg, a.amount_fen, u.bureau, u.instrument, "
            "u.closed_at, u.payment_due FROM auction_award a JOIN auction u ON u.auction_id = a.auction_id "
            "WHERE a.status = 'pending' AND u.payment_due IS NOT NULL AND u.pledge IS NULL "
            "ORDER BY a.auction_id, a.bidder"
        )
    )
    for auction_id, bidder, quantity_kg, amount_fen, bureau, instrument, closed_at, due in list(pending):
        terms = {
            "auction_id": auction_id,
            "bidder": bidder,
            "instrument": instrument,
            "quantity_kg": int(quantity_kg),
            "amount_fen": int(amount_fen),
        }
        proposal_id = secrets.token_hex(8)
        bind.execute(
            sa.text(
                "INSERT INTO proposal (id, kind, party, terms, status, created_at, expires_at) "
                "VALUES (:id, :kind, :party, :terms, 'pending', :at, :due)"
            ),
            {
                "id": proposal_id,
                "kind": KIND,
                "party": bureau,
                "terms": canonical_bytes(terms).decode(),
                "at": closed_at or due,
                "due": due,
            },
        )
        for slot, party in enumerate((bureau, bidder)):
            bind.execute(
                sa.text("INSERT INTO proposal_signer (proposal_id, slot, party) VALUES (:id, :slot, :party)"),
                {"id": proposal_id, "slot": slot, "party": party},
            )
        bind.execute(
            sa.text("UPDATE auction_award SET payment_proposal = :p WHERE auction_id = :a AND bidder = :b"),
            {"p": proposal_id, "a": auction_id, "b": bidder},
        )


def downgrade() -> None:
    forward_only(revision)
