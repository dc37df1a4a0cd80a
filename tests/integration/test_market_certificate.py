"""Signed loan terms on the journal, on SQLite and PostgreSQL: the live ledger refuses a pledge
registration whose terms or approval are wrong, replay refuses the same record sealed by a registry
that skipped the check, and a journal written before loan terms were signed still replays and
certifies; the certificate reports what a pledge is now, with the record that made it so."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.errors import BadSignature, InvalidPledgeRegistration, MissingSignature
from ledger.journal import parse_line, seal
from ledger.model import HoldPlace, TxBody
from ledger.replay import replay_lines
from ledger.service import Instruction, Registry, adopt_rules, journal_lines, sign_body, submit
from market.consent import sign_document
from market.pledges.certificate import registry_certificate, verify_certificate
from market.pledges.record import approval_of, registration_body
from market.pledges.service import (
    Pledge,
    PledgeStatus,
    enforce_pledge,
    get_pledge,
    party_names,
    release_pledge,
)
from market.pledges.standing import standing_of
from market.pledges.tables import PledgeRow
from market.pledges.valuation import LoanTerms
from tests.integration.test_market_pledge import Desk
from tests.support import COD_YUYAO, World

pytestmark = pytest.mark.xdist_group("market_certificate")


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


def _forged_body(desk: Desk, *, months: int = 12, principal_fen: int = 100_000) -> tuple[TxBody, list]:
    """A registration of 100 kg with the terms given, signed by the bank and the owner, approved by the
    bureau: what a registry that skipped the ledger's check would seal."""
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 100)  # a genuine one, to copy names and keys from
    with Session(desk.engine) as s:
        names = party_names(s, p)
    other = replace(
        p,
        id="pl-forged",
        loan=LoanTerms("LN-X", principal_fen, 385, months, desk.clock().date()),
    )
    approval = sign_document(approval_of(other), "bureau:330281", desk.key("yuyao"))
    body = registration_body(replace(other, signatures=(approval,)), names=names)
    sigs = [sign_body(body, desk.party(a), desk.key(a)) for a in ("bank_yuyao", "yuyao_chem")]
    return body, sorted(sigs, key=lambda s: s.party)


def _refused_live(desk: Desk, body: TxBody, sigs: list) -> InvalidPledgeRegistration:
    size = desk.journal_size()
    with pytest.raises(InvalidPledgeRegistration) as refused, desk.session() as s:
        submit(s, Instruction(body, tuple(sigs)), registry=desk.registry)
    assert desk.journal_size() == size
    return refused.value


def test_the_live_ledger_refuses_loan_terms_beyond_the_rights_or_the_cap(desk: Desk) -> None:
    body, sigs = _forged_body(desk, months=120)  # matures in 2035, the rights end in 2030
    assert _refused_live(desk, body, sigs).details["field"] == "meta.loan.maturity"
    body, sigs = _forged_body(desk, principal_fen=99_900_000)  # 999,000 CNY on 100 kg
    assert _refused_live(desk, body, sigs).details["field"] == "meta.loan.principal_fen"


def test_the_live_ledger_refuses_a_registration_without_terms_or_with_a_false_approval(desk: Desk) -> None:
    body, sigs = _forged_body(desk)
    meta = {k: v for k, v in body.meta.items() if k not in ("loan", "appraisal", "approval", "names")}
    bare = replace(body, meta=meta)  # the form written before loan terms were signed
    bare_sigs = [sign_body(bare, s.party, desk.key(_alias(desk, s.party))) for s in sigs]
    assert _refused_live(desk, bare, bare_sigs).details["field"] == "meta"
    other = approval_of(replace(_pledge_of(body), approved_kg=99))  # the bureau approved 99 kg, not 100
    wrong = sign_document(other, "bureau:330281", desk.key("yuyao"))
    forged = replace(body, meta={**body.meta, "approval": wrong.to_json()})
    forged_sigs = [sign_body(forged, s.party, desk.key(_alias(desk, s.party))) for s in sigs]
    with pytest.raises(BadSignature) as refused, desk.session() as s:
        submit(s, Instruction(forged, tuple(forged_sigs)), registry=desk.registry)
    assert refused.value.details["field"] == "meta.approval.sig"
    with pytest.raises(MissingSignature), desk.session() as s:  # the owner must sign the terms too
        submit(
            s, Instruction(body, tuple(x for x in sigs if x.party.startswith("bank"))), registry=desk.registry
        )


def _alias(desk: Desk, party: str) -> str:
    return next(alias for alias, d in desk.demo.items() if d.party == party)


def _pledge_of(body: TxBody) -> Pledge:
    hold = body.holds[0]
    assert isinstance(hold, HoldPlace)
    return Pledge(
        id=body.meta["pledge"],
        enterprise=body.meta["enterprise"],
        bank=body.meta["bank"],
        bureau=body.meta["bureau"],
        account=hold.account,
        instrument=hold.instrument,
        lot=hold.lot,
        applied_kg=hold.amount,
        status=PledgeStatus.APPROVED,
        approved_kg=hold.amount,
        certificate_no=body.meta["certificate_no"],
    )


