"""Pledge loans on discharge rights (排污权抵质押, 杭银发〔2022〕21号): apply, approve, record the loan,
confirm; then release on repayment or enforce on default. One ledger hold per pledge, the bank its controller.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import desc
from sqlmodel import Session, col, select

from accounts.errors import PermissionDenied
from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, target_of
from accounts.service import SessionDirectory, get_participant, submit_as, target_for_account
from ledger.errors import (
    DomainError,
    ExpiredUnits,
    InvalidInput,
    InvalidLot,
    InvalidQuantity,
)
from ledger.model import HoldSettle, Lot, Posting, Signature, TxBody
from ledger.pledge_terms import PLEDGE_REASON
from ledger.service import Instruction, Registry, balances, lock_head_time
from ledger.text import check_display_text
from ledger.timeutil import format_utc
from ledger.units import check_amount, instrument
from market.auctions.tables import AuctionRow
from market.consent import Consent, Signable, consent, dump_signatures, load_signatures
from market.pledges.errors import CollateralUnavailable, PledgeStateConflict, UnknownPledge
from market.pledges.record import (
    approval_of,
    registration_body,
    target_body,
)
from market.pledges.tables import PledgeRow
from market.pledges.valuation import Appraisal, LoanTerms, PriceSource, ValuationPolicy, appraise, check_loan

__all__ = [
    "PLEDGE_REASON",
    "ClearingPrices",
    "LoanRequest",
    "Pledge",
    "PledgeStatus",
    "PledgeStep",
    "apply_for_pledge",
    "approve_pledge",
    "bodies_to_sign",
    "cancel_pledge",
    "confirm_pledge",
    "enforce_pledge",
    "enforcement_body",
    "get_pledge",
    "latest_clearing_price",
    "list_pledges",
    "party_names",
    "pledges_on",
    "record_loan",
    "registration_body",
    "release_body",
    "release_pledge",
    "request_forced_auction",
]

# The four steps and what each signs (market.pledges.record builds both documents):
#   1. the enterprise applies (quantity, lot, bank): nothing is signed or held yet;
#   2. the bureau approves the quantity on its electronic certificate (电子证书): it signs an approval
#      statement (pledge, certificate number, parties, lot, quantity), not a body, as no loan exists yet;
#   3. the bank records the loan (id, principal, rate, term), checked against the appraisal, and signs
#      the registration body: the hold, the loan terms, the appraisal, the names, the bureau's approval;
#   4. the enterprise confirms and signs the same body; ONE ledger record places the hold. The ledger
#      checks the loan terms and the approval (ledger.pledge_terms), live and in replay.


class PledgeStatus(StrEnum):
    APPLIED = "applied"  # step 1: the enterprise applied
    APPROVED = "approved"  # step 2: the bureau approved the quantity on its electronic certificate
    LOAN_RECORDED = "loan_recorded"  # step 3: the bank recorded the loan
    ACTIVE = "active"  # step 4: confirmed; the units are held for the bank
    RELEASED = "released"  # repaid: every unit released to the owner
    ENFORCED = "enforced"  # default: the units captured to the bank's holding
    FORCED_AUCTION = "forced_auction"  # default: marked for a forced auction, proceeds to the bank first
    CANCELLED = "cancelled"  # withdrawn or refused before confirmation; nothing was ever held


_IN_PROGRESS = (PledgeStatus.APPLIED, PledgeStatus.APPROVED, PledgeStatus.LOAN_RECORDED)
_HOLDING = (PledgeStatus.ACTIVE, PledgeStatus.FORCED_AUCTION)


@dataclass(frozen=True, slots=True)
class Pledge:
    """A pledge as the registry records it; ``held_kg`` is what its hold still encumbers."""

    id: str
    enterprise: str
    bank: str
    bureau: str
    account: str
    instrument: str
    lot: Lot
    applied_kg: int
    status: PledgeStatus
    approved_kg: int | None = None
    certificate_no: str | None = None
    signatures: tuple[Signature, ...] = ()
    loan: LoanTerms | None = None
    appraisal: Appraisal | None = None
    held_kg: int = 0
    released_kg: int = 0
    enforced_kg: int = 0
    settlements: int = 0
    record_seq: int | None = None
    claim_fen: int | None = None
    closed_by: str | None = None
    reason: str | None = None

    @property
    def hold_id(self) -> str:
        return f"pledge.{self.id}"

    @property
    def parties(self) -> tuple[str, str, str]:
        return (self.enterprise, self.bank, self.bureau)


# -- bodies: pure, so a client holding its own key can build and sign exactly what a step needs ------


def release_body(pledge: Pledge, *, quantity_kg: int | None = None) -> TxBody:
    """Release on repayment: ``quantity_kg`` of the held units (default all) go back to the owner;
    the bank signs as the hold's controller."""
    quantity = _settle_quantity(pledge, quantity_kg)
    meta = {"pledge": pledge.id, "quantity_kg": quantity, "remaining_kg": pledge.held_kg - quantity}
    return TxBody(
        "pledge.release",
        f"{pledge.id}.s{pledge.settlements}",
        holds=(HoldSettle("release", pledge.hold_id, quantity),),
        signers=(pledge.bank,),
        meta=meta,
    )


