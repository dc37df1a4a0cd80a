"""Revision 0018 makes each award pending at upgrade time a payment proposal (``auction.payment``) with the
bureau's and the winner's slots open, and leaves settled awards and open auctions alone, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, text

from api.migrations import head, upgrade
from ledger.canonical import canonical_bytes
from tests.integration.test_migrations import _differences, blank

__all__ = ["blank"]  # the fixture: an empty database of this test's own, on either engine

DUE = "2026-12-02T02:00:00.000000Z"
CLOSED = "2026-12-01T02:00:00.000000Z"


def _auction(conn: Connection, auction_id: str, *, due: str | None, awards: dict[str, str]) -> None:
    conn.execute(
        text(
            "INSERT INTO auction (auction_id, bureau, instrument, jurisdiction, valid_until, quantity_kg, "
            "reserve_price_fen_per_t, design, opens_at, closes_at, deposit_kind, extension_us, "
            "payment_window_us, hold, status, opened_seq, closed_at, payment_due) VALUES (:id, "
            "'bureau:330281', 'COD', '330281', '2030-12-31', 1000, 1000000, 'pay_as_bid', 'a', 'b', 'fixed', "
            "1, 1, :hold, :status, 5, :closed, :due)"
        ),
        {
            "id": auction_id,
            "hold": f"auction:{auction_id}",
            "status": "open" if due is None else "closed",
            "closed": None if due is None else CLOSED,
            "due": due,
        },
    )
    for bidder, status in awards.items():
        conn.execute(
            text(
                "INSERT INTO auction_award (auction_id, bidder, quantity_kg, amount_fen, deposit_fen, hold, "
                "status) VALUES (:id, :bidder, 600, 720000, 10000, :hold, :status)"
            ),
            {"id": auction_id, "bidder": bidder, "hold": f"h:{auction_id}:{bidder}", "status": status},
        )


def test_an_award_pending_at_revision_0018_becomes_a_payment_proposal_both_slots_open(blank: Engine) -> None:
    assert upgrade(blank, "0017") == "0017"
    with blank.begin() as conn:
        _auction(conn, "A-OLD", due=DUE, awards={"ent:A": "pending", "ent:B": "settled"})
        _auction(conn, "A-OPEN", due=None, awards={})

    assert upgrade(blank) == head()

    assert _differences(blank) == []
    with blank.connect() as conn:
        awards = dict(
            conn.execute(text("SELECT bidder, payment_proposal FROM auction_award ORDER BY bidder")).all()
        )
        assert awards["ent:B"] is None  # settled: nothing left to pay
        (proposal,) = conn.execute(
            text("SELECT id, kind, party, terms, status, expires_at FROM proposal")
        ).all()
        slots = conn.execute(
            text("SELECT slot, party, signed_at FROM proposal_signer WHERE proposal_id = :id ORDER BY slot"),
            {"id": proposal.id},
        ).all()
    assert awards["ent:A"] == proposal.id
    assert (proposal.kind, proposal.party, proposal.status, proposal.expires_at) == (
        "auction.payment",
        "bureau:330281",
        "pending",
        DUE,
    )
    terms = {
        "auction_id": "A-OLD",
        "bidder": "ent:A",
        "instrument": "COD",
        "quantity_kg": 600,
        "amount_fen": 720000,
    }
    assert json.loads(proposal.terms) == terms
    assert proposal.terms == canonical_bytes(terms).decode()  # the form the service writes
    assert [tuple(s) for s in slots] == [(0, "bureau:330281", None), (1, "ent:A", None)]
