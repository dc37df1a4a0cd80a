"""Serialized sink credits (blue carbon from mussel farming 贻贝养殖碳汇, bamboo forest carbon 竹林碳汇):
projects, monitoring reports computed by a methodology, verified issuance of vintage batches with serials
and a buffer pool, transfer and retirement. The package keeps its first name; every step serves every
serialized instrument (``Instrument.serialized``), the one a project's methodology issues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import Session, select

from accounts.identifiers import account_id
from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, target_for_account
from ledger.controls import APPROVED_BY
from ledger.errors import InvalidInput, UnknownAccount
from ledger.model import AccountKind, Lot, OpenAccount, Posting, TxBody
from ledger.service import Instruction, Receipt, Registry, find_account, lock_head_time, new_nonce, submit_all
from market.bluecarbon.errors import (
    NothingToIssue,
    ReportAlreadyIssued,
    UnknownMonitoringReport,
)

# The package's use cases in one place (issuance and moves here, projects and reports in
# ``projects``), so the API and the console import one module.
from market.bluecarbon.projects import (
    MonitoringReport,
    ProjectSpec,
    account_serials,
    batch_credit,
    checked_text,
    get_batch,
    get_project,
    get_report,
    project_credit,
    register_project,
    serials_of,
    submit_report,
)
from market.bluecarbon.serials import (
    ISSUE_ACTION,
    SERIAL_KG,
    IssuanceSplit,
    SerialBook,
    SerialRange,
    split_issuance,
)
from market.bluecarbon.store import read_blocks as _blocks
from market.bluecarbon.store import write_blocks as _write_blocks
from market.bluecarbon.tables import BlueCarbonBatchRow, BlueCarbonProjectRow, MonitoringReportRow
from market.consent import Consent, signed_instruction
from market.households.attribution import issuance_attribution
from market.issuance.service import bureau_of
from methodologies.base import Result
from methodologies.registry import recompute

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
    "project_credit",
    "register_project",
    "retire_credits",
    "serials_of",
    "submit_report",
    "transfer_credits",
]

#: Share of each issuance set aside in the buffer pool against reversal (Verra-style), in basis
#: points: 10%. Rounded DOWN to whole tonnes, see ``serials.split_issuance``.
DEFAULT_BUFFER_BPS: Final = 1_000


@dataclass(frozen=True, slots=True)
class Issuance:
    """A batch issued: the record, the batch and lot, the serial range and the buffer split."""

    receipt: Receipt
    batch: str
    lot: Lot
    serials: SerialRange
    split: IssuanceSplit
    meta: dict[str, Any]


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
    code = project_credit(project)
    postings = [Posting(account_id(project.bureau, "cap", code), code, lot, -split.issued_kg)]
    if split.owner_kg:  # the owner first: it gets the lowest serials of the batch
        postings.append(Posting(account_id(project.owner, "holding"), code, lot, split.owner_kg))
    if split.buffer_kg:
        postings.append(Posting(account_id(project.bureau, "buffer"), code, lot, split.buffer_kg))
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

    The stored inputs are recomputed by the methodology first. Whole tonnes of the methodology's
    instrument I are issued from ``bureau:J.cap.I`` in one record: the buffer share (rounded down)
    to ``bureau:J.buffer``, the rest to the owner's holding. The buffer, and the cap account of an
    instrument added after the bureau registered, are opened in the same batch when absent. The lot is
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
    missing = {
        account: kind
        for account, kind in (
            (plan.postings[0].account, AccountKind.ISSUANCE),
            (account_id(project.bureau, "buffer"), AccountKind.BUFFER),
        )
        if find_account(session, account=account) is None
    }
    opening = dict.fromkeys(missing, project.bureau)
    ins = signed_instruction(
        session,
        actor=actor,
        action=Action.ISSUE_CREDITS,
        body=body,
        signed_by=signed_by,
        signers=[project.bureau],
        opening=opening,
    )
    opens = [Instruction(OpenAccount(a, project.bureau, kind, new_nonce())) for a, kind in missing.items()]
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
    code = batch_credit(session, row)
    postings = (
        Posting(source, code, lot, -tonnes * SERIAL_KG),
        Posting(to_account, code, lot, tonnes * SERIAL_KG),
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
    approved_by: tuple[str, ...] = (),
) -> CreditMove:
    """Transfer whole tonnes of a batch from the actor's holding to another holding account;
    the lowest serials the actor holds in the batch move (FIFO) and the record names them.
    ``approved_by``: the party's users who proposed and approved it (双人审批, ``market.foureyes``)."""
    info = find_account(session, account=to_account)
    if info is None:
        raise UnknownAccount(f"no account {to_account}", account=to_account, field="to_account")
    if info.kind is not AccountKind.HOLDING:
        raise InvalidInput(
            "credits are transferred to a holding account; retire them to retire them", field="to_account"
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
        meta={APPROVED_BY: {actor.party: list(approved_by)}} if approved_by else {},
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
    meta = {"beneficiary": checked_text(beneficiary, "beneficiary"), "reason": checked_text(reason, "reason")}
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