def enforcement_body(pledge: Pledge) -> TxBody:
    """Enforcement on default: capture every held unit into the bank's holding, in one record; the
    owner's signature is not needed (the ledger lets a hold's controller capture what it holds)."""
    quantity = _settle_quantity(pledge, None)
    return TxBody(
        "pledge.enforce",
        f"{pledge.id}.s{pledge.settlements}",
        postings=(
            Posting(pledge.account, pledge.instrument, pledge.lot, -quantity),
            Posting(account_id(pledge.bank, "holding"), pledge.instrument, pledge.lot, quantity),
        ),
        holds=(HoldSettle("capture", pledge.hold_id, quantity),),
        signers=(pledge.bank,),
        meta={"pledge": pledge.id, "quantity_kg": quantity},
    )


def _settle_quantity(pledge: Pledge, quantity_kg: int | None) -> int:
    if pledge.status not in _HOLDING or pledge.held_kg <= 0:
        raise PledgeStateConflict(
            f"pledge {pledge.id} is {pledge.status.value}: it holds nothing to settle", pledge=pledge.id
        )
    if quantity_kg is None:
        return pledge.held_kg
    check_amount(quantity_kg, field="quantity_kg")
    if quantity_kg > pledge.held_kg:
        raise InvalidQuantity(
            f"pledge {pledge.id} holds {pledge.held_kg} kg, cannot release {quantity_kg}",
            field="quantity_kg",
        )
    return quantity_kg


class PledgeStep(StrEnum):
    """The steps that need a party's signature, and so have bodies to sign."""

    APPROVE = "approve"  # the bureau: the registration body with the quantity it approves
    LOAN = "loan"  # the bank: the registration body
    CONFIRM = "confirm"  # the enterprise: the registration body
    RELEASE = "release"  # the bank: the release of all or part of the held units
    ENFORCE = "enforce"  # the bank: the capture of every held unit


@dataclass(frozen=True, slots=True)
class LoanRequest:
    """The loan a bank records at step 3 (its start is the day it records it)."""

    loan_id: str
    amount_fen: int
    rate_bp: int
    term_months: int


