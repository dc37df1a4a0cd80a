"""The records that touched a set of accounts: postings on them, holds placed or closed on them, and
holds they control (a pledge's bank), newest first, paged and filtered in the database.

Read-only; whoever may ask is decided above the ledger (``accounts.history``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select, union
from sqlmodel import Session

from ledger.repository import H, J, P, conn
from ledger.timeutil import format_utc, parse_utc

__all__ = ["Movement", "Touch", "records_touching"]


@dataclass(frozen=True, slots=True)
class Movement:
    """One posting of a record on one of the accounts asked about (kg, kg CO2e or fen)."""

    account: str
    instrument: str
    lot: str
    amount: int


@dataclass(frozen=True, slots=True)
class Touch:
    """A record that touched the accounts: where it sits, when, what it was, what it moved there."""

    seq: int
    time: datetime
    type: str
    action: str | None
    movements: tuple[Movement, ...]
    holds: tuple[str, ...]  # holds on (or controlled by) the accounts that the record placed or closed


def _holds_of(accounts: Sequence[str], controller: str | None) -> ColumnElement[bool]:
    on_accounts = H.c.account.in_(accounts)
    return on_accounts if controller is None else or_(on_accounts, H.c.controller == controller)


def _seqs(accounts: Sequence[str], controller: str | None, instrument: str | None) -> Select[tuple[int]]:
    """Every record number that touched the accounts, as one union (a record appears once)."""
    on_postings = select(P.c.seq.label("seq")).where(P.c.account.in_(accounts))
    mine = _holds_of(accounts, controller)
    placed = select(H.c.placed_seq.label("seq")).where(mine)
    closed = select(H.c.closed_seq.label("seq")).where(mine, H.c.closed_seq.is_not(None))
    if instrument is not None:
        on_postings = on_postings.where(P.c.instrument == instrument)
        placed, closed = (
            placed.where(H.c.instrument == instrument),
            closed.where(H.c.instrument == instrument),
        )
    return select(union(on_postings, placed, closed).subquery().c.seq)


def records_touching(
    session: Session,
    *,
    accounts: Sequence[str],
    controller: str | None = None,
    instrument: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    seq: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Touch], int]:
    """The records (newest first) that posted to ``accounts``, placed or closed a hold on them, or on
    a hold ``controller`` controls; filtered by instrument, record action (or type) and time
    [``since``, ``until``) or one record ``seq``. Returns one page and the number of records that match."""
    if not accounts:
        return [], 0
    seqs = _seqs(accounts, controller, instrument).subquery()
    query = select(J.c.seq, J.c.time, J.c.type, J.c.action).where(J.c.seq.in_(select(seqs.c.seq)))
    if action is not None:
        query = query.where(or_(J.c.action == action, J.c.type == action))
    if seq is not None:
        query = query.where(J.c.seq == seq)
    if since is not None:
        query = query.where(J.c.time >= format_utc(since))
    if until is not None:
        query = query.where(J.c.time < format_utc(until))
    db = conn(session)
    total = int(db.execute(select(func.count()).select_from(query.subquery())).scalar() or 0)
    rows = db.execute(query.order_by(J.c.seq.desc()).offset(offset).limit(limit)).all()
    if not rows:
        return [], total
    page = [r.seq for r in rows]
    moved: dict[int, list[Movement]] = {}
    for p in db.execute(
        select(P.c.seq, P.c.account, P.c.instrument, P.c.lot, P.c.amount)
        .where(P.c.seq.in_(page), P.c.account.in_(accounts))
        .order_by(P.c.seq, P.c.idx)
    ):
        moved.setdefault(p.seq, []).append(Movement(p.account, p.instrument, p.lot, p.amount))
    held: dict[int, list[str]] = {}
    mine = _holds_of(accounts, controller)
    for h in db.execute(
        select(H.c.id, H.c.placed_seq, H.c.closed_seq).where(
            mine, or_(H.c.placed_seq.in_(page), H.c.closed_seq.in_(page))
        )
    ):
        for seq in {h.placed_seq, h.closed_seq} & set(page):
            held.setdefault(seq, []).append(h.id)
    return [
        Touch(
            r.seq,
            parse_utc(r.time),
            r.type,
            r.action,
            tuple(moved.get(r.seq, ())),
            tuple(sorted(held.get(r.seq, ()))),
        )
        for r in rows
    ], total
