"""Sink-credit projects (贻贝养殖碳汇, 竹林碳汇 ...) and their monitoring reports: registration by the owner,
reports computed by a versioned methodology from the measured inputs, and the reads of projects, batches,
serials. A project's instrument is the one its methodology issues."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from accounts.identifiers import ancestors, check_division
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, find_participant, target_for_account
from ledger.errors import InvalidInput
from ledger.service import lock_head_time
from ledger.timeutil import format_utc, utc_now
from market.bluecarbon.errors import (
    DuplicateProject,
    OverlappingMonitoringPeriod,
    UnknownBatch,
    UnknownMonitoringReport,
    UnknownProject,
)
from market.bluecarbon.serials import SerialBlock
from market.bluecarbon.tables import (
    BlueCarbonBatchRow,
    BlueCarbonProjectRow,
    MonitoringReportRow,
    SerialBlockRow,
)
from methodologies.base import decimal_text, evaluate
from methodologies.errors import FieldProblem, InvalidMonitoringData
from methodologies.registry import get

__all__ = [
    "MonitoringReport",
    "ProjectSpec",
    "batch_credit",
    "get_batch",
    "get_project",
    "get_report",
    "project_credit",
    "register_project",
    "submit_report",
]

_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,47}")  # batch ids "<project>-<vintage>-<n>" stay ids


def checked_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidInput(f"{field} must be 1-200 characters", field=field)
    return value


def _area(value: object) -> Decimal:
    """A farm area in mu: Decimal, decimal text or int (never float), positive, 4 places at most."""
    if isinstance(value, float):
        raise TypeError("floats are not accepted for area_mu: give a str or Decimal")
    try:
        area = Decimal(value) if isinstance(value, str | int) and not isinstance(value, bool) else value
    except InvalidOperation:
        area = None
    exponent = area.as_tuple().exponent if isinstance(area, Decimal) else "n"
    if not isinstance(area, Decimal) or not isinstance(exponent, int) or area <= 0 or exponent < -4:
        raise InvalidInput(
            "area_mu must be a positive number of mu with at most 4 decimal places", field="area_mu"
        )
    if area.adjusted() > 9:
        raise InvalidInput("area_mu is out of range", field="area_mu")
    return area


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """What registering a mussel-farm project needs; validated on construction (floats refused)."""

    project: str
    name: str
    location: str
    area_mu: Decimal
    households: int
    methodology: str = "hyt0305-bivalve"
    version: str = "1.0"
    division: str | None = None  # where the farm is; default: the owner's jurisdiction

    def __post_init__(self) -> None:
        if not isinstance(self.project, str) or not _PROJECT_ID.fullmatch(self.project):
            raise InvalidInput("project must be 1-48 letters, digits and inner hyphens", field="project")
        checked_text(self.name, "name")
        checked_text(self.location, "location")
        object.__setattr__(self, "area_mu", _area(self.area_mu))
        if isinstance(self.households, bool) or not isinstance(self.households, int) or self.households < 1:
            raise InvalidInput("households must be a positive whole number", field="households")
        get(self.methodology, self.version)  # UnknownMethodology when not registered
        if self.division is not None:
            check_division(self.division, field="division")


@dataclass(frozen=True, slots=True)
class MonitoringReport:
    """A stored report: its period, the methodology's sink and full result, and its status."""

    id: str
    project: str
    monitoring_start: date
    monitoring_end: date
    sink_kg_co2e: int
    input_hash: str
    status: str
    batch: str | None
    result: dict[str, Any]


def _report(row: MonitoringReportRow) -> MonitoringReport:
    return MonitoringReport(
        row.id,
        row.project,
        date.fromisoformat(row.monitoring_start),
        date.fromisoformat(row.monitoring_end),
        row.sink_kg_co2e,
        row.input_hash,
        row.status,
        row.batch,
        json.loads(row.result_json),
    )


def get_project(session: Session, *, project: str) -> BlueCarbonProjectRow:
    """The project ``project``, or ``UnknownProject``."""
    row = session.get(BlueCarbonProjectRow, project)
    if row is None:
        raise UnknownProject(f"no credit project {project}", field="project", project=project)
    return row


def get_report(session: Session, *, report: str) -> MonitoringReport:
    """The monitoring report ``report``, or ``UnknownMonitoringReport``."""
    row = session.get(MonitoringReportRow, report)
    if row is None:
        raise UnknownMonitoringReport(f"no monitoring report {report}", field="report", report=report)
    return _report(row)


def get_batch(session: Session, *, batch: str) -> BlueCarbonBatchRow:
    """The issued batch ``batch``, or ``UnknownBatch``."""
    row = session.get(BlueCarbonBatchRow, batch)
    if row is None:
        raise UnknownBatch(f"no credit batch {batch}", field="batch", batch=batch)
    return row


def project_credit(project: BlueCarbonProjectRow) -> str:
    """The code of the serialized credit ``project`` is issued in: its methodology's instrument."""
    return get(project.methodology, project.version).instrument


def batch_credit(session: Session, batch: BlueCarbonBatchRow) -> str:
    """The code of the serialized credit of an issued ``batch`` (its project's)."""
    return project_credit(get_project(session, project=batch.project))


