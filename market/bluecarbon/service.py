"""Blue-carbon credits from mussel farming (贻贝养殖碳汇): projects, monitoring reports computed by a
methodology, verified issuance of vintage batches with serials and a buffer pool, transfer and retirement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sqlalchemy import delete, func, insert
from sqlmodel import Session, col, select

from accounts.identifiers import account_id, ancestors, check_division
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, find_participant, target_for_account
from ledger.errors import InvalidInput, UnknownAccount
from ledger.model import AccountKind, Lot, OpenAccount, Posting, TxBody
from ledger.service import Instruction, Receipt, Registry, find_account, lock_head_time, new_nonce, submit_all
from ledger.timeutil import format_utc, utc_now
from market.bluecarbon.errors import (
    DuplicateProject,
    NothingToIssue,
    OverlappingMonitoringPeriod,
    ReportAlreadyIssued,
    UnknownBatch,
    UnknownMonitoringReport,
    UnknownProject,
)
from market.bluecarbon.serials import (
    BC,
    ISSUE_ACTION,
    SERIAL_KG,
    IssuanceSplit,
    SerialBlock,
    SerialBook,
    SerialRange,
    split_issuance,
)
from market.bluecarbon.tables import (
    BlueCarbonBatchRow,
    BlueCarbonProjectRow,
    MonitoringReportRow,
    SerialBlockRow,
)
from market.consent import Consent, signed_instruction
from market.households.attribution import issuance_attribution
from market.issuance.service import bureau_of
from methodologies.base import Result, decimal_text, evaluate
from methodologies.errors import FieldProblem, InvalidMonitoringData
from methodologies.registry import get, recompute

__all__ = [
    "DEFAULT_BUFFER_BPS",
    "CreditMove",
    "Issuance",
    "MonitoringReport",
    "ProjectSpec",
    "account_serials",
    "get_batch",
    "get_project",
    "get_report",
    "issue_credits",
    "register_project",
    "retire_credits",
    "serials_of",
    "submit_report",
    "transfer_credits",
]

#: Share of each issuance set aside in the buffer pool against reversal (Verra-style), in basis
#: points: 10%. Rounded DOWN to whole tonnes, see ``serials.split_issuance``.
DEFAULT_BUFFER_BPS: Final = 1_000
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,47}")  # batch ids "<project>-<vintage>-<n>" stay ids


def _text(value: object, field: str) -> str:
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
        _text(self.name, "name")
        _text(self.location, "location")
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
        raise UnknownProject(f"no blue-carbon project {project}", field="project", project=project)
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
        raise UnknownBatch(f"no blue-carbon batch {batch}", field="batch", batch=batch)
    return row


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


@dataclass(frozen=True, slots=True)
class Issuance:
    """A batch issued: the record, the batch and lot, the serial range and the buffer split."""

    receipt: Receipt
    batch: str
    lot: Lot
    serials: SerialRange
    split: IssuanceSplit
    meta: dict[str, Any]


def _blocks(session: Session, keys: set[tuple[str, str]]) -> list[SerialBlock]:
    out = []
    for account, batch in sorted(keys):
        rows = session.exec(
            select(SerialBlockRow).where(SerialBlockRow.account == account, SerialBlockRow.batch == batch)
        )
        out += [SerialBlock(r.batch, r.start, r.end, r.account) for r in rows]
    return out


def _write_blocks(session: Session, book: SerialBook, keys: set[tuple[str, str]]) -> None:
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


def _issuable(
    session: Session, actor: Participant, report: str
) -> tuple[MonitoringReportRow, BlueCarbonProjectRow]:
    """The report and its project, once the actor is shown to be the project's bureau."""
    rep = session.get(MonitoringReportRow, report)
    if rep is None:
        raise UnknownMonitoringReport(f"no monitoring report {report}", field="report", report=report)
    project = get_project(session, project=rep.project)
    bureau_of(actor, Action.ISSUE_CREDITS)
    authorize(actor, Action.ISSUE_CREDITS, party_target(project.bureau, SessionDirectory(session)))
    if rep.status != "submitted":
        raise ReportAlreadyIssued(f"report {report} was already issued as {rep.batch}", field="report")
    return rep, project


@dataclass(frozen=True, slots=True)
class _Plan:
    """A batch about to be issued: its id, lot, serial range and postings."""

    batch: str
    vintage: int
    lot: Lot
    serials: SerialRange
    postings: tuple[Posting, ...]


