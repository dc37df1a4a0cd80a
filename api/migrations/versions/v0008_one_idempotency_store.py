"""One idempotency store: the API's stored answers (``api_idempotent_response``, revision 0002) move
into the ledger's ``idempotency`` table, which signed instructions kept alone until now, and
``idempotency.seq`` becomes nullable (an API write answers with no single record). Frozen once
released: never edit it.

Every old API row is carried over as (scope = its party, key, digest as raw bytes instead of hex,
response), so a retry of an old request finds the same digest and answers exactly what it did.
``status_code`` (always 200) and ``created_at`` are not kept: nothing read them. One case cannot keep
both answers: a party that used one key both for a signed instruction and for another write. The
store keeps the instruction's row (it names a journal record); a retry of the other write is refused
as ``idempotency_key_reused`` and still never acts twice. The upgrade logs how many keys that was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("alembic.runtime.migration")

_SHARED = """
SELECT count(*) FROM api_idempotent_response a
JOIN idempotency i ON i.scope = a.party AND i.key = a.key
"""
_CARRY = """
INSERT INTO idempotency (scope, key, request_digest, seq, response)
SELECT a.party, a.key, {digest}, NULL, a.response FROM api_idempotent_response a
WHERE NOT EXISTS (SELECT 1 FROM idempotency i WHERE i.scope = a.party AND i.key = a.key)
"""


def upgrade() -> None:
    with op.batch_alter_table("idempotency") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=True)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # SQLite has unhex() only from 3.41: the hex text, decoded here
        bind.connection.driver_connection.create_function(  # type: ignore[union-attr]
            "ecoledger_unhex", 1, bytes.fromhex, deterministic=True
        )
        digest = "ecoledger_unhex(a.request_digest)"
    else:
        digest = "decode(a.request_digest, 'hex')"
    shared = bind.execute(sa.text(_SHARED)).scalar_one()
    if shared:
        _log.warning(
            "%d Idempotency-Key(s) were used both for a signed instruction and another write; the "
            "instruction's answer is kept, a retry of the other write is refused (it never acts twice)",
            shared,
        )
    op.execute(_CARRY.format(digest=digest))
    op.drop_table("api_idempotent_response")


def downgrade() -> None:
    forward_only(revision)
