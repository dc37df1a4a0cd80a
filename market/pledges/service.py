"""Pledge loans on discharge rights (排污权抵质押, 杭银发〔2022〕21号): apply, approve, record the loan,
confirm; then release on repayment or enforce on default. One ledger hold per pledge, the bank its controller.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from accounts.identifiers import account_id
from accounts.model import Participant, Role
from accounts.permissions import Action, authorize, denied, target_of
from accounts.service import SessionDirectory, get_participant, target_for_account
from ledger.errors import (
    DomainError,
    ExpiredUnits,
    InvalidInput,
    InvalidLot,
    InvalidQuantity,
)
from ledger.model import Lot
from ledger.service import Registry, lock_head_time
from ledger.text import check_display_text
from ledger.timeutil import format_utc
from ledger.units import check_amount, instrument
from market.consent import Consent, consent, dump_signatures
from market.pledges.errors import PledgeStateConflict
from market.pledges.record import (
    approval_of,
    registration_body,
    target_body,
)
from market.pledges.registration import REGISTRATION, registration_terms
from market.pledges.tables import PledgeRow
from market.pledges.valuation import ValuationPolicy
from market.proposals import service as proposals
from market.proposals.model import SignerSlot

# The package's use cases in one place (the four steps here, reads in ``store``, what follows
# registration in ``settlement``), so the API and the console import one module.
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
from ledger.pledge_terms import PLEDGE_REASON
from market.pledges.model import Pledge, PledgeStatus, enforcement_body, release_body

# -- the four steps -------------------------------------------------------------------------------
from market.pledges.settlement import cancel_pledge, enforce_pledge, release_pledge, request_forced_auction
from market.pledges.signing import LoanRequest, PledgeStep, bodies_to_sign, party_names, with_loan
from market.pledges.store import (
    ClearingPrices,
    check_collateral,
    expect_row_status,
    get_pledge,
    latest_clearing_price,
    list_pledges,
    pledge_row,
    pledges_on,
    save_pledge,
    to_pledge,
)


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
        raise denied(
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
    check_collateral(session, pledge=pledge, quantity_kg=quantity_kg, count_in_progress=True)
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
    return save_pledge(session, row)


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
    row = pledge_row(session, pledge_id)
    expect_row_status(row, PledgeStatus.APPLIED)
    if actor.role is not Role.BUREAU:
        raise denied(
            actor, Action.REGISTER_PLEDGE, "bureau_approves_quantity", "only the bureau approves the quantity"
        )
    check_amount(approved_kg, field="approved_kg")
    if approved_kg > row.applied_kg:
        raise InvalidQuantity(
            f"approved {approved_kg} kg exceeds the {row.applied_kg} kg applied for", field="approved_kg"
        )
    check_display_text(certificate_no, field="certificate_no")
    pledge = replace(to_pledge(row), approved_kg=approved_kg, certificate_no=certificate_no)
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
    return save_pledge(session, row)


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
    clearing_prices: ClearingPrices | None = None,
    bank_price_fen_per_tonne: int | None = None,
) -> Pledge:
    """Step 3 (银行录入贷款信息): the pledgee bank records the loan and signs the registration body,
    which carries the loan's terms (principal, rate, term, maturity) and the bureau's approval.

    The approved quantity is appraised by the documented rule (docs/valuation.md): the registry's
    reference (the market's 90-day volume-weighted price, else the reference price) or the bank's own
    ``bank_price_fen_per_tonne`` where lower, both kept in the signed record; the loan is at most
    ``policy.max_ltv_bp`` (80%) of that value and matures no later than the rights' validity end
    (``valuation.check_loan``)."""
    row = pledge_row(session, pledge_id)
    expect_row_status(row, PledgeStatus.APPROVED)
    pledge = to_pledge(row)
    if actor.role is not Role.BANK:
        raise denied(
            actor,
            Action.REGISTER_PLEDGE,
            "pledge_under_own_control",
            "only the pledgee bank records the loan",
        )
    _owner_consented_target(session, actor, Action.REGISTER_PLEDGE, pledge)
    now = registry.clock()
    _check_approval_signed(session, pledge, at=now)
    request = LoanRequest(loan_id, amount_fen, rate_bp, term_months, bank_price_fen_per_tonne)
    offered = with_loan(session, pledge, request, now=now, policy=policy, clearing_prices=clearing_prices)
    body = registration_body(offered, names=party_names(session, pledge))
    # verified before anything is written: a refusal leaves the pledge approved
    (sig,) = consent(session, bodies=[body], party=actor.party, signed_by=signed_by, at=now)
    assert offered.loan is not None
    assert offered.appraisal is not None
    valued = offered.appraisal
    row.loan_id, row.loan_amount_fen, row.rate_bp, row.term_months = loan_id, amount_fen, rate_bp, term_months
    row.loan_start = offered.loan.start.isoformat()
    row.price_fen_per_tonne, row.price_source = valued.price_fen_per_tonne, valued.source.value
    row.appraised_fen, row.max_ltv_bp = valued.value_fen, valued.max_ltv_bp
    row.reference_fen_per_tonne, row.bank_fen_per_tonne = (
        valued.reference_fen_per_tonne,
        valued.bank_fen_per_tonne,
    )
    row.reference_source = None if valued.reference_source is None else valued.reference_source.value
    row.status = PledgeStatus.LOAN_RECORDED.value
    save_pledge(session, row)
    # The bank's signature over the registration body, proposed to the enterprise, whose signature
    # (step 4) records it (market.pledges.registration).
    slots = (SignerSlot(pledge.bank), SignerSlot(pledge.enterprise))
    made = proposals.propose(
        session,
        kind=REGISTRATION,
        actor=actor,
        terms=registration_terms(offered),
        signers=slots,
        now=now,
        signed_by=Consent.given([sig]),
    )
    row.registration_proposal = made.id
    return save_pledge(session, row)


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
    row = pledge_row(session, pledge_id)
    expect_row_status(row, PledgeStatus.LOAN_RECORDED)
    pledge = to_pledge(row)
    if actor.party != pledge.enterprise:
        authorize(actor, Action.TRANSFER_UNITS, target_for_account(session, account=pledge.account))
        raise denied(actor, Action.TRANSFER_UNITS, "own_units_only", "only the owner confirms its pledge")
    now = registry.clock()
    proposal_id = row.registration_proposal or _registration_of(session, pledge, now)
    done = proposals.sign(
        session,
        registry=registry,
        actor=actor,
        proposal_id=proposal_id,
        signed_by=signed_by,
        now=now,
        kind=REGISTRATION,
    )
    assert done.applied is not None  # two slots, the bank's filled when it recorded the loan
    assert isinstance(done.applied.result, Pledge)
    return done.applied.result


def _registration_of(session: Session, pledge: Pledge, now: datetime) -> str:
    """A loan recorded before registrations were proposals: the bank's kept signature fills its slot."""
    bank = [s for s in pledge.signatures if s.party == pledge.bank]
    made = proposals.propose(
        session,
        kind=REGISTRATION,
        actor=get_participant(session, party=pledge.bank),
        terms=registration_terms(pledge),
        signers=(SignerSlot(pledge.bank), SignerSlot(pledge.enterprise)),
        now=now,
        signed_by=Consent.given(bank),
    )
    row = pledge_row(session, pledge.id)
    row.registration_proposal = made.id
    save_pledge(session, row)
    return made.id