def bodies_to_sign(
    session: Session,
    *,
    actor: Participant,
    pledge_id: str,
    step: PledgeStep,
    approved_kg: int | None = None,
    certificate_no: str | None = None,
    quantity_kg: int | None = None,
    loan: LoanRequest | None = None,
    registry: Registry | None = None,
) -> tuple[Signable, ...]:
    """The exact documents ``step`` signs, for a client that signs with its own key (self-custody):
    for ``approve`` the approval statement of the quantity and certificate number the bureau will
    give; for ``loan`` the registration body with ``loan`` as recorded today (``registry``'s clock);
    for ``release`` the release of ``quantity_kg`` (default all). Readable by whoever reads the pledge."""
    pledge = get_pledge(session, actor=actor, pledge_id=pledge_id)
    if step is PledgeStep.APPROVE:
        if pledge.status is not PledgeStatus.APPLIED:
            raise PledgeStateConflict(f"pledge {pledge.id} is {pledge.status.value}", pledge=pledge.id)
        if approved_kg is None or certificate_no is None:
            raise InvalidInput("the approval needs approved_kg and certificate_no", field="approved_kg")
        check_amount(approved_kg, field="approved_kg")
        check_display_text(certificate_no, field="certificate_no")
        return (approval_of(replace(pledge, approved_kg=approved_kg, certificate_no=certificate_no)),)
    if step is PledgeStep.LOAN:
        _expect_status(pledge, PledgeStatus.APPROVED)
        if loan is None or registry is None:
            raise InvalidInput("the loan body needs the loan's terms", field="loan_id")
        offered = _with_loan(session, pledge, loan, today=registry.clock().date())
        return (registration_body(offered, names=party_names(session, pledge)),)
    if step is PledgeStep.CONFIRM:
        _expect_status(pledge, PledgeStatus.LOAN_RECORDED)
        return (registration_body(pledge, names=party_names(session, pledge)),)
    if step is PledgeStep.RELEASE:
        return (release_body(pledge, quantity_kg=quantity_kg),)
    return (enforcement_body(pledge),)


def party_names(session: Session, pledge: Pledge) -> dict[str, str]:
    """The registered names of the pledge's enterprise, bank and bureau, as its record shows them."""
    roles = {"enterprise": pledge.enterprise, "bank": pledge.bank, "bureau": pledge.bureau}
    return {role: get_participant(session, party=party).name for role, party in roles.items()}


def _with_loan(
    session: Session,
    pledge: Pledge,
    loan: LoanRequest,
    *,
    today: date,
    policy: ValuationPolicy | None = None,
    clearing_prices: ClearingPrices | None = None,
) -> Pledge:
    """The pledge with ``loan`` recorded today: the approved quantity appraised at the latest auction
    clearing price, else the reference price; the loan checked against it (``valuation.check_loan``)."""
    assert pledge.approved_kg is not None
    assert pledge.lot.jurisdiction is not None
    assert pledge.lot.valid_until is not None
    check_display_text(loan.loan_id, field="loan_id")
    terms = LoanTerms(loan.loan_id, loan.amount_fen, loan.rate_bp, loan.term_months, today)
    prices = clearing_prices or latest_clearing_price
    price = prices(session, instrument=pledge.instrument, jurisdiction=pledge.lot.jurisdiction)
    valued = appraise(
        instrument_code=pledge.instrument,
        jurisdiction=pledge.lot.jurisdiction,
        quantity_kg=pledge.approved_kg,
        clearing_price_fen_per_tonne=price,
        policy=policy or ValuationPolicy(),
    )
    check_loan(terms, appraisal=valued, valid_until=pledge.lot.valid_until)
    return replace(pledge, loan=terms, appraisal=valued)


def _expect_status(pledge: Pledge, status: PledgeStatus) -> None:
    if pledge.status is not status:
        raise PledgeStateConflict(
            f"pledge {pledge.id} is {pledge.status.value}; this step needs it {status.value}",
            pledge=pledge.id,
            status=pledge.status.value,
        )


# -- valuation seam -------------------------------------------------------------------------------


class ClearingPrices(Protocol):
    """Where the latest auction clearing price per tonne comes from (a test passes a double)."""

    def __call__(self, session: Session, *, instrument: str, jurisdiction: str) -> int | None: ...


def latest_clearing_price(session: Session, *, instrument: str, jurisdiction: str) -> int | None:
    """The clearing price (fen per tonne) of the latest closed bureau auction of ``instrument`` in
    ``jurisdiction``, or None when none has cleared."""
    stmt = (
        select(AuctionRow.clearing_price_fen_per_t)
        .where(AuctionRow.instrument == instrument, AuctionRow.jurisdiction == jurisdiction)
        .where(col(AuctionRow.clearing_price_fen_per_t).is_not(None), col(AuctionRow.closed_at).is_not(None))
        .order_by(desc(col(AuctionRow.closed_at)))
        .limit(1)
    )
    return session.exec(stmt).first()


