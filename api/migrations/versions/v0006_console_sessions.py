"""Console sessions kept by the registry, TOTP second factors, and the hash scheme of API keys (accounts).
Frozen once released: never edit it.

Written out by hand to match ``accounts.tables``: two new tables, and a column on ``api_credential``
whose default says that every key issued before it keeps its scrypt hash; the journal is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_credential") as batch:
        batch.add_column(sa.Column("hash_scheme", sa.String(), nullable=False, server_default="scrypt"))
    op.create_table(
        "console_session",
        sa.Column("id_hash", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("credential_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("last_seen_at", sa.String(), nullable=False),
        sa.Column("expires_at", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
        sa.ForeignKeyConstraint(["credential_id"], ["api_credential.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_console_session_party", "console_session", ["party"])
    op.create_index("ix_console_session_credential_id", "console_session", ["credential_id"])
    op.create_table(
        "console_totp",
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("confirmed_at", sa.String(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
        sa.PrimaryKeyConstraint("party"),
    )


def downgrade() -> None:
    forward_only(revision)
