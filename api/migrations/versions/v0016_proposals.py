"""One proposal model (market.proposals): the tables ``proposal`` and ``proposal_signer`` take the rows
of trade_offer, allocation_offer, buyback_offer and four_eyes_proposal, which are then dropped.
Frozen once released: never edit it.

Carried over: ids, statuses (an offer's ``accepted`` is ``applied``), terms (with the nonce that fixes
each body), the proposer's signature in its slot, who decided and the applied record's seq. The
counterparty's signature of an accepted offer was never kept (it is in the journal's record): its slot
is marked signed at the offer's close. The journal is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only
from ledger.canonical import canonical_bytes

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROPOSAL = sa.table(
    "proposal",
    *(
        sa.column(c)
        for c in (
            "id",
            "kind",
            "party",
            "proposed_by",
            "terms",
            "status",
            "created_at",
            "expires_at",
            "decided_party",
            "decided_by",
            "decided_at",
            "record_seq",
        )
    ),
)
_SIGNER = sa.table(
    "proposal_signer",
    *(
        sa.column(c)
        for c in (
            "proposal_id",
            "slot",
            "party",
            "role",
            "excluded_user",
            "signature",
            "signed_by",
            "signed_at",
        )
    ),
)


def _create() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("proposed_by", sa.String(), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("expires_at", sa.String(), nullable=True),
        sa.Column("decided_party", sa.String(), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.String(), nullable=True),
        sa.Column("record_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proposal_kind", "proposal", ["kind"])
    op.create_index("ix_proposal_party", "proposal", ["party"])
    op.create_table(
        "proposal_signer",
        sa.Column("proposal_id", sa.String(), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("excluded_user", sa.String(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("signed_by", sa.String(), nullable=True),
        sa.Column("signed_at", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"]),
        sa.PrimaryKeyConstraint("proposal_id", "slot"),
    )
    op.create_index("ix_proposal_signer_awaiting", "proposal_signer", ["party", "signed_at"])


def _text(terms: Mapping[str, Any]) -> str:
    return canonical_bytes(dict(terms)).decode()


def _offer(
    conn: sa.Connection,
    r: Mapping[str, Any],
    *,
    kind: str,
    by: str,
    to: str,
    signature: str,
    seq: str,
    terms: dict[str, Any],
) -> None:
    """One two-party offer: the proposer's slot signed when offered, the counterparty's at its close."""
    accepted = r["status"] == "accepted"
    (own,) = json.loads(r[signature]).values()  # {party: Signature}: the proposer's one signature
    conn.execute(
        _PROPOSAL.insert().values(
            id=r["id"],
            kind=kind,
            party=r[by],
            proposed_by=None,
            terms=_text(terms),
            status="applied" if accepted else r["status"],
            created_at=r["created_at"],
            expires_at=None,
            decided_party=r.get("closed_by") or (r[to] if accepted else None),
            decided_by=None,
            decided_at=r["closed_at"],
            record_seq=r[seq],
        )
    )
    conn.execute(
        _SIGNER.insert(),
        [
            {
                "proposal_id": r["id"],
                "slot": 0,
                "party": r[by],
                "role": None,
                "excluded_user": None,
                "signature": _text(own),
                "signed_by": None,
                "signed_at": r["created_at"],
            },
            {
                "proposal_id": r["id"],
                "slot": 1,
                "party": r[to],
                "role": None,
                "excluded_user": None,
                "signature": None,
                "signed_by": None,
                "signed_at": r["closed_at"] if accepted else None,
            },
        ],
    )


def _rows(conn: sa.Connection, table: str) -> list[Mapping[str, Any]]:
    return [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).mappings()]


def _carry_over(conn: sa.Connection) -> None:
    for r in _rows(conn, "trade_offer"):
        keys: tuple[str, ...] = (
            "seller",
            "buyer",
            "instrument",
            "jurisdiction",
            "valid_until",
            "quantity_kg",
            "price_fen_per_t",
            "nonce",
        )
        terms = {k: r[k] for k in keys}
        _offer(
            conn,
            r,
            kind="trade_offer",
            by="seller",
            to="buyer",
            signature="seller_signature",
            seq="trade_seq",
            terms=terms,
        )
    for r in _rows(conn, "allocation_offer"):
        keys = (
            "bureau",
            "enterprise",
            "instrument",
            "valid_until",
            "quantity_kg",
            "purpose",
            "project",
            "years",
            "price_fen_per_tonne_year",
            "fee_fen",
            "nonce",
        )
        terms = {k: r[k] for k in keys}
        _offer(
            conn,
            r,
            kind="allocation_offer",
            by="bureau",
            to="enterprise",
            signature="bureau_signature",
            seq="allocation_seq",
            terms=terms,
        )
    for r in _rows(conn, "buyback_offer"):
        keys = (
            "bureau",
            "enterprise",
            "instrument",
            "valid_until",
            "quantity_kg",
            "amount_fen",
            "basis",
            "nonce",
        )
        terms = {k: r[k] for k in keys}
        _offer(
            conn,
            r,
            kind="buyback_offer",
            by="bureau",
            to="enterprise",
            signature="bureau_signature",
            seq="buy_back_seq",
            terms=terms,
        )
    for r in _rows(conn, "four_eyes_proposal"):
        _four_eyes(conn, r)


def _four_eyes(conn: sa.Connection, r: Mapping[str, Any]) -> None:
    """A four-eyes proposal: one slot of its own party for an approver other than the proposer,
    signed by the approving user when it applied."""
    applied = r["status"] == "applied"
    conn.execute(
        _PROPOSAL.insert().values(
            id=r["id"],
            kind=r["kind"],
            party=r["party"],
            proposed_by=r["proposed_by"],
            terms=r["terms"],
            status=r["status"],
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            decided_party=r["party"] if r["decided_by"] is not None else None,
            decided_by=r["decided_by"],
            decided_at=r["decided_at"],
            record_seq=r["record_seq"],
        )
    )
    conn.execute(
        _SIGNER.insert().values(
            proposal_id=r["id"],
            slot=0,
            party=r["party"],
            role="approver",
            excluded_user=r["proposed_by"],
            signature=None,
            signed_by=r["decided_by"] if applied else None,
            signed_at=r["decided_at"] if applied else None,
        )
    )


def upgrade() -> None:
    _create()
    _carry_over(op.get_bind())
    for table in ("trade_offer", "allocation_offer", "buyback_offer", "four_eyes_proposal"):
        op.drop_table(table)


def downgrade() -> None:
    forward_only(revision)