# -- rows -----------------------------------------------------------------------------------------


def _to_pledge(row: PledgeRow) -> Pledge:
    loan = appraisal = None
    if row.loan_id is not None:
        assert row.loan_amount_fen is not None
        assert row.rate_bp is not None
        assert row.term_months is not None
        assert row.loan_start is not None
        loan = LoanTerms(row.loan_id, row.loan_amount_fen, row.rate_bp, row.term_months, _day(row.loan_start))
    if row.appraised_fen is not None:
        assert row.price_fen_per_tonne is not None
        assert row.price_source is not None
        assert row.max_ltv_bp is not None
        appraisal = Appraisal(
            row.instrument,
            Lot.from_key(row.lot).jurisdiction or "",
            row.approved_kg or 0,
            row.price_fen_per_tonne,
            PriceSource(row.price_source),
            row.appraised_fen,
            row.max_ltv_bp,
        )
    return Pledge(
        id=row.id,
        enterprise=row.enterprise,
        bank=row.bank,
        bureau=row.bureau,
        account=row.account,
        instrument=row.instrument,
        lot=Lot.from_key(row.lot),
        applied_kg=row.applied_kg,
        status=PledgeStatus(row.status),
        approved_kg=row.approved_kg,
        certificate_no=row.certificate_no,
        signatures=tuple(load_signatures(row.signatures).values()),
        loan=loan,
        appraisal=appraisal,
        held_kg=row.held_kg,
        released_kg=row.released_kg,
        enforced_kg=row.enforced_kg,
        settlements=row.settlements,
        record_seq=row.record_seq,
        claim_fen=row.claim_fen,
        closed_by=row.closed_by,
        reason=row.reason,
    )


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _row(session: Session, pledge_id: str) -> PledgeRow:
    """The pledge's row, locked for the rest of the transaction (one step at a time per pledge)."""
    row = session.get(PledgeRow, pledge_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise UnknownPledge(f"no pledge {pledge_id}", pledge=pledge_id, field="pledge_id")
    return row


def _expect(row: PledgeRow, *statuses: PledgeStatus) -> None:
    if row.status not in statuses:
        wanted = " or ".join(s.value for s in statuses)
        raise PledgeStateConflict(
            f"pledge {row.id} is {row.status}; this step needs it {wanted}", pledge=row.id, status=row.status
        )


def _denied(actor: Participant, action: Action, rule: str, why: str) -> PermissionDenied:
    return PermissionDenied(
        f"{actor.party} may not {action.value}: {why} (rule {rule})",
        rule=rule,
        action=action.value,
        actor=actor.party,
    )


def _save(session: Session, row: PledgeRow) -> Pledge:
    session.add(row)
    session.flush()
    return _to_pledge(row)


def get_pledge(session: Session, *, actor: Participant, pledge_id: str) -> Pledge:
    """The pledge, for its enterprise, bank and bureau, and whoever may read the pledged account
    (supervising bureaus, auditors, the operator); ``UnknownPledge`` if there is none."""
    row = session.get(PledgeRow, pledge_id)
    if row is None:
        raise UnknownPledge(f"no pledge {pledge_id}", pledge=pledge_id, field="pledge_id")
    if actor.party not in (row.enterprise, row.bank, row.bureau):
        authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=row.account))
    return _to_pledge(row)


def pledges_on(
    session: Session, *, account: str, instrument: str, lot: Lot, statuses: Sequence[PledgeStatus] = ()
) -> list[Pledge]:
    """Pledges on one position (account, instrument, lot), oldest first; optionally of some statuses."""
    stmt = select(PledgeRow).where(
        PledgeRow.account == account, PledgeRow.instrument == instrument, PledgeRow.lot == lot.key()
    )
    if statuses:
        stmt = stmt.where(col(PledgeRow.status).in_([s.value for s in statuses]))
    return [_to_pledge(r) for r in session.exec(stmt.order_by(col(PledgeRow.applied_at), col(PledgeRow.id)))]


