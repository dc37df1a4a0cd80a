"""Storage of the live serial blocks (``serial_block`` rows): read the blocks a move touches, and
write back what the serial book holds after it. The journal is the truth; these rows follow it."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from market.bluecarbon.serials import SerialBlock, SerialBook
from market.bluecarbon.tables import SerialBlockRow

__all__ = ["read_blocks", "write_blocks"]


def read_blocks(session: Session, keys: set[tuple[str, str]]) -> list[SerialBlock]:
    """The stored blocks of each (account, batch) in ``keys``."""
    out = []
    for account, batch in sorted(keys):
        rows = session.exec(
            select(SerialBlockRow).where(SerialBlockRow.account == account, SerialBlockRow.batch == batch)
        )
        out += [SerialBlock(r.batch, r.start, r.end, r.account) for r in rows]
    return out


def write_blocks(session: Session, book: SerialBook, keys: set[tuple[str, str]]) -> None:
    """Replace the stored blocks of each (account, batch) in ``keys`` by the book's: all deletes
    first, since a serial leaving one account may start a block of another."""
    conn = session.connection()
    for account, batch in sorted(keys):
        conn.execute(
            delete(SerialBlockRow).where(
                col(SerialBlockRow.account) == account, col(SerialBlockRow.batch) == batch
            )
        )
    rows = [
        {"batch": b.batch, "start": b.start, "end": b.end, "account": b.account}
        for account, batch in sorted(keys)
        for b in book.blocks(account=account, batch=batch)
    ]
    if rows:
        conn.execute(insert(SerialBlockRow), rows)