def _plan(
    session: Session, project: BlueCarbonProjectRow, rep: MonitoringReportRow, split: IssuanceSplit
) -> _Plan:
    """Batch number per (project, vintage) and the next global serials: read under the lock."""
    vintage = date.fromisoformat(rep.monitoring_end).year
    count = session.exec(
        select(func.count())
        .select_from(BlueCarbonBatchRow)
        .where(BlueCarbonBatchRow.project == project.project, BlueCarbonBatchRow.vintage == vintage)
    ).one()
    batch = f"{project.project}-{vintage}-{count + 1}"
    last = session.exec(select(func.max(BlueCarbonBatchRow.serial_end))).one() or 0
    lot = Lot(jurisdiction=project.jurisdiction, vintage=vintage, batch=batch)
    postings = [Posting(account_id(project.bureau, "cap", BC), BC, lot, -split.issued_kg)]
    if split.owner_kg:  # the owner first: it gets the lowest serials of the batch
        postings.append(Posting(account_id(project.owner, "holding"), BC, lot, split.owner_kg))
    if split.buffer_kg:
        postings.append(Posting(account_id(project.bureau, "buffer"), BC, lot, split.buffer_kg))
    return _Plan(batch, vintage, lot, SerialRange(last + 1, last + split.issued_t), tuple(postings))


def _issuance_meta(
    result: Result, project: BlueCarbonProjectRow, rep: MonitoringReportRow, plan: _Plan, buffer_bps: int
) -> dict[str, Any]:
    """What the record carries so an auditor recomputes it: the methodology's record and the batch."""
    return {
        **result.record_meta(),
        "project": project.project,
        "vintage": plan.vintage,
        "batch": plan.batch,
        "report": rep.id,
        "serial_start": plan.serials.start,
        "serial_end": plan.serials.end,
        "issued_kg": plan.serials.tonnes * SERIAL_KG,
        "buffer_bps": buffer_bps,
        "buffer_kg": sum(p.amount for p in plan.postings if p.account.endswith(".buffer")),
        "project_info": {
            "name": project.name,
            "location": project.location,
            "division": project.division,
            "area_mu": project.area_mu,
            "households": project.households,
            "owner": project.owner,
        },
    }


def _record_batch(
    session: Session,
    plan: _Plan,
    project: BlueCarbonProjectRow,
    rep: MonitoringReportRow,
    split: IssuanceSplit,
    buffer_bps: int,
    seq: int,
) -> None:
    session.add(
        BlueCarbonBatchRow(
            batch=plan.batch,
            project=project.project,
            report=rep.id,
            vintage=plan.vintage,
            jurisdiction=project.jurisdiction,
            serial_start=plan.serials.start,
            serial_end=plan.serials.end,
            issued_kg=split.issued_kg,
            buffer_kg=split.buffer_kg,
            buffer_bps=buffer_bps,
            issued_seq=seq,
        )
    )
    rep.status, rep.batch = "issued", plan.batch
    session.add(rep)
    session.flush()  # the batch row exists before its serial blocks refer to it


def issue_credits(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    report: str,
    buffer_bps: int = DEFAULT_BUFFER_BPS,
) -> Issuance:
    """Verify a monitoring report and issue its vintage batch (核证签发); only the project's bureau.

    The stored inputs are recomputed by the methodology first. Whole tonnes are issued from
    ``bureau:J.cap.BC`` in one record: the buffer share (rounded down) to ``bureau:J.buffer``
    (opened in the same batch when absent), the rest to the owner's holding. The lot is
    {batch "<project>-<vintage>-<n>", vintage = year the monitoring period ends, jurisdiction J};
    the serial range follows the previous batch's (global numbering). The record's meta holds the
    methodology, version, inputs, input hash and sink, so a replay recomputes it.
    """
    rep, project = _issuable(session, actor, report)
    stored = {"methodology": project.methodology, "version": project.version, "input_hash": rep.input_hash}
    # the stored report is verified the way an auditor verifies the record
    result = recompute(stored | {"inputs": json.loads(rep.inputs_json), "sink_kg_co2e": rep.sink_kg_co2e})
    split = split_issuance(result.sink_kg_co2e, buffer_bps)
    if split.issued_t == 0:
        raise NothingToIssue(
            f"report {report} verifies {result.sink_kg_co2e} kg CO2e, less than one tonne", field="report"
        )
    lock_head_time(session)  # serial numbers and batch numbers are read under the sequencer lock
    plan = _plan(session, project, rep, split)
    book = SerialBook(next_serial=plan.serials.start)
    book.apply(plan.postings, mint=plan.serials)
    meta = _issuance_meta(result, project, rep, plan, buffer_bps)
    meta |= issuance_attribution(  # the sink attributed to the members of a confirmed roster, if any
        session,
        project=project.project,
        start=date.fromisoformat(rep.monitoring_start),
        end=date.fromisoformat(rep.monitoring_end),
        sink_kg_co2e=result.sink_kg_co2e,
    )
    body = TxBody(ISSUE_ACTION, new_nonce(), plan.postings, signers=(project.bureau,), meta=meta)
    buffer = account_id(project.bureau, "buffer")
    opening = {} if find_account(session, account=buffer) is not None else {buffer: project.bureau}
    ins = signed_instruction(
        session,
        actor=actor,
        action=Action.ISSUE_CREDITS,
        body=body,
        signed_by=signed_by,
        signers=[project.bureau],
        opening=opening,
    )
    opens = [
        Instruction(OpenAccount(a, owner, AccountKind.BUFFER, new_nonce())) for a, owner in opening.items()
    ]
    with session.begin_nested():
        receipt = submit_all(session, [*opens, ins], registry=registry)[-1]
        _record_batch(session, plan, project, rep, split, buffer_bps, receipt.seq)
        _write_blocks(session, book, {(p.account, plan.batch) for p in plan.postings if p.amount > 0})
    return Issuance(receipt, plan.batch, plan.lot, plan.serials, split, meta)