def list_pledges(session: Session, *, actor: Participant, status: PledgeStatus | None = None) -> list[Pledge]:
    """Pledges the actor may see, newest first, optionally of one status: those it is a party to
    (enterprise, bank, bureau), and, for supervisors, auditors and the operator, those whose pledged
    account it may read (the same rule as ``get_pledge``)."""
    stmt = select(PledgeRow)
    if status is not None:
        stmt = stmt.where(PledgeRow.status == status.value)
    mine = (
        (col(PledgeRow.enterprise) == actor.party)
        | (col(PledgeRow.bank) == actor.party)
        | (col(PledgeRow.bureau) == actor.party)
    )
    if actor.role in (Role.ENTERPRISE, Role.BANK, Role.COOPERATIVE):
        stmt = stmt.where(mine)  # they read no one else's accounts: skip the per-row checks
    out = []
    for row in session.exec(stmt.order_by(col(PledgeRow.applied_at).desc(), col(PledgeRow.id))):
        if actor.party not in (row.enterprise, row.bank, row.bureau):
            try:
                authorize(actor, Action.READ_ACCOUNT, target_for_account(session, account=row.account))
            except PermissionDenied:
                continue
        out.append(_to_pledge(row))
    return out


def _free_kg(session: Session, *, account: str, instrument_code: str, lot: Lot) -> int:
    for b in balances(session, account=account):
        if b.instrument == instrument_code and b.lot == lot.key():
            return b.available
    return 0


def _check_collateral(session: Session, *, pledge: Pledge, quantity_kg: int, count_in_progress: bool) -> None:
    """A bank cannot take the same units twice, nor two banks the same units: the units asked for
    must be free of holds (and, when applying, of other pledges still in progress)."""
    others = [
        p
        for p in pledges_on(
            session,
            account=pledge.account,
            instrument=pledge.instrument,
            lot=pledge.lot,
            statuses=(*_HOLDING, *_IN_PROGRESS),
        )
        if p.id != pledge.id
    ]
    free = _free_kg(session, account=pledge.account, instrument_code=pledge.instrument, lot=pledge.lot)
    reserved = sum(p.approved_kg or p.applied_kg for p in others if p.status in _IN_PROGRESS)
    available = free - reserved if count_in_progress else free
    if quantity_kg > available:
        pledged_to = sorted({p.bank for p in others})
        raise CollateralUnavailable(
            f"{pledge.account} has {max(available, 0)} kg of {pledge.instrument} ({pledge.lot.key()}) free "
            f"to pledge, {quantity_kg} asked"
            + (f"; already pledged or being pledged to {', '.join(pledged_to)}" if pledged_to else ""),
            account=pledge.account,
            available_kg=max(available, 0),
            requested_kg=quantity_kg,
            pledged_to=pledged_to,
        )


# -- the four steps -------------------------------------------------------------------------------


