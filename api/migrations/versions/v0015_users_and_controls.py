"""Named users of a party with their own API keys (accounts), and the ledger's copy of parties'
controls: four-eyes thresholds and trusted lists (ledger.controls), and proposals waiting for a
second user (market.foureyes). Frozen once released: never edit it.

New tables and a nullable column only: keys issued before it stay the party's own (user NULL), and a
journal without control records replays unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    where = sa.text("action IN ('controls.set', 'trust.add', 'trust.remove', 'registry.controls')")
    op.create_index("ix_journal_controls", "journal", ["seq"], sqlite_where=where, postgresql_where=where)
    with op.batch_alter_table("api_credential") as batch:
        batch.add_column(sa.Column("user", sa.String(), nullable=True))
    op.create_index("ix_api_credential_user", "api_credential", ["user"])
    op.create_table(
        "party_user",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party", "user_id", name="uq_party_user"),
    )
    op.create_index("ix_party_user_party", "party_user", ["party"])
    op.create_table(
        "ledger_controls",
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("changed_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party"),
    )
    op.create_table(
        "four_eyes_proposal",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("expires_at", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.String(), nullable=True),
        sa.Column("record_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_four_eyes_proposal_party", "four_eyes_proposal", ["party"])


def downgrade() -> None:
    forward_only(revision)
