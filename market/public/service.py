"""The public registry's read model (公开信息): what registries publish without a login, and nothing else:
blue-carbon projects, issuances and retirements by serial range, auction results after close, caps per city.

What is left out on purpose: account and party ids of enterprises (winners and owners are named, as a
成交公示 names them), balances, holdings, pledges, bids and bidders who did not win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from accounts.identifiers import account_id
from accounts.model import Role
from accounts.service import participants
from ledger.model import Lot
from ledger.records import transactions_with_action
from ledger.service import balances
from ledger.units import INSTRUMENTS
from market.auctions.state import AuctionStatus, get_auction
from market.auctions.tables import AuctionRow
from market.bluecarbon.projects import project_credit
from market.bluecarbon.serials import ISSUE_ACTION
from market.bluecarbon.tables import BlueCarbonBatchRow, BlueCarbonProjectRow
from market.issuance.service import CapPosition, cap_position

__all__ = [
    "PublicAuction",
    "PublicBatch",
    "PublicProject",
    "PublicRetirement",
    "PublicWinner",
    "public_auctions",
    "public_batches",
    "public_caps",
    "public_projects",
    "public_retirements",
]

RETIRE_ACTION = "bc.retire"  # market.bluecarbon.service.retire_credits
MAX_ROWS = 5_000  # a public page is a summary, not a bulk export of the journal


@dataclass(frozen=True, slots=True)
class PublicProject:
    """A credit project (blue carbon, bamboo carbon) as registries publish it (Verra, UNDP's carbon
    registry): who and where, and the credit it is issued in."""

    project: str
    name: str
    location: str
    division: str
    area_mu: str  # decimal text, as registered
    households: int
    owner_name: str
    bureau_name: str
    methodology: str
    version: str
    registered_at: str
    instrument: str


@dataclass(frozen=True, slots=True)
class PublicBatch:
    """A vintage batch issued, with its serial range (one serial per tonne CO2e) and buffer share."""

    batch: str
    project: str
    vintage: int
    jurisdiction: str
    serial_start: int
    serial_end: int
    issued_kg: int
    buffer_kg: int
    issued_seq: int
    issued_at: datetime | None
    instrument: str


@dataclass(frozen=True, slots=True)
class PublicRetirement:
    """A retirement (注销) as recorded: serial ranges, for whom (beneficiary) and why."""

    seq: int
    time: datetime
    batch: str
    project: str | None
    tonnes: int
    serials: tuple[tuple[int, int], ...]
    beneficiary: str
    reason: str


@dataclass(frozen=True, slots=True)
class PublicWinner:
    """One line of a 成交公示: the winner by name, what it won and at which price."""

    name: str
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class PublicAuction:
    """A closed auction's result (成交公示)."""

    auction_id: str
    bureau_name: str
    jurisdiction: str
    instrument: str
    design: str
    offered_kg: int
    sold_kg: int
    unsold_kg: int
    clearing_price_fen_per_t: int | None
    revenue_fen: int
    opened_at: datetime
    closed_at: datetime
    winners: tuple[PublicWinner, ...]

    @property
    def bidders_won(self) -> int:
        return len({w.name for w in self.winners})

    @property
    def lowest_price_fen_per_t(self) -> int | None:
        return min((w.price_fen_per_t for w in self.winners), default=None)

    @property
    def highest_price_fen_per_t(self) -> int | None:
        return max((w.price_fen_per_t for w in self.winners), default=None)


def _names(session: Session) -> dict[str, str]:
    return {p.party: p.name for p in participants(session)}


def public_projects(session: Session) -> list[PublicProject]:
    """Every registered credit project, by id."""
    names = _names(session)
    rows = session.exec(select(BlueCarbonProjectRow).order_by(col(BlueCarbonProjectRow.project)))
    return [
        PublicProject(
            project=r.project,
            name=r.name,
            location=r.location,
            division=r.division,
            area_mu=r.area_mu,
            households=r.households,
            owner_name=names.get(r.owner, ""),
            bureau_name=names.get(r.bureau, r.bureau),
            methodology=r.methodology,
            version=r.version,
            registered_at=r.registered_at,
            instrument=project_credit(r),
        )
        for r in rows.all()[:MAX_ROWS]
    ]