def apply_for_pledge(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    bank: str,
    instrument_code: str,
    lot: Lot,
    quantity_kg: int,
) -> Pledge:
    """Step 1 (企业申请): an enterprise applies to pledge ``quantity_kg`` of its rights of one lot to
    ``bank``. The units must be its own, unexpired, and free of holds and of other pledges in progress."""
    if actor.role is not Role.ENTERPRISE:
        raise _denied(
            actor, Action.TRANSFER_UNITS, "pledgor_enterprise_only", "only an enterprise pledges its rights"
        )
    inst = instrument(instrument_code, field="instrument_code")
    if not inst.scoped_to_jurisdiction:
        raise InvalidInput(f"{inst.code} is not a discharge right or VOCs quota", field="instrument_code")
    lot.check_for(inst.code, path="lot")
    if lot.valid_until is None:
        raise InvalidLot("pledged rights need a validity end (lot.valid_until)", field="lot.valid_until")
    check_amount(quantity_kg, field="quantity_kg")
    now = registry.clock()
    if lot.valid_until < now.date():
        raise ExpiredUnits(
            f"rights valid until {lot.valid_until} have expired",
            field="lot",
            valid_until=str(lot.valid_until),
        )
    lender = get_participant(session, party=bank)
    if lender.role is not Role.BANK:
        raise InvalidInput(f"{bank} is not a bank", field="bank")
    bureau = get_participant(session, party=f"bureau:{lot.jurisdiction}").party
    account = account_id(actor.party, "holding")
    authorize(actor, Action.TRANSFER_UNITS, target_for_account(session, account=account))
    pledge = Pledge(
        id=f"pl-{secrets.token_hex(8)}",
        enterprise=actor.party,
        bank=bank,
        bureau=bureau,
        account=account,
        instrument=inst.code,
        lot=lot,
        applied_kg=quantity_kg,
        status=PledgeStatus.APPLIED,
    )
    lock_head_time(session)  # the sequencer lock: applications on one position are checked one at a time
    _check_collateral(session, pledge=pledge, quantity_kg=quantity_kg, count_in_progress=True)
    row = PledgeRow(
        id=pledge.id,
        enterprise=pledge.enterprise,
        bank=bank,
        bureau=bureau,
        account=account,
        instrument=inst.code,
        lot=lot.key(),
        applied_kg=quantity_kg,
        status=PledgeStatus.APPLIED.value,
        signatures="{}",
        applied_at=format_utc(now),
        held_kg=0,
        released_kg=0,
        enforced_kg=0,
        settlements=0,
    )
    return _save(session, row)


def _owner_consented_target(session: Session, actor: Participant, action: Action, pledge: Pledge) -> None:
    """Authorize a step before the owner's signature: its application (made as an authenticated
    actor) is its consent so far; its signature comes at confirmation, where the ledger checks it."""
    target = target_of(target_body(pledge), pledge.signatures, SessionDirectory(session))
    authorize(actor, action, replace(target, consents=target.consents | {pledge.enterprise}))


def approve_pledge(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    pledge_id: str,
    approved_kg: int,
    certificate_no: str,
    signed_by: Consent,
) -> Pledge:
    """Step 2 (生态环境部门审核): the bureau of the rights' jurisdiction approves a quantity (at most the
    one applied for) on its electronic certificate ``certificate_no`` (any Unicode text without control
    or bidi characters, e.g. 余排污质〔2026〕第018号), and signs the approval statement."""
    row = _row(session, pledge_id)
    _expect(row, PledgeStatus.APPLIED)
    if actor.role is not Role.BUREAU:
        raise _denied(
            actor, Action.REGISTER_PLEDGE, "bureau_approves_quantity", "only the bureau approves the quantity"
        )
    check_amount(approved_kg, field="approved_kg")
    if approved_kg > row.applied_kg:
        raise InvalidQuantity(
            f"approved {approved_kg} kg exceeds the {row.applied_kg} kg applied for", field="approved_kg"
        )
    check_display_text(certificate_no, field="certificate_no")
    pledge = replace(_to_pledge(row), approved_kg=approved_kg, certificate_no=certificate_no)
    _owner_consented_target(session, actor, Action.REGISTER_PLEDGE, pledge)
    (sig,) = consent(
        session,
        bodies=[approval_of(pledge)],
        party=actor.party,
        signed_by=signed_by,
        at=registry.clock(),
    )
    row.approved_kg, row.certificate_no, row.status = approved_kg, certificate_no, PledgeStatus.APPROVED.value
    row.signatures = dump_signatures({actor.party: sig})
    return _save(session, row)


