"""Steps 3 and 4 of a pledge as a proposal (``pledge.registration``) on SQLite and PostgreSQL: the bank's
recorded loan waits in the enterprise's to-do list with the bank's signature in; the enterprise's
signature registers it; its rejection, the bank's withdrawal or any party's cancellation ends the pledge
and the proposal together, with nothing held; a loan recorded before the upgrade is confirmed too."""

from __future__ import annotations

import json

from sqlmodel import Session

from ledger.model import Lot, Signature
from market.consent import dump_signatures, load_signatures
from market.pledges.registration import REGISTRATION
from market.pledges.service import (
    Pledge,
    PledgeStatus,
    apply_for_pledge,
    approve_pledge,
    cancel_pledge,
    confirm_pledge,
    record_loan,
)
from market.pledges.tables import PledgeRow
from market.proposals import service as proposals
from market.proposals.model import Proposal, ProposalStatus
from market.proposals.tables import ProposalSignerRow
from tests.integration.test_market_pledge import Desk, desk

__all__ = ["desk"]  # the fixture: the demo registry on either engine


def _loan_recorded(desk: Desk) -> tuple[Lot, Pledge]:
    lot = desk.grant("yuyao", "yuyao_chem", 2_000)
    p = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=desk.party("bank_yuyao"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=2_000,
    )
    desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=2_000,
        certificate_no="ZJPW-330281-0002",
        signed_by=desk.consent("yuyao"),
    )
    recorded = desk.call(
        record_loan,
        actor=desk.p("bank_yuyao"),
        pledge_id=p.id,
        loan_id="LN-R1",
        amount_fen=2_000_000,
        rate_bp=385,
        term_months=12,
        signed_by=desk.consent("bank_yuyao"),
    )
    return lot, recorded


def _proposal(desk: Desk, alias: str, pledge_id: str) -> Proposal:
    with Session(desk.engine) as s:
        row = s.get(PledgeRow, pledge_id)
        assert row is not None
        assert row.registration_proposal is not None
        return proposals.get_proposal(
            s, actor=desk.p(alias), proposal_id=row.registration_proposal, now=desk.clock()
        )


def _awaiting(desk: Desk, alias: str) -> list[Proposal]:
    with Session(desk.engine) as s:
        return proposals.proposals_of(s, actor=desk.p(alias), now=desk.clock(), awaiting=True)


def test_the_recorded_loan_waits_for_the_enterprise_and_its_signature_registers_the_pledge(
    desk: Desk,
) -> None:
    lot, recorded = _loan_recorded(desk)
    chem, bank = desk.party("yuyao_chem"), desk.party("bank_yuyao")
    (waiting,) = _awaiting(desk, "yuyao_chem")
    assert (waiting.kind, waiting.party, waiting.terms["pledge_id"]) == (REGISTRATION, bank, recorded.id)
    assert (waiting.terms["quantity_kg"], waiting.terms["amount_fen"]) == (2_000, 2_000_000)
    assert [(s.party, s.signed) for s in waiting.signers] == [(bank, True), (chem, False)]
    assert _awaiting(desk, "bank_yuyao") == []
    before = desk.journal_size()
    done = desk.call(
        confirm_pledge,
        actor=desk.p("yuyao_chem"),
        pledge_id=recorded.id,
        signed_by=desk.consent("yuyao_chem"),
    )
    assert (done.status, done.held_kg, done.record_seq) == (PledgeStatus.ACTIVE, 2_000, before)
    assert sorted(s.party for s in done.signatures) == sorted([chem, bank, desk.party("yuyao")])
    assert desk.position(f"{chem}.holding", lot) == (2_000, 2_000)
    applied = _proposal(desk, "yuyao_chem", recorded.id)
    assert (applied.status, applied.record_seq) == (ProposalStatus.APPLIED, before)


def test_the_enterprise_rejecting_the_registration_cancels_the_pledge(desk: Desk) -> None:
    _, recorded = _loan_recorded(desk)
    before = desk.snapshot()
    pid = _proposal(desk, "yuyao_chem", recorded.id).id
    desk.call(proposals.reject, actor=desk.p("yuyao_chem"), proposal_id=pid, now=desk.clock())
    with Session(desk.engine) as s:
        row = s.get(PledgeRow, recorded.id)
        assert row is not None
        assert (row.status, row.closed_by) == (PledgeStatus.CANCELLED.value, desk.party("yuyao_chem"))
    assert desk.snapshot() == before  # nothing was held: no record
    assert _awaiting(desk, "yuyao_chem") == []


def test_the_bank_withdrawing_or_the_bureau_cancelling_ends_both(desk: Desk) -> None:
    _, first = _loan_recorded(desk)
    pid = _proposal(desk, "bank_yuyao", first.id).id
    desk.call(proposals.withdraw, actor=desk.p("bank_yuyao"), proposal_id=pid, now=desk.clock())
    with Session(desk.engine) as s:
        row = s.get(PledgeRow, first.id)
        assert row is not None
        assert (row.status, row.closed_by) == (PledgeStatus.CANCELLED.value, desk.party("bank_yuyao"))

    _, second = _loan_recorded(desk)
    desk.call(cancel_pledge, actor=desk.p("yuyao"), pledge_id=second.id, reason="核准数量有误")
    ended = _proposal(desk, "yuyao_chem", second.id)
    assert (ended.status, ended.decided_party) == (ProposalStatus.WITHDRAWN, desk.party("yuyao"))
    assert _awaiting(desk, "yuyao_chem") == []


def test_a_loan_recorded_before_the_upgrade_is_confirmed_with_the_banks_kept_signature(desk: Desk) -> None:
    lot, recorded = _loan_recorded(desk)
    bank = desk.party("bank_yuyao")
    with Session(desk.engine) as s:  # as revision 0018 leaves it: the signature on the row, no proposal
        row = s.get(PledgeRow, recorded.id)
        assert row is not None
        assert row.registration_proposal is not None
        slot = s.get(ProposalSignerRow, (row.registration_proposal, 0))
        assert slot is not None
        assert slot.signature is not None
        banks = Signature.parse(json.loads(slot.signature), "signature")
        row.signatures = dump_signatures(load_signatures(row.signatures) | {bank: banks})
        row.registration_proposal = None
        s.add(row)
        s.commit()
    done = desk.call(
        confirm_pledge,
        actor=desk.p("yuyao_chem"),
        pledge_id=recorded.id,
        signed_by=desk.consent("yuyao_chem"),
    )
    assert (done.status, done.held_kg) == (PledgeStatus.ACTIVE, 2_000)
    assert desk.position(f"{desk.party('yuyao_chem')}.holding", lot) == (2_000, 2_000)
