"""Reads of credit projects (blue carbon, bamboo carbon), reports and batches for the console: a
participant's own projects, a bureau's projects to verify, and each serial block labelled by project,
vintage and range, each with the code of the credit it is in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, col, or_, select

from accounts.model import Participant
from ledger.households import SALE_ACTION
from ledger.records import transactions_with_action
from market.bluecarbon.projects import project_credit
from market.bluecarbon.serials import SERIAL_KG
from market.bluecarbon.tables import (
    BlueCarbonBatchRow,
    BlueCarbonProjectRow,
    MonitoringReportRow,
    SerialBlockRow,
)

__all__ = [
    "HeldRange",
    "ProjectView",
    "Retirement",
    "held_ranges",
    "projects_for",
    "report_result",
    "retirements_of",
]

# The records that put credits into a retirement account: a holder's own retirement (注销) and a sale
# retired straight for its buyer (``ledger.households``), both with the beneficiary in their meta.
RETIRING_ACTIONS: Final = ("bc.retire", SALE_ACTION)


@dataclass(frozen=True, slots=True)
class ProjectView:
    """A project with its reports (newest first) and the batches issued from them."""

    project: BlueCarbonProjectRow
    reports: list[MonitoringReportRow]
    batches: list[BlueCarbonBatchRow]
    instrument: str  # the serialized credit its methodology issues


@dataclass(frozen=True, slots=True)
class HeldRange:
    """Serials ``start``-``end`` of a batch held by an account, with the batch's project and vintage:
    what a label shows apart (project · vintage · start-end), never run together."""

    batch: str
    project: str
    project_name: str
    vintage: int
    start: int
    end: int
    account: str
    instrument: str

    @property
    def tonnes(self) -> int:
        return self.end - self.start + 1


def projects_for(session: Session, *, actor: Participant) -> list[ProjectView]:
    """The projects ``actor`` owns, or, for a bureau, those whose reports it verifies."""
    stmt = select(BlueCarbonProjectRow).where(
        or_(col(BlueCarbonProjectRow.owner) == actor.party, col(BlueCarbonProjectRow.bureau) == actor.party)
    )
    out = []
    for row in session.exec(stmt.order_by(col(BlueCarbonProjectRow.project))):
        reports = session.exec(
            select(MonitoringReportRow)
            .where(MonitoringReportRow.project == row.project)
            .order_by(col(MonitoringReportRow.monitoring_start).desc())
        ).all()
        batches = session.exec(
            select(BlueCarbonBatchRow)
            .where(BlueCarbonBatchRow.project == row.project)
            .order_by(col(BlueCarbonBatchRow.serial_start))
        ).all()
        out.append(ProjectView(row, list(reports), list(batches), project_credit(row)))
    return out


def held_ranges(session: Session, *, accounts: list[str]) -> list[HeldRange]:
    """The live serial blocks of ``accounts`` (the caller checked it may read them), labelled."""
    stmt = (
        select(SerialBlockRow, BlueCarbonBatchRow, BlueCarbonProjectRow)
        .join(BlueCarbonBatchRow, col(BlueCarbonBatchRow.batch) == col(SerialBlockRow.batch))
        .join(BlueCarbonProjectRow, col(BlueCarbonProjectRow.project) == col(BlueCarbonBatchRow.project))
        .where(col(SerialBlockRow.account).in_(accounts))
        .order_by(col(SerialBlockRow.account), col(SerialBlockRow.batch), col(SerialBlockRow.start))
    )
    return [
        HeldRange(b.batch, p.project, p.name, b.vintage, s.start, s.end, s.account, project_credit(p))
        for s, b, p in session.exec(stmt)
    ]


def report_result(report: MonitoringReportRow) -> dict[str, Any]:
    """The methodology's stored result: inputs, parameters with their sources, every step."""
    result: dict[str, Any] = json.loads(report.result_json)
    return result


@dataclass(frozen=True, slots=True)
class Retirement:
    """One retirement into an account as its signed record states it: when, which serials, for whom
    (受益方) and why."""

    seq: int
    time: datetime
    batch: str
    project_name: str
    tonnes: int
    serials: tuple[tuple[int, int], ...]
    beneficiary: str
    reason: str


def retirements_of(session: Session, *, account: str, limit: int = 500) -> list[Retirement]:
    """The retirements credited to ``account`` (the caller checked it may read it), newest first, read
    from the records themselves, so the beneficiary and reason are the ones the holder signed."""
    names = {
        b.batch: p.name
        for b, p in session.exec(
            select(BlueCarbonBatchRow, BlueCarbonProjectRow).join(
                BlueCarbonProjectRow, col(BlueCarbonProjectRow.project) == col(BlueCarbonBatchRow.project)
            )
        )
    }
    out = []
    for tx in transactions_with_action(session, actions=RETIRING_ACTIONS, limit=10_000):
        kg = sum(p.amount for p in tx.body.postings if p.account == account and p.amount > 0)
        if kg <= 0:
            continue
        meta = tx.body.meta
        batch = str(meta.get("batch", ""))
        serials = tuple(
            (int(r[0]), int(r[1]))
            for r in meta.get("serials", [])
            if isinstance(r, list) and len(r) == 2 and all(isinstance(n, int) for n in r)
        )
        out.append(
            Retirement(
                seq=tx.seq,
                time=tx.time,
                batch=batch,
                project_name=names.get(batch, ""),
                tonnes=kg // SERIAL_KG,  # one serial per tonne
                serials=serials,
                beneficiary=str(meta.get("beneficiary", "")),
                reason=str(meta.get("reason", "")),
            )
        )
        if len(out) >= limit:
            break
    return out