def record_loan(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    pledge_id: str,
    loan_id: str,
    amount_fen: int,
    rate_bp: int,
    term_months: int,
    signed_by: Consent,
    policy: ValuationPolicy | None = None,
    clearing_prices: ClearingPrices = latest_clearing_price,
) -> Pledge:
    """Step 3 (银行录入贷款信息): the pledgee bank records the loan and signs the registration body,
    which carries the loan's terms (principal, rate, term, maturity) and the bureau's approval.

    The approved quantity is appraised at the latest auction clearing price, else the reference
    price; the loan is at most ``policy.max_ltv_bp`` (80%) of that value and matures no later than
    the rights' validity end (``valuation.check_loan``)."""
    row = _row(session, pledge_id)
    _expect(row, PledgeStatus.APPROVED)
    pledge = _to_pledge(row)
    if actor.role is not Role.BANK:
        raise _denied(
            actor,
            Action.REGISTER_PLEDGE,
            "pledge_under_own_control",
            "only the pledgee bank records the loan",
        )
    _owner_consented_target(session, actor, Action.REGISTER_PLEDGE, pledge)
    now = registry.clock()
    _check_approval_signed(session, pledge, at=now)
    request = LoanRequest(loan_id, amount_fen, rate_bp, term_months)
    offered = _with_loan(
        session, pledge, request, today=now.date(), policy=policy, clearing_prices=clearing_prices
    )
    body = registration_body(offered, names=party_names(session, pledge))
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    assert offered.loan is not None
    assert offered.appraisal is not None
    valued = offered.appraisal
    row.loan_id, row.loan_amount_fen, row.rate_bp, row.term_months = loan_id, amount_fen, rate_bp, term_months
    row.loan_start = offered.loan.start.isoformat()
    row.price_fen_per_tonne, row.price_source = valued.price_fen_per_tonne, valued.source.value
    row.appraised_fen, row.max_ltv_bp = valued.value_fen, valued.max_ltv_bp
    row.signatures = dump_signatures({**load_signatures(row.signatures), actor.party: sig})
    row.status = PledgeStatus.LOAN_RECORDED.value
    return _save(session, row)


def _check_approval_signed(session: Session, pledge: Pledge, *, at: datetime) -> None:
    """The bureau's approval must be a signed approval statement: a pledge approved before loan terms
    were signed holds the bureau's signature over the old body, which the new record cannot carry."""
    approval = [s for s in pledge.signatures if s.party == pledge.bureau]
    try:
        consent(
            session,
            bodies=[approval_of(pledge)],
            party=pledge.bureau,
            signed_by=Consent.given(approval),
            at=at,
        )
    except DomainError:
        raise PledgeStateConflict(
            f"pledge {pledge.id} was approved before loan terms were signed, or its approval no longer "
            "verifies: cancel it and apply again",
            pledge=pledge.id,
        ) from None


def confirm_pledge(
    session: Session, *, registry: Registry, actor: Participant, pledge_id: str, signed_by: Consent
) -> Pledge:
    """Step 4 (企业确认): the enterprise confirms the loan and signs; ONE ledger record places the
    hold (reason ``pledge``, controller the bank), signed by enterprise and bank and carrying the
    bureau's approval. From then on the owner cannot sell, transfer or retire the units (the ledger
    refuses: UnitsEncumbered)."""
    row = _row(session, pledge_id)
    _expect(row, PledgeStatus.LOAN_RECORDED)
    pledge = _to_pledge(row)
    if actor.party != pledge.enterprise:
        authorize(actor, Action.TRANSFER_UNITS, target_for_account(session, account=pledge.account))
        raise _denied(actor, Action.TRANSFER_UNITS, "own_units_only", "only the owner confirms its pledge")
    body = registration_body(pledge, names=party_names(session, pledge))
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=registry.clock())
    assert pledge.approved_kg is not None
    _check_collateral(session, pledge=pledge, quantity_kg=pledge.approved_kg, count_in_progress=False)
    sigs = {**load_signatures(row.signatures), actor.party: sig}
    # The body's signers sign it; the bureau's approval travels inside it (meta.approval).
    signed = tuple(sigs[p] for p in sorted(body.signers))
    receipt = submit_as(
        session,
        registry=registry,
        actor=actor,
        action=Action.TRANSFER_UNITS,
        instruction=Instruction(body, signed),
    )
    row.signatures = dump_signatures(sigs)
    row.status, row.held_kg = PledgeStatus.ACTIVE.value, pledge.approved_kg
    row.record_seq = row.last_seq = receipt.seq
    return _save(session, row)


