"""A cross-city request's settlement as a proposal (market.crosscity.settlement): ``crosscity_transfer``
gains ``proposal`` and loses ``signatures``; ``proposal_signer`` gains ``after_slots`` (a slot that waits
for earlier ones: a bureau's for the buyer's). Frozen once released: never edit it.

Every request the seller offered (its units were held) gets its proposal of kind ``crosscity.settlement``,
its slots the seller's, the buyer's and each bureau not already a party (after the buyer's), and the
signatures the request kept over the settlement moved into those slots. An open request's proposal is
pending, lapsing with the request; a settled one's applied at its record; a rejected one's rejected by
the party that closed it (withdrawn when the seller did); an expired one's stays pending past its expiry,
i.e. expired, as the live sweep leaves it. Drafts get none (the proposal opens when the seller offers).
When each party signed was never kept: a slot signed then is marked signed at the request's creation.
The journal is untouched.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from api.migrations import forward_only
from ledger.canonical import canonical_bytes

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = "crosscity.settlement"  # market.crosscity.settlement.SETTLEMENT, written out: frozen here
BP = 10_000
KG_PER_TONNE = 1_000


def _terms(r: Any) -> dict[str, Any]:
    """What market.crosscity.settlement.settlement_terms writes, from the request's own terms."""
    delivered = int(r.quantity_kg) * int(r.ratio_bp) // BP
    price = delivered * int(r.price_fen_per_tonne) // KG_PER_TONNE
    return {
        "request_id": r.id,
        "seller": r.seller,
        "buyer": r.buyer,
        "instrument": r.instrument,
        "quantity_kg": delivered,
        "amount_fen": price + price * int(r.fee_bp) // BP,
    }


def _slots(r: Any) -> list[tuple[str, list[int]]]:
    """market.crosscity.settlement.settlement_slots: seller, buyer, then each other bureau after the buyer."""
    slots: list[tuple[str, list[int]]] = [(r.seller, []), (r.buyer, [])]
    for bureau in (f"bureau:{r.source}", f"bureau:{r.destination}"):
        if bureau not in (r.seller, r.buyer):
            slots.append((bureau, [1]))
    return slots


def _status(r: Any) -> tuple[str, str | None, int | None]:
    """The proposal's stored status, who decided and the applied record's seq."""
    if r.status == "settled":
        return "applied", None, r.settled_seq
    if r.status == "rejected":
        return ("withdrawn" if r.closed_by == r.seller else "rejected"), r.closed_by, None
    return "pending", None, None  # offered, accepted; expired is computed from expires_at


def _carry(bind: sa.Connection, r: Any) -> None:
    proposal_id = secrets.token_hex(8)  # as the service makes them
    status, decided_party, seq = _status(r)
    closed = status != "pending"
    bind.execute(
        sa.text(
            "INSERT INTO proposal (id, kind, party, terms, status, created_at, expires_at, decided_party, "
            "decided_at, record_seq) VALUES (:id, :kind, :party, :terms, :status, :at, :expires, :decided, "
            ":decided_at, :seq)"
        ),
        {
            "id": proposal_id,
            "kind": KIND,
            "party": r.seller,
            "terms": canonical_bytes(_terms(r)).decode(),
            "status": status,
            "at": r.created_at,
            "expires": r.expires_at,
            "decided": decided_party,
            "decided_at": r.created_at if closed else None,
            "seq": seq,
        },
    )
    kept: dict[str, Any] = json.loads(r.signatures or "{}")
    for slot, (party, after) in enumerate(_slots(r)):
        sig = kept.get(party)
        bind.execute(
            sa.text(
                "INSERT INTO proposal_signer (proposal_id, slot, party, signature, signed_at, after_slots) "
                "VALUES (:id, :slot, :party, :sig, :at, :after)"
            ),
            {
                "id": proposal_id,
                "slot": slot,
                "party": party,
                "sig": None if sig is None else canonical_bytes(sig).decode(),
                "at": None if sig is None else r.created_at,
                "after": json.dumps(after) if after else None,
            },
        )
    bind.execute(
        sa.text("UPDATE crosscity_transfer SET proposal = :p WHERE id = :id"), {"p": proposal_id, "id": r.id}
    )


def upgrade() -> None:
    with op.batch_alter_table("crosscity_transfer") as batch:
        batch.add_column(sa.Column("proposal", sa.String(), nullable=True))
    with op.batch_alter_table("proposal_signer") as batch:
        batch.add_column(sa.Column("after_slots", sa.Text(), nullable=True))
    bind = op.get_bind()
    offered = bind.execute(
        sa.text(
            "SELECT id, seller, buyer, source, destination, instrument, quantity_kg, ratio_bp, "
            "price_fen_per_tonne, fee_bp, expires_at, status, signatures, created_at, settled_seq, closed_by "
            "FROM crosscity_transfer WHERE hold_seq IS NOT NULL ORDER BY id"
        )
    )
    for r in list(offered):
        _carry(bind, r)
    with op.batch_alter_table("crosscity_transfer") as batch:
        batch.drop_column("signatures")


def downgrade() -> None:
    forward_only(revision)