def test_replay_refuses_a_registry_sealed_registration_with_forged_terms(desk: Desk) -> None:
    body, sigs = _forged_body(desk, months=120)
    with Session(desk.engine) as s:
        lines = list(journal_lines(s))
    last = parse_line(lines[-1])
    forged = seal(
        seq=last.seq + 1,
        prev=last.hash,
        time=last.time + timedelta(seconds=1),
        body=body.to_json(),
        sigs=sigs,
        registry=desk.registry.key,
    ).line()
    assert replay_lines(lines).ok
    report = replay_lines([*lines, forged])
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (last.seq + 1, "invalid_pledge_registration")
    assert report.failure.evidence["field"] == "meta.loan.maturity"


def _legacy_registration(pledge: str, kg: int) -> TxBody:
    """A pledge registration as written before loan terms were signed: no loan in the record; the
    enterprise, the bank and the bureau all sign the body itself."""
    hold = HoldPlace(f"pledge.{pledge}", "ent:a.h", "COD", COD_YUYAO, kg, "pledge", "bank:x")
    meta = {"pledge": pledge, "certificate_no": "ZJPW-330281-2024-0007", "enterprise": "ent:a"}
    meta |= {"bank": "bank:x", "bureau": "bureau:330281", "quantity_kg": kg, "basis": "杭银发〔2022〕21号"}
    signers = ("bank:x", "bureau:330281", "ent:a")
    return TxBody("pledge.register", f"{pledge}.register", holds=(hold,), signers=signers, meta=meta)


def test_a_journal_written_before_loan_terms_were_signed_still_replays_and_certifies(
    engine: Engine, registry: Registry
) -> None:
    world = World.create(engine, registry, rule_set=1)
    world.issue("ent:a.h", 1_000)
    old = _legacy_registration("pl-old", 600)
    seq = world.submit(old, "bank:x", "bureau:330281", "ent:a").seq
    with Session(engine) as s:
        assert adopt_rules(s, registry=registry) is not None  # rule set 2 from the next record on
        s.commit()
    refused = _legacy_registration("pl-new", 100)  # the same form, now refused
    with pytest.raises(InvalidPledgeRegistration) as why:
        world.submit(refused, "bank:x", "bureau:330281", "ent:a")
    assert why.value.details["field"] == "meta"
    with Session(engine) as s:
        report = replay_lines(journal_lines(s), registry_key=registry.key.public)
        assert report.ok, report.failure
        s.add(_row_of(old, seq))
        s.flush()
        cert = registry_certificate(s, registry=registry, pledge_id="pl-old")
        now = standing_of(s, pledge_id="pl-old", record_seq=seq)
    check = verify_certificate(cert, registry.key.public)
    assert check.ok, check.problems
    assert check.fields is not None
    assert (check.fields["loan"], check.fields["quantity_kg"], check.fields["seq"]) == (None, 600, seq)
    assert (now.status, now.held_kg, now.changed_seq) == ("active", 600, seq)


def _row_of(body: TxBody, seq: int) -> PledgeRow:
    """The workflow row such a pledge had (the registry kept it in its pledge table)."""
    hold = body.holds[0]
    assert isinstance(hold, HoldPlace)
    meta = body.meta
    return PledgeRow(
        id=meta["pledge"],
        enterprise=meta["enterprise"],
        bank=meta["bank"],
        bureau=meta["bureau"],
        account=hold.account,
        instrument=hold.instrument,
        lot=hold.lot.key(),
        applied_kg=hold.amount,
        approved_kg=hold.amount,
        certificate_no=meta["certificate_no"],
        status="active",
        signatures="{}",
        applied_at="2024-05-01T00:00:00.000000Z",
        held_kg=hold.amount,
        released_kg=0,
        enforced_kg=0,
        settlements=0,
        record_seq=seq,
        last_seq=seq,
    )


def test_the_standing_names_the_record_that_changed_it(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 600)
    with Session(desk.engine) as s:
        assert standing_of(s, pledge_id=p.id, record_seq=p.record_seq or 0).status == "active"
        assert standing_of(s, pledge_id=p.id, record_seq=0).status == "unknown"
    bank = desk.p("bank_yuyao")
    p = desk.call(
        release_pledge, actor=bank, pledge_id=p.id, signed_by=desk.consent("bank_yuyao"), quantity_kg=200
    )
    with Session(desk.engine) as s:
        now = standing_of(s, pledge_id=p.id, record_seq=p.record_seq or 0)
    assert (now.status, now.held_kg, now.released_kg, now.changed_seq) == (
        "partly_released",
        400,
        200,
        desk.journal_size() - 1,
    )
    p = desk.call(enforce_pledge, actor=bank, pledge_id=p.id, signed_by=desk.consent("bank_yuyao"))
    with Session(desk.engine) as s:
        now = standing_of(s, pledge_id=p.id, record_seq=p.record_seq or 0)
        cert = registry_certificate(s, registry=desk.registry, pledge_id=p.id)
    assert (now.status, now.held_kg, now.enforced_kg, now.changed_seq) == (
        "enforced",
        0,
        400,
        desk.journal_size() - 1,
    )
    # the certificate still proves the registration: what happened since is the standing's to say
    assert verify_certificate(cert, desk.registry.key.public).ok
    assert desk.call(get_pledge, actor=bank, pledge_id=p.id).record_seq == cert.seq