@dataclass(frozen=True, slots=True)
class CreditMove:
    """A transfer or retirement recorded: the record and the serials that moved."""

    receipt: Receipt
    batch: str
    tonnes: int
    serials: tuple[SerialRange, ...]


def _move_credits(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    batch: str,
    tonnes: int,
    to_account: str,
    action: Action,
    meta: dict[str, Any],
) -> CreditMove:
    if isinstance(tonnes, bool) or not isinstance(tonnes, int) or tonnes < 1:
        raise InvalidInput("tonnes must be a positive whole number (one serial per tonne)", field="tonnes")
    source = account_id(actor.party, "holding")
    # who may move credits at all is asked first, so a refusal names its rule, not the serials held
    authorize(actor, action, target_for_account(session, account=source))
    row = get_batch(session, batch=batch)
    lot = Lot(jurisdiction=row.jurisdiction, vintage=row.vintage, batch=row.batch)
    postings = (
        Posting(source, BC, lot, -tonnes * SERIAL_KG),
        Posting(to_account, BC, lot, tonnes * SERIAL_KG),
    )
    lock_head_time(session)  # the blocks read are the blocks the record moves
    keys_touched = {(source, batch), (to_account, batch)}
    book = SerialBook(_blocks(session, keys_touched))
    moves = book.apply(postings)
    serials = tuple(r for m in moves for r in m.ranges)
    meta = {**meta, "batch": batch, "tonnes": tonnes, "serials": [r.to_json() for r in serials]}
    name = "bc.retire" if action is Action.RETIRE_UNITS else "bc.transfer"
    body = TxBody(name, new_nonce(), postings, signers=(actor.party,), meta=meta)
    ins = signed_instruction(
        session, actor=actor, action=action, body=body, signed_by=signed_by, signers=[actor.party]
    )
    with session.begin_nested():
        receipt = submit_all(session, [ins], registry=registry)[0]
        _write_blocks(session, book, keys_touched)
    return CreditMove(receipt, batch, tonnes, serials)


def transfer_credits(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    batch: str,
    tonnes: int,
    to_account: str,
) -> CreditMove:
    """Transfer whole tonnes of a batch from the actor's holding to another holding account;
    the lowest serials the actor holds in the batch move (FIFO) and the record names them."""
    info = find_account(session, account=to_account)
    if info is None:
        raise UnknownAccount(f"no account {to_account}", account=to_account, field="to_account")
    if info.kind is not AccountKind.HOLDING:
        raise InvalidInput(
            "blue carbon is transferred to a holding account; retire it to retire it", field="to_account"
        )
    return _move_credits(
        session,
        registry=registry,
        actor=actor,
        signed_by=signed_by,
        batch=batch,
        tonnes=tonnes,
        to_account=to_account,
        action=Action.TRANSFER_UNITS,
        meta={},
    )


def retire_credits(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    batch: str,
    tonnes: int,
    beneficiary: str,
    reason: str,
) -> CreditMove:
    """Retire (注销) whole tonnes: actor holding -> its own retirement account, which never sends,
    so the serials recorded in the meta {beneficiary, reason, serials} never move again."""
    meta = {"beneficiary": _text(beneficiary, "beneficiary"), "reason": _text(reason, "reason")}
    return _move_credits(
        session,
        registry=registry,
        actor=actor,
        signed_by=signed_by,
        batch=batch,
        tonnes=tonnes,
        to_account=account_id(actor.party, "retirement"),
        action=Action.RETIRE_UNITS,
        meta=meta,
    )


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
