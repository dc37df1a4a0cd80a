"""Custody keys and API idempotency: the registry-held signing keys of participants (accounts)
and the stored answers of idempotent API writes (api). Frozen once released: never edit it.

Written out by hand (reviewed against autogenerate on SQLite and PostgreSQL); both tables only
refer to ``participant``, so existing rows and the journal are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # accounts.tables.CustodyKeyRow: the sealed key, never the key itself.
    op.create_table(
        "custody_key",
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
    )
    op.create_index("ix_custody_key_party", "custody_key", ["party"])
    # api.tables.IdempotentResponseRow: one committed write per (caller, Idempotency-Key).
    op.create_table(
        "api_idempotent_response",
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_digest", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("party", "key"),
        sa.ForeignKeyConstraint(["party"], ["participant.party"]),
    )


def downgrade() -> None:
    forward_only(revision)
