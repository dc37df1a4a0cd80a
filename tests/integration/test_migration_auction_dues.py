"""Revision 0017 puts on the ledger's auction book what each winner of a closed auction owes, filled for
auctions closed before it from their recorded awards, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from api.migrations import head, upgrade
from ledger.auction_book import terms_meta
from ledger.auction_clearing import AuctionTerms
from ledger.auction_designs import AuctionDesign, FixedDeposit
from ledger.auction_store import load_book
from tests.integration.test_migrations import _differences, blank

__all__ = ["blank"]  # the fixture: an empty database of this test's own, on either engine

TERMS = terms_meta(
    AuctionTerms(
        auction_id="-",
        instrument="COD",
        jurisdiction="330281",
        quantity_kg=1000,
        reserve_price_fen_per_t=1_000_000,
        design=AuctionDesign.PAY_AS_BID,
        opens_at=datetime(2026, 12, 1, tzinfo=UTC),
        closes_at=datetime(2026, 12, 1, 2, tzinfo=UTC),
        deposit_rule=FixedDeposit(10_000),
    ),
    date(2030, 12, 31),
    None,
)


def _auction(conn: Connection, auction_id: str, *, closed: bool, awards: dict[str, int]) -> None:
    terms = json.dumps({**TERMS, "auction_id": auction_id})
    conn.execute(
        text(
            "INSERT INTO ledger_auction (auction_id, bureau, hold, terms, open, opened_seq, pledge) "
            "VALUES (:id, 'bureau:330281', :hold, :terms, :open, 5, 'PL-1')"
        ),
        {"id": auction_id, "hold": f"auction:{auction_id}", "terms": terms, "open": not closed},
    )
    conn.execute(
        text(
            "INSERT INTO auction (auction_id, bureau, instrument, jurisdiction, valid_until, quantity_kg, "
            "reserve_price_fen_per_t, design, opens_at, closes_at, deposit_kind, extension_us, "
            "payment_window_us, hold, status, opened_seq) VALUES (:id, 'bureau:330281', 'COD', '330281', "
            "'2030-12-31', 1000, 1000000, 'pay_as_bid', 'a', 'b', 'fixed', 1, 1, :hold, :status, 5)"
        ),
        {"id": auction_id, "hold": f"auction:{auction_id}", "status": "closed" if closed else "open"},
    )
    for bidder, fen in awards.items():
        conn.execute(
            text(
                "INSERT INTO auction_award (auction_id, bidder, quantity_kg, amount_fen, deposit_fen, hold, "
                "status) VALUES (:id, :bidder, 600, :fen, 10000, :hold, 'pending')"
            ),
            {"id": auction_id, "bidder": bidder, "fen": fen, "hold": f"auction:{auction_id}:award:{bidder}"},
        )


def test_an_auction_closed_before_revision_0017_keeps_its_winners_dues_after_it(blank: Engine) -> None:
    assert upgrade(blank, "0015") == "0015"
    with blank.begin() as conn:
        _auction(conn, "FS-OLD", closed=True, awards={"ent:A": 720_000, "ent:B": 5})
        _auction(conn, "FS-OPEN", closed=False, awards={})

    assert upgrade(blank) == head()

    assert _differences(blank) == []
    with Session(blank) as s:
        old = load_book(s.connection(), "FS-OLD")
        still_open = load_book(s.connection(), "FS-OPEN")
    assert old is not None
    assert (old.open, old.dues) == (False, {"ent:A": 720_000, "ent:B": 5})
    assert still_open is not None
    assert (still_open.open, still_open.dues) == (True, None)