def public_batches(session: Session) -> list[PublicBatch]:
    """Every issued batch, by serial range; each with the time of its issuance record."""
    times = {tx.seq: tx.time for tx in transactions_with_action(session, actions={ISSUE_ACTION})}
    rows = session.exec(select(BlueCarbonBatchRow).order_by(col(BlueCarbonBatchRow.serial_start)))
    credits = {p.project: project_credit(p) for p in session.exec(select(BlueCarbonProjectRow)).all()}
    return [
        PublicBatch(
            batch=r.batch,
            project=r.project,
            vintage=r.vintage,
            jurisdiction=r.jurisdiction,
            serial_start=r.serial_start,
            serial_end=r.serial_end,
            issued_kg=r.issued_kg,
            buffer_kg=r.buffer_kg,
            issued_seq=r.issued_seq,
            issued_at=times.get(r.issued_seq),
            instrument=credits[r.project],
        )
        for r in rows.all()[:MAX_ROWS]
    ]


def _ranges(value: object) -> tuple[tuple[int, int], ...]:
    out = []
    for item in value if isinstance(value, list) else []:  # SerialRange.to_json: [start, end]
        if isinstance(item, list) and len(item) == 2 and all(isinstance(n, int) for n in item):
            out.append((item[0], item[1]))
    return tuple(out)


def public_retirements(session: Session) -> list[PublicRetirement]:
    """Every retirement, newest first, read from the signed records (meta: batch, serials, beneficiary,
    reason); the retiring account is not shown."""
    projects = {r.batch: r.project for r in session.exec(select(BlueCarbonBatchRow)).all()}
    out = []
    for tx in transactions_with_action(session, actions={RETIRE_ACTION}, limit=MAX_ROWS):
        meta = tx.body.meta
        batch = str(meta.get("batch", ""))
        tonnes = meta.get("tonnes")
        out.append(
            PublicRetirement(
                seq=tx.seq,
                time=tx.time,
                batch=batch,
                project=projects.get(batch),
                tonnes=tonnes if isinstance(tonnes, int) else 0,
                serials=_ranges(meta.get("serials")),
                beneficiary=str(meta.get("beneficiary", "")),
                reason=str(meta.get("reason", "")),
            )
        )
    return out


def public_auctions(session: Session, *, now: datetime) -> list[PublicAuction]:
    """Results of auctions closed at ``now`` (never of one still taking bids), newest first."""
    names = _names(session)
    rows = session.exec(
        select(AuctionRow)
        .where(col(AuctionRow.status).in_([AuctionStatus.CLOSED.value, AuctionStatus.SETTLED.value]))
        .order_by(col(AuctionRow.opened_seq).desc())
    ).all()
    out = []
    for row in rows[:MAX_ROWS]:
        auction = get_auction(session, auction_id=row.auction_id)
        result = auction.result
        if result is None or result.closed_at > now:
            continue
        winners = tuple(
            PublicWinner(names.get(a.bidder, ""), a.quantity_kg, a.price_fen_per_t, a.amount_fen)
            for a in result.allocations
        )
        out.append(
            PublicAuction(
                auction_id=auction.auction_id,
                bureau_name=names.get(auction.bureau, auction.bureau),
                jurisdiction=auction.terms.jurisdiction,
                instrument=auction.terms.instrument,
                design=auction.terms.design.value,
                offered_kg=auction.terms.quantity_kg,
                sold_kg=result.sold_kg,
                unsold_kg=result.unsold_kg,
                clearing_price_fen_per_t=result.clearing_price_fen_per_t,
                revenue_fen=result.revenue_fen,
                opened_at=auction.terms.opens_at,
                closed_at=result.closed_at,
                winners=winners,
            )
        )
    return out


def public_caps(session: Session) -> list[CapPosition]:
    """Each bureau's cap in force, allocated and in reserve, per instrument and lot (by city)."""
    rights = [code for code, inst in INSTRUMENTS.items() if inst.scoped_to_jurisdiction]
    out = []
    for bureau in participants(session, role=Role.BUREAU):
        if bureau.jurisdiction is None:
            continue
        lots: set[tuple[str, date]] = set()
        for code in rights:
            for b in balances(session, account=account_id(bureau.party, "cap", code)):
                until = Lot.from_key(b.lot).valid_until
                if b.instrument == code and until is not None:
                    lots.add((code, until))
        out += [
            cap_position(session, jurisdiction=bureau.jurisdiction, instrument=code, valid_until=until)
            for code, until in sorted(lots)
        ]
    return out