# -- after registration ---------------------------------------------------------------------------


def _settle(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    action: Action,
    body: TxBody,
    signed_by: Consent,
) -> int:
    authorize(actor, action, target_of(body, (), SessionDirectory(session)))
    sigs = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=registry.clock())
    receipt = submit_as(
        session, registry=registry, actor=actor, action=action, instruction=Instruction(body, sigs)
    )
    return receipt.seq


def release_pledge(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    pledge_id: str,
    signed_by: Consent,
    quantity_kg: int | None = None,
) -> Pledge:
    """Release on repayment (解押): the pledgee bank releases ``quantity_kg`` (default all) of the held
    units to the owner. Only the bank controlling the hold may (rule ``pledge_controller_only``)."""
    row = _row(session, pledge_id)
    pledge = _to_pledge(row)
    body = release_body(pledge, quantity_kg=quantity_kg)
    released = body.holds[0].amount
    row.last_seq = _settle(
        session, registry=registry, actor=actor, action=Action.RELEASE_PLEDGE, body=body, signed_by=signed_by
    )
    row.held_kg -= released
    row.released_kg += released
    row.settlements += 1
    if row.held_kg == 0:
        row.status, row.closed_by = PledgeStatus.RELEASED.value, actor.party
    return _save(session, row)


def enforce_pledge(
    session: Session, *, registry: Registry, actor: Participant, pledge_id: str, signed_by: Consent
) -> Pledge:
    """Enforcement on default (处置): the pledgee bank captures every held unit into its own holding
    in one record; only the controlling bank may."""
    row = _row(session, pledge_id)
    pledge = _to_pledge(row)
    body = enforcement_body(pledge)
    row.last_seq = _settle(
        session, registry=registry, actor=actor, action=Action.ENFORCE_PLEDGE, body=body, signed_by=signed_by
    )
    row.enforced_kg += row.held_kg
    row.held_kg = 0
    row.settlements += 1
    row.status, row.closed_by = PledgeStatus.ENFORCED.value, actor.party
    return _save(session, row)


def request_forced_auction(
    session: Session, *, actor: Participant, pledge_id: str, claim_fen: int, reason: str
) -> Pledge:
    """Enforcement on default by forced auction (拍卖处置): the controlling bank marks the pledge for
    sale with its claim; the units stay held for it, and the auction pays it first, up to the claim
    (``valuation.forced_sale_split``). Records the intent only: the auction workflow sells."""
    row = _row(session, pledge_id)
    _expect(row, PledgeStatus.ACTIVE)
    pledge = _to_pledge(row)
    authorize(
        actor, Action.ENFORCE_PLEDGE, target_of(enforcement_body(pledge), (), SessionDirectory(session))
    )
    check_amount(claim_fen, field="claim_fen")
    _reason(reason)
    row.status, row.claim_fen, row.closed_by, row.reason = (
        PledgeStatus.FORCED_AUCTION.value,
        claim_fen,
        actor.party,
        reason,
    )
    return _save(session, row)  # the hold stays open: the auction workflow captures it


def cancel_pledge(session: Session, *, actor: Participant, pledge_id: str, reason: str) -> Pledge:
    """Before confirmation any of the three parties may end a pledge: the enterprise withdraws, the
    bureau refuses the quantity, the bank declines the loan. Nothing was held, so nothing is released."""
    row = _row(session, pledge_id)
    _expect(row, *_IN_PROGRESS)
    if actor.party not in (row.enterprise, row.bank, row.bureau):
        raise _denied(
            actor, Action.REGISTER_PLEDGE, "pledge_parties_only", "only a party to the pledge ends it"
        )
    _reason(reason)
    row.status, row.closed_by, row.reason = PledgeStatus.CANCELLED.value, actor.party, reason
    return _save(session, row)


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason must be 1-500 characters", field="reason")
    return reason
