"""The live ledger's copy of its auction books (``ledger.auction_book``) in the ``ledger_auction`` tables:
read one book for a record's checks, write what a batch of accepted records changed. Replay needs none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from ledger.auction_book import AuctionBook, AuctionChange, BookBid, terms_from_meta, terms_meta
from ledger.canonical import canonical_bytes
from ledger.tables import AuctionBookBidRow, AuctionBookRow
from ledger.timeutil import format_utc, parse_utc

__all__ = ["load_book", "write_changes"]

AB = cast(Table, AuctionBookRow.__table__)  # type: ignore[attr-defined]
ABB = cast(Table, AuctionBookBidRow.__table__)  # type: ignore[attr-defined]
_BOOK = select(AB).where(AB.c.auction_id == bindparam("id"))
_BIDS = select(ABB).where(ABB.c.auction_id == bindparam("id")).order_by(ABB.c.seq)
_CLOSE = update(AB).where(AB.c.auction_id == bindparam("b_id")).values(open=False, dues=bindparam("b_dues"))


def load_book(c: Connection, auction_id: str) -> AuctionBook | None:
    """The auction ``auction_id`` with every bid recorded so far, or None if the journal has not opened it."""
    row = c.execute(_BOOK, {"id": auction_id}).first()
    if row is None:
        return None
    terms, valid_until = terms_from_meta(json.loads(row.terms))
    book = AuctionBook(terms, valid_until, row.bureau, row.hold, bool(row.open), pledge=row.pledge)
    if row.dues is not None:
        book.dues = {str(k): int(v) for k, v in json.loads(row.dues).items()}
    for bid in (
        BookBid(
            seq=b.seq,
            bidder=b.bidder,
            at=parse_utc(b.at),
            need_kg=b.need_kg,
            deposit_fen=b.deposit_fen,
            deposit_hold=b.deposit_hold,
            commitment=b.commitment,
            salt_held=bool(b.salt_held),
            price_fen_per_t=b.price_fen_per_t,
            quantity_kg=b.quantity_kg,
        )
        for b in c.execute(_BIDS, {"id": auction_id})
    ):
        book.add(bid)
    return book


def write_changes(c: Connection, changes: Sequence[tuple[int, AuctionChange]]) -> None:
    """Write a batch's auction changes, each with the sequence number of the record that made it."""
    books: list[dict[str, Any]] = []
    bids: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    for seq, change in changes:
        if change.opened is not None:
            book = change.opened
            meta = terms_meta(book.terms, book.valid_until, None)
            books.append(
                {
                    "auction_id": change.auction_id,
                    "bureau": book.bureau,
                    "hold": book.hold,
                    "terms": canonical_bytes(meta).decode(),
                    "open": True,
                    "opened_seq": seq,
                    "pledge": book.pledge,
                }
            )
        if change.bid is not None:
            bids.append(_bid_row(change.auction_id, seq, change.bid))
        if change.closed:
            dues = None if change.dues is None else canonical_bytes(change.dues).decode()
            closed.append({"b_id": change.auction_id, "b_dues": dues})
    if books:
        c.execute(insert(AB), books)
    if bids:
        c.execute(insert(ABB), bids)
    if closed:
        c.execute(_CLOSE, closed)


def _bid_row(auction_id: str, seq: int, bid: BookBid) -> dict[str, Any]:
    return {
        "auction_id": auction_id,
        "seq": bid.seq,
        "record_seq": seq,
        "bidder": bid.bidder,
        "at": format_utc(bid.at),
        "need_kg": bid.need_kg,
        "deposit_fen": bid.deposit_fen,
        "deposit_hold": bid.deposit_hold,
        "commitment": bid.commitment,
        "salt_held": bid.salt_held,
        "price_fen_per_t": bid.price_fen_per_t,
        "quantity_kg": bid.quantity_kg,
    }