def _verifying_bureau(session: Session, division: str) -> Participant:
    for code in [division, *ancestors(division)]:
        found = find_participant(session, party=f"bureau:{code}")
        if found is not None and found.role is Role.BUREAU:
            return found
    raise InvalidInput(f"no registered bureau covers division {division}", field="division")


def register_project(session: Session, *, actor: Participant, spec: ProjectSpec) -> BlueCarbonProjectRow:
    """Register a project owned by ``actor`` (a cooperative or enterprise). Its reports are
    verified by the nearest registered bureau whose jurisdiction covers the farm's division
    (Shengsi 330922 -> Zhoushan 330900), whose cap the credits are issued from."""
    authorize(actor, Action.REGISTER_PROJECT, party_target(actor.party, SessionDirectory(session)))
    division = spec.division or actor.jurisdiction
    if division is None:
        raise InvalidInput("give the division the farm lies in", field="division")
    bureau = _verifying_bureau(session, division)
    lock_head_time(session)  # one writer at a time: a project id is taken once
    if session.get(BlueCarbonProjectRow, spec.project) is not None:
        raise DuplicateProject(f"project {spec.project} is already registered", field="project")
    row = BlueCarbonProjectRow(
        project=spec.project,
        name=spec.name,
        location=spec.location,
        division=division,
        bureau=bureau.party,
        jurisdiction=str(bureau.jurisdiction),
        area_mu=decimal_text(spec.area_mu),
        households=spec.households,
        owner=actor.party,
        methodology=spec.methodology,
        version=spec.version,
        registered_at=format_utc(utc_now()),
    )
    session.add(row)
    session.flush()
    return row


def _project_problems(
    project: BlueCarbonProjectRow, data: Mapping[str, Any], seen: set[str]
) -> list[FieldProblem]:
    """The report's data against the project: its id, and an area within the registered farm."""
    problems = []
    if "project_id" not in seen and data.get("project_id") != project.project:
        problems.append(FieldProblem("project_id", f"must be {project.project}, the project reported on"))
    raw = data.get("farm_area_mu")
    if "farm_area_mu" not in seen and isinstance(raw, str | int | Decimal) and not isinstance(raw, bool):
        try:
            if Decimal(raw) > Decimal(project.area_mu):
                problems.append(
                    FieldProblem("farm_area_mu", f"exceeds the project's registered {project.area_mu} mu")
                )
        except InvalidOperation:
            pass  # the methodology has reported it already
    return problems


def submit_report(
    session: Session, *, actor: Participant, project: str, data: Mapping[str, Any]
) -> MonitoringReport:
    """Submit monitoring data (监测数据) for a period; only the project's owner.

    The data are validated by the project's methodology and against the project; every problem
    found is refused at once in one ``InvalidMonitoringData``, one message per field. Periods
    (both days included) may not overlap an earlier report of the project, so no harvest counts
    twice. The result, with every intermediate figure, is stored with the report.
    """
    row = get_project(session, project=project)
    authorize(actor, Action.SUBMIT_MONITORING, party_target(row.owner, SessionDirectory(session)))
    lock_head_time(session)  # one writer at a time: two overlapping reports cannot both pass the check
    problems: list[FieldProblem] = []
    try:
        result = evaluate(get(row.methodology, row.version), data)
    except InvalidMonitoringData as exc:
        problems = list(exc.problems)
    problems += _project_problems(row, data, {p.field for p in problems})
    if problems:
        raise InvalidMonitoringData(problems)
    start, end = (
        date.fromisoformat(result.inputs["monitoring_start"]),
        date.fromisoformat(result.inputs["monitoring_end"]),
    )
    earlier = session.exec(select(MonitoringReportRow).where(MonitoringReportRow.project == project)).all()
    for other in earlier:
        if (
            start <= date.fromisoformat(other.monitoring_end)
            and date.fromisoformat(other.monitoring_start) <= end
        ):
            raise OverlappingMonitoringPeriod(
                f"{start} to {end} overlaps report {other.id} "
                f"({other.monitoring_start} to {other.monitoring_end})",
                field="monitoring_start",
                report=other.id,
            )
    report = MonitoringReportRow(
        id=f"{project}-R{len(earlier) + 1}",
        project=project,
        monitoring_start=start.isoformat(),
        monitoring_end=end.isoformat(),
        submitted_by=actor.party,
        submitted_at=format_utc(utc_now()),
        inputs_json=json.dumps(result.inputs, sort_keys=True, ensure_ascii=False),
        result_json=json.dumps(result.as_json(), sort_keys=True, ensure_ascii=False),
        input_hash=result.input_hash,
        sink_kg_co2e=result.sink_kg_co2e,
        status="submitted",
    )
    session.add(report)
    session.flush()
    return _report(report)


def serials_of(session: Session, *, account: str) -> list[SerialBlock]:
    """The live serial blocks ``account`` holds, by batch and serial."""
    rows = session.exec(
        select(SerialBlockRow)
        .where(SerialBlockRow.account == account)
        .order_by(col(SerialBlockRow.batch), col(SerialBlockRow.start))
    )
    return [SerialBlock(r.batch, r.start, r.end, r.account) for r in rows]


def account_serials(session: Session, *, actor: Participant, account: str) -> list[SerialBlock]:
    """The live serial blocks of ``account``, for those who may read it (its owner, the bureaus over
    its jurisdiction, auditors, the operator); ``PermissionDenied`` otherwise."""
    authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=account))
    return serials_of(session, account=account)
