"""Pledge loans (排污权抵质押) through their four steps, release, enforcement and every refusal, on
SQLite and PostgreSQL; ``Desk`` (also used by the cross-city and property tests) sets up the demo.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from accounts.demo import DEMO_SPECS, DemoParticipant, demo_key, register_demo
from accounts.errors import PermissionDenied
from accounts.model import Participant
from accounts.service import get_participant
from ledger.crypto import SigningKey
from ledger.errors import BadSignature, InvalidQuantity, KeyNotValid, UnitsEncumbered
from ledger.journal import parse_line
from ledger.model import HoldPlace, Lot, Posting, TxBody
from ledger.service import (
    Instruction,
    Registry,
    balances,
    find_hold,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    sign_body,
    submit,
    submit_all,
)
from market.auctions.tables import AuctionRow
from market.consent import Consent, sign_document
from market.pledges.certificate import PledgeCertificate, build_certificate, verify_certificate
from market.pledges.errors import (
    CollateralUnavailable,
    LoanExceedsValue,
    LoanTermBeyondValidity,
    PledgeStateConflict,
    UnknownPledge,
)
from market.pledges.record import approval_of, target_body
from market.pledges.service import (
    Pledge,
    PledgeStatus,
    apply_for_pledge,
    approve_pledge,
    cancel_pledge,
    confirm_pledge,
    enforce_pledge,
    get_pledge,
    latest_clearing_price,
    record_loan,
    release_pledge,
    request_forced_auction,
)
from market.pledges.valuation import PriceSource

T = TypeVar("T")
START = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
VALID = date(2030, 12, 31)
OPERATOR = "operator"


_SNAPSHOTS: dict[str, dict[str, list[dict[str, Any]]]] = {}


class Clock:
    """The registry's clock, moved by the test (the journal's clock never runs backwards)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    """An initialised ledger with the demo participants; grants rights and funds cash directly."""

    engine: Engine
    registry: Registry
    clock: Clock
    demo: dict[str, DemoParticipant]

    @classmethod
    def create(cls, engine: Engine) -> Desk:
        """The demo registered through the services once per engine kind; later tests restore the
        rows it wrote (same seeded keys, same clock, so the same bytes) instead of re-signing them."""
        clock = Clock(START)
        registry = Registry(SigningKey.from_seed(bytes(range(32))), clock=clock, checkpoint_every=5)
        snapshot = _SNAPSHOTS.get(engine.dialect.name)
        if snapshot is None:
            with Session(engine) as s:
                init_ledger(s, registry=registry, name="ecoledger market test")
                register_demo(s, registry=registry)
                s.commit()
            with engine.connect() as conn:
                _SNAPSHOTS[engine.dialect.name] = {
                    # in key order: the journal's chain guard takes each record after the one before it
                    t.name: [
                        dict(r._mapping) for r in conn.execute(t.select().order_by(*t.primary_key.columns))
                    ]
                    for t in SQLModel.metadata.sorted_tables
                }
        else:
            with engine.begin() as conn:
                for t in SQLModel.metadata.sorted_tables:
                    if snapshot[t.name]:
                        conn.execute(t.insert(), snapshot[t.name])
        with Session(engine) as s:
            demo = {
                alias: DemoParticipant(
                    get_participant(s, party=spec.participant().party), demo_key(spec.participant().party)
                )
                for alias, spec in DEMO_SPECS.items()
            }
        return cls(engine, registry, clock, demo)

    def p(self, alias: str) -> Participant:
        return self.demo[alias].participant

    def key(self, alias: str) -> SigningKey:
        return self.demo[alias].key

    def consent(self, alias: str) -> Consent:
        return Consent.custody(self.party(alias), self.key(alias))

    def party(self, alias: str) -> str:
        return self.demo[alias].party

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as s:
            yield s
            s.commit()

    def call(self, fn: Callable[..., T], **kwargs: Any) -> T:
        """Run one workflow step in its own transaction, committed; a refusal rolls back."""
        if "registry" in inspect.signature(fn).parameters:
            kwargs.setdefault("registry", self.registry)
        with self.session() as s:
            return fn(s, **kwargs)

    def grant(
        self, bureau: str, holder: str, kg: int, *, instrument: str = "COD", until: date = VALID
    ) -> Lot:
        """The cap model: cap -> reserve (cap in force grows), then reserve -> the holder, signed by the
        bureau; the reserve keeps ``kg`` more so reserve offers have something to sell."""
        b = self.demo[bureau]
        jur = b.participant.jurisdiction
        assert jur is not None
        lot = Lot(jurisdiction=jur, valid_until=until)
        cap, reserve = f"{b.party}.cap.{instrument}", f"{b.party}.reserve"
        raise_cap = TxBody(
            "cap.set",
            new_nonce(),
            (Posting(cap, instrument, lot, -2 * kg), Posting(reserve, instrument, lot, 2 * kg)),
        )
        allocate = TxBody(
            "allocation.initial",
            new_nonce(),
            (
                Posting(reserve, instrument, lot, -kg),
                Posting(f"{self.party(holder)}.holding", instrument, lot, kg),
            ),
        )
        with self.session() as s:
            submit_all(
                s,
                [
                    Instruction.signed(raise_cap, (b.party, b.key)),
                    Instruction.signed(allocate, (b.party, b.key)),
                ],
                registry=self.registry,
            )
        return lot

    def fund(self, alias: str, fen: int) -> None:
        op = self.demo[OPERATOR]
        body = TxBody(
            "cash.deposit",
            new_nonce(),
            (
                Posting(f"{op.party}.settlement", "CNY", Lot(), -fen),
                Posting(f"{self.party(alias)}.cash", "CNY", Lot(), fen),
            ),
        )
        with self.session() as s:
            submit(s, Instruction.signed(body, (op.party, op.key)), registry=self.registry)

    def position(self, account: str, lot: Lot, instrument: str = "COD") -> tuple[int, int]:
        """(total, held) of one position."""
        with Session(self.engine) as s:
            for b in balances(s, account=account):
                if b.instrument == instrument and b.lot == lot.key():
                    return b.total, b.held
        return 0, 0

    def journal_size(self) -> int:
        with Session(self.engine) as s:
            return head_size(s)

    def snapshot(self) -> tuple[int, list[Any]]:
        with Session(self.engine) as s:
            return head_size(s), balances(s)

    def pledge(
        self,
        owner: str,
        bank: str,
        lot: Lot,
        kg: int,
        *,
        loan_fen: int | None = None,
        months: int = 12,
        bank_price: int | None = None,
    ) -> Pledge:
        """All four steps with the demo keys."""
        p = self.call(
            apply_for_pledge,
            actor=self.p(owner),
            bank=self.party(bank),
            instrument_code="COD",
            lot=lot,
            quantity_kg=kg,
        )
        p = self.call(
            approve_pledge,
            actor=self.p(BUREAUS[lot.jurisdiction or ""]),
            pledge_id=p.id,
            approved_kg=kg,
            certificate_no=f"ZJPW-{lot.jurisdiction}-0001",
            signed_by=self.consent(BUREAUS[lot.jurisdiction or ""]),
        )
        p = self.call(
            record_loan,
            actor=self.p(bank),
            pledge_id=p.id,
            loan_id=f"LN-{p.id}",
            amount_fen=loan_fen if loan_fen is not None else kg * 1_000,
            rate_bp=385,
            term_months=months,
            signed_by=self.consent(bank),
            bank_price_fen_per_tonne=bank_price,
        )
        return self.call(confirm_pledge, actor=self.p(owner), pledge_id=p.id, signed_by=self.consent(owner))


BUREAUS = {"330200": "ningbo", "330281": "yuyao", "330300": "wenzhou", "330900": "zhoushan"}


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


def _holding(desk: Desk, alias: str) -> str:
    return f"{desk.party(alias)}.holding"


# -- the four steps --------------------------------------------------------------------------------


def test_the_four_steps_write_one_record_holding_the_units_for_the_bank(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 10_000)
    size = desk.journal_size()
    chem, bank = desk.p("yuyao_chem"), desk.p("bank_yuyao")
    p = desk.call(
        apply_for_pledge, actor=chem, bank=bank.party, instrument_code="COD", lot=lot, quantity_kg=6_000
    )
    assert p.status is PledgeStatus.APPLIED
    p = desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=5_000,
        certificate_no="ZJPW-330281-2025-0042",
        signed_by=desk.consent("yuyao"),
    )
    assert (p.status, p.approved_kg) == (PledgeStatus.APPROVED, 5_000)
    p = desk.call(
        record_loan,
        actor=bank,
        pledge_id=p.id,
        loan_id="NB-LN-2025-001",
        amount_fen=6_000_000,
        rate_bp=385,
        term_months=36,
        signed_by=desk.consent("bank_yuyao"),
    )
    assert p.status is PledgeStatus.LOAN_RECORDED
    assert p.appraisal is not None
    assert p.appraisal.source is PriceSource.REFERENCE
    assert p.appraisal.value_fen == 5_000 * 1_700_000 // 1_000  # Shaoxing's ~17,000 CNY/t
    assert desk.journal_size() == size, "no record before the enterprise confirms"
    p = desk.call(confirm_pledge, actor=chem, pledge_id=p.id, signed_by=desk.consent("yuyao_chem"))
    assert (p.status, p.held_kg) == (PledgeStatus.ACTIVE, 5_000)
    assert desk.journal_size() == size + 1
    assert desk.position(_holding(desk, "yuyao_chem"), lot) == (10_000, 5_000)
    with Session(desk.engine) as s:
        hold = find_hold(s, hold=p.hold_id)
        line = next(journal_lines(s, start=p.record_seq or 0, stop=(p.record_seq or 0) + 1))
    assert hold is not None
    assert (hold.reason, hold.controller, hold.amount, hold.status) == ("pledge", bank.party, 5_000, "open")
    record = parse_line(line)
    # the bank and the owner sign the body, loan terms included; the bureau's approval travels inside it
    assert {s.party for s in record.sigs} == {chem.party, bank.party}
    assert record.body["signers"] == sorted([chem.party, bank.party])
    meta = record.body["meta"]
    assert meta["approval"]["party"] == "bureau:330281"
    assert meta["loan"] == {
        "loan_id": "NB-LN-2025-001",
        "principal_fen": 6_000_000,
        "rate_bp": 385,
        "term_months": 36,
        "start": "2025-06-01",
        "maturity": "2028-06-01",
    }
    assert meta["names"]["bank"] == bank.name
    assert meta["quantity_kg"] == 5_000


def test_a_client_may_sign_the_body_itself_instead_of_handing_over_a_key(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    bank = desk.p("bank_yuyao")
    p = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=bank.party,
        instrument_code="COD",
        lot=lot,
        quantity_kg=500,
    )
    approved = replace(p, approved_kg=500, certificate_no="C-1")
    sig = sign_document(approval_of(approved), "bureau:330281", desk.key("yuyao"))
    with pytest.raises(BadSignature):  # a signature over a body is not an approval
        desk.call(
            approve_pledge,
            actor=desk.p("yuyao"),
            pledge_id=p.id,
            approved_kg=500,
            certificate_no="C-1",
            signed_by=Consent.given([sign_body(target_body(approved), "bureau:330281", desk.key("yuyao"))]),
        )
    p = desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=500,
        certificate_no="C-1",
        signed_by=Consent.given([sig]),
    )
    assert p.status is PledgeStatus.APPROVED
    other_body = target_body(replace(approved, approved_kg=499))
    with pytest.raises(BadSignature):  # a signature over other bytes is refused at the step
        desk.call(
            record_loan,
            actor=bank,
            pledge_id=p.id,
            loan_id="L-1",
            amount_fen=100,
            rate_bp=0,
            term_months=1,
            signed_by=Consent.given([sign_body(other_body, bank.party, desk.key("bank_yuyao"))]),
        )
    with pytest.raises(KeyNotValid):  # the bank signing with the bureau's key
        desk.call(
            record_loan,
            actor=bank,
            pledge_id=p.id,
            loan_id="L-1",
            amount_fen=100,
            rate_bp=0,
            term_months=1,
            signed_by=Consent.custody(bank.party, desk.key("yuyao")),
        )
    assert desk.call(get_pledge, actor=bank, pledge_id=p.id).status is PledgeStatus.APPROVED


def test_steps_out_of_order_are_refused(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    chem, bank = desk.p("yuyao_chem"), desk.p("bank_yuyao")
    p = desk.call(
        apply_for_pledge, actor=chem, bank=bank.party, instrument_code="COD", lot=lot, quantity_kg=500
    )
    with pytest.raises(PledgeStateConflict):
        desk.call(
            record_loan,
            actor=bank,
            pledge_id=p.id,
            loan_id="L",
            amount_fen=1,
            rate_bp=1,
            term_months=1,
            signed_by=desk.consent("bank_yuyao"),
        )
    with pytest.raises(PledgeStateConflict):
        desk.call(confirm_pledge, actor=chem, pledge_id=p.id, signed_by=desk.consent("yuyao_chem"))
    with pytest.raises(UnknownPledge):
        desk.call(confirm_pledge, actor=chem, pledge_id="pl-missing", signed_by=desk.consent("yuyao_chem"))
    with pytest.raises(InvalidQuantity):
        desk.call(
            approve_pledge,
            actor=desk.p("yuyao"),
            pledge_id=p.id,
            approved_kg=501,
            certificate_no="C",
            signed_by=desk.consent("yuyao"),
        )


def test_only_the_rights_own_bureau_approves_and_only_the_pledgee_bank_records_the_loan(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    chem = desk.p("yuyao_chem")
    p = desk.call(
        apply_for_pledge,
        actor=chem,
        bank=desk.party("bank_yuyao"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=500,
    )
    for alias, rule in (
        ("ningbo", "bureau_own_jurisdiction"),
        ("zhoushan", "bureau_own_jurisdiction"),
        ("bank_yuyao", "bureau_approves_quantity"),
    ):
        with pytest.raises(PermissionDenied) as err:
            desk.call(
                approve_pledge,
                actor=desk.p(alias),
                pledge_id=p.id,
                approved_kg=500,
                certificate_no="C",
                signed_by=desk.consent(alias),
            )
        assert err.value.rule == rule
    desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=500,
        certificate_no="C",
        signed_by=desk.consent("yuyao"),
    )
    for alias, rule in (("bank_ningbo", "pledge_under_own_control"), ("yuyao", "pledge_under_own_control")):
        with pytest.raises(PermissionDenied) as err:
            desk.call(
                record_loan,
                actor=desk.p(alias),
                pledge_id=p.id,
                loan_id="L",
                amount_fen=1,
                rate_bp=1,
                term_months=1,
                signed_by=desk.consent(alias),
            )
        assert err.value.rule == rule


def test_a_loan_above_80_percent_of_the_value_or_beyond_the_validity_is_refused(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 10_000, until=date(2027, 6, 30))
    bank = desk.p("bank_yuyao")
    p = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=bank.party,
        instrument_code="COD",
        lot=lot,
        quantity_kg=10_000,
    )
    desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=10_000,
        certificate_no="C",
        signed_by=desk.consent("yuyao"),
    )
    value = 10_000 * 1_700_000 // 1_000  # 10 t at 17,000 CNY/t: 170,000 CNY
    loan = {
        "actor": bank,
        "pledge_id": p.id,
        "loan_id": "L",
        "rate_bp": 385,
        "signed_by": desk.consent("bank_yuyao"),
    }
    with pytest.raises(LoanExceedsValue) as err:
        desk.call(record_loan, amount_fen=value * 8 // 10 + 1, term_months=12, **loan)
    assert err.value.details["max_loan_fen"] == value * 8 // 10
    with pytest.raises(LoanTermBeyondValidity):  # 2025-06-01 + 25 months = 2027-07-01 > 2027-06-30
        desk.call(record_loan, amount_fen=100, term_months=25, **loan)
    # With an auction clearing price known (here 30,000 CNY/t) the value follows it.
    p = desk.call(
        record_loan,
        amount_fen=value * 8 // 10 + 1,
        term_months=24,
        clearing_prices=lambda _s, *, instrument, jurisdiction: 3_000_000,
        **loan,
    )
    assert p.appraisal is not None
    assert (p.appraisal.source, p.appraisal.value_fen) == (PriceSource.AUCTION, 10_000 * 3_000_000 // 1_000)
    assert p.loan is not None
    assert p.loan.maturity == date(2027, 6, 1)


def test_the_latest_closed_auction_of_that_right_and_city_prices_the_pledge(desk: Desk) -> None:
    def auction(auction_id: str, jurisdiction: str, closed_at: str, price: int | None) -> AuctionRow:
        return AuctionRow(
            auction_id=auction_id,
            bureau=f"bureau:{jurisdiction}",
            instrument="COD",
            jurisdiction=jurisdiction,
            valid_until="2030-12-31",
            quantity_kg=1_000,
            reserve_price_fen_per_t=600_000,
            design="zhejiang_online",
            opens_at="2025-05-01T00:00:00.000000Z",
            closes_at=closed_at,
            deposit_kind="fixed",
            deposit_amount_fen=1,
            extension_us=0,
            payment_window_us=0,
            hold=f"auction.{auction_id}",
            status="closed" if price else "open",
            opened_seq=1,
            closed_at=closed_at if price else None,
            clearing_price_fen_per_t=price,
        )

    with desk.session() as s:
        assert latest_clearing_price(s, instrument="COD", jurisdiction="330281") is None
        s.add(auction("a1", "330281", "2025-05-10T00:00:00.000000Z", 1_500_000))
        s.add(auction("a2", "330281", "2025-05-20T00:00:00.000000Z", 1_800_000))
        s.add(auction("a3", "330281", "2025-05-30T00:00:00.000000Z", None))  # still open
        s.add(auction("a4", "330900", "2025-05-31T00:00:00.000000Z", 9_000_000))  # another city
    with Session(desk.engine) as s:
        assert latest_clearing_price(s, instrument="COD", jurisdiction="330281") == 1_800_000
        assert latest_clearing_price(s, instrument="NOX", jurisdiction="330281") is None
    # The documented rule (docs/valuation.md) prices a pledge from settled records in the journal, not
    # from a clearing price in the auction rows: these closings were never settled, so the reference.
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 1_000)
    assert p.appraisal is not None
    assert (p.appraisal.source, p.appraisal.value_fen) == (PriceSource.REFERENCE, 1_700_000)


# -- encumbrance -----------------------------------------------------------------------------------


def test_pledged_units_cannot_be_sold_transferred_or_retired_by_the_owner(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    desk.pledge("yuyao_chem", "bank_yuyao", lot, 800)
    chem = desk.demo["yuyao_chem"]
    for dst in (_holding(desk, "yuyao_dye"), f"{chem.party}.retirement"):
        body = TxBody(
            "transfer",
            new_nonce(),
            (Posting(f"{chem.party}.holding", "COD", lot, -300), Posting(dst, "COD", lot, 300)),
        )
        before = desk.snapshot()
        with pytest.raises(UnitsEncumbered), desk.session() as s:
            submit(s, Instruction.signed(body, (chem.party, chem.key)), registry=desk.registry)
        assert desk.snapshot() == before
    free = TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(f"{chem.party}.holding", "COD", lot, -200),
            Posting(_holding(desk, "yuyao_dye"), "COD", lot, 200),
        ),
    )
    with desk.session() as s:  # the unpledged 200 still move
        submit(s, Instruction.signed(free, (chem.party, chem.key)), registry=desk.registry)
    assert desk.position(_holding(desk, "yuyao_chem"), lot) == (800, 800)


def test_the_same_units_cannot_be_pledged_twice_to_one_bank_or_to_two(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    first = desk.pledge("yuyao_chem", "bank_yuyao", lot, 700)
    chem = desk.p("yuyao_chem")
    for bank in ("bank_yuyao", "bank_ningbo"):
        with pytest.raises(CollateralUnavailable) as err:
            desk.call(
                apply_for_pledge,
                actor=chem,
                bank=desk.party(bank),
                instrument_code="COD",
                lot=lot,
                quantity_kg=400,
            )
        assert err.value.details["pledged_to"] == [desk.party("bank_yuyao")]
        assert err.value.details["available_kg"] == 300
    # An application in progress reserves its units too.
    desk.call(
        apply_for_pledge,
        actor=chem,
        bank=desk.party("bank_ningbo"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=300,
    )
    with pytest.raises(CollateralUnavailable):
        desk.call(
            apply_for_pledge,
            actor=chem,
            bank=desk.party("bank_yuyao"),
            instrument_code="COD",
            lot=lot,
            quantity_kg=1,
        )
    # The ledger itself refuses a second hold over held units (held <= total), workflow or not.
    second_bank = desk.party("bank_ningbo")
    sneak_hold = HoldPlace("sneak", first.account, first.instrument, first.lot, 400, "pledge", second_bank)
    sneak = TxBody("pledge.register", new_nonce(), holds=(sneak_hold,))
    with pytest.raises(UnitsEncumbered), desk.session() as s:
        submit(s, Instruction.signed(sneak, (chem.party, desk.key("yuyao_chem"))), registry=desk.registry)


def test_confirmation_rechecks_the_units_are_still_free(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    chem = desk.demo["yuyao_chem"]
    p = desk.call(
        apply_for_pledge,
        actor=chem.participant,
        bank=desk.party("bank_yuyao"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=900,
    )
    desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=900,
        certificate_no="C",
        signed_by=desk.consent("yuyao"),
    )
    desk.call(
        record_loan,
        actor=desk.p("bank_yuyao"),
        pledge_id=p.id,
        loan_id="L",
        amount_fen=100,
        rate_bp=1,
        term_months=1,
        signed_by=desk.consent("bank_yuyao"),
    )
    sold = TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(f"{chem.party}.holding", "COD", lot, -500),
            Posting(_holding(desk, "yuyao_dye"), "COD", lot, 500),
        ),
    )
    with desk.session() as s:  # sold meanwhile, outside the workflow
        submit(s, Instruction.signed(sold, (chem.party, chem.key)), registry=desk.registry)
    with pytest.raises(CollateralUnavailable):
        desk.call(
            confirm_pledge, actor=chem.participant, pledge_id=p.id, signed_by=desk.consent("yuyao_chem")
        )


def test_only_the_owner_confirms(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=desk.party("bank_yuyao"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=100,
    )
    desk.call(
        approve_pledge,
        actor=desk.p("yuyao"),
        pledge_id=p.id,
        approved_kg=100,
        certificate_no="C",
        signed_by=desk.consent("yuyao"),
    )
    desk.call(
        record_loan,
        actor=desk.p("bank_yuyao"),
        pledge_id=p.id,
        loan_id="L",
        amount_fen=100,
        rate_bp=1,
        term_months=1,
        signed_by=desk.consent("bank_yuyao"),
    )
    for alias in ("yuyao_dye", "bank_yuyao", "yuyao"):
        with pytest.raises(PermissionDenied):
            desk.call(confirm_pledge, actor=desk.p(alias), pledge_id=p.id, signed_by=desk.consent(alias))


# -- after registration ----------------------------------------------------------------------------


def test_the_pledgee_releases_in_part_then_in_full_and_no_other_bank_may(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 1_000)
    for alias in ("bank_ningbo", "yuyao_chem", "yuyao"):
        before = desk.snapshot()
        with pytest.raises(PermissionDenied) as err:
            desk.call(release_pledge, actor=desk.p(alias), pledge_id=p.id, signed_by=desk.consent(alias))
        assert desk.snapshot() == before
        if alias == "bank_ningbo":
            assert err.value.rule == "pledge_controller_only"
    bank = desk.p("bank_yuyao")
    p = desk.call(
        release_pledge, actor=bank, pledge_id=p.id, quantity_kg=400, signed_by=desk.consent("bank_yuyao")
    )
    assert (p.status, p.held_kg, p.released_kg) == (PledgeStatus.ACTIVE, 600, 400)
    assert desk.position(_holding(desk, "yuyao_chem"), lot) == (1_000, 600)
    with pytest.raises(InvalidQuantity):
        desk.call(
            release_pledge, actor=bank, pledge_id=p.id, quantity_kg=601, signed_by=desk.consent("bank_yuyao")
        )
    p = desk.call(release_pledge, actor=bank, pledge_id=p.id, signed_by=desk.consent("bank_yuyao"))
    assert (p.status, p.held_kg, p.released_kg) == (PledgeStatus.RELEASED, 0, 1_000)
    assert desk.position(_holding(desk, "yuyao_chem"), lot) == (1_000, 0)
    with pytest.raises(PledgeStateConflict):
        desk.call(release_pledge, actor=bank, pledge_id=p.id, signed_by=desk.consent("bank_yuyao"))


def test_enforcement_captures_the_held_units_into_the_banks_holding_in_one_record(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 700)
    with pytest.raises(PermissionDenied):
        desk.call(
            enforce_pledge, actor=desk.p("bank_ningbo"), pledge_id=p.id, signed_by=desk.consent("bank_ningbo")
        )
    size = desk.journal_size()
    p = desk.call(
        enforce_pledge, actor=desk.p("bank_yuyao"), pledge_id=p.id, signed_by=desk.consent("bank_yuyao")
    )
    assert (p.status, p.held_kg, p.enforced_kg) == (PledgeStatus.ENFORCED, 0, 700)
    assert desk.journal_size() == size + 1
    assert desk.position(_holding(desk, "yuyao_chem"), lot) == (300, 0)
    assert desk.position(_holding(desk, "bank_yuyao"), lot) == (700, 0)


def test_a_forced_auction_records_the_intent_and_keeps_the_units_held(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 500)
    with pytest.raises(PermissionDenied):
        desk.call(
            request_forced_auction, actor=desk.p("bank_ningbo"), pledge_id=p.id, claim_fen=1, reason="default"
        )
    size = desk.journal_size()
    p = desk.call(
        request_forced_auction,
        actor=desk.p("bank_yuyao"),
        pledge_id=p.id,
        claim_fen=450_000,
        reason="default",
    )
    assert (p.status, p.claim_fen, p.held_kg) == (PledgeStatus.FORCED_AUCTION, 450_000, 500)
    assert desk.journal_size() == size
    assert desk.position(_holding(desk, "yuyao_chem"), lot) == (1_000, 500)
    with pytest.raises(PledgeStateConflict):
        desk.call(
            request_forced_auction, actor=desk.p("bank_yuyao"), pledge_id=p.id, claim_fen=1, reason="again"
        )
    p = desk.call(
        enforce_pledge, actor=desk.p("bank_yuyao"), pledge_id=p.id, signed_by=desk.consent("bank_yuyao")
    )
    assert p.status is PledgeStatus.ENFORCED


def test_any_party_cancels_before_confirmation_and_the_units_are_free_again(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=desk.party("bank_yuyao"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=1_000,
    )
    with pytest.raises(PermissionDenied):
        desk.call(cancel_pledge, actor=desk.p("bank_ningbo"), pledge_id=p.id, reason="not ours")
    p = desk.call(cancel_pledge, actor=desk.p("bank_yuyao"), pledge_id=p.id, reason="credit declined")
    assert (p.status, p.closed_by) == (PledgeStatus.CANCELLED, desk.party("bank_yuyao"))
    again = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=desk.party("bank_ningbo"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=1_000,
    )
    assert again.status is PledgeStatus.APPLIED


def test_a_pledge_is_visible_to_its_parties_and_supervisors_only(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 100)
    for alias in ("yuyao_chem", "bank_yuyao", "yuyao", "ningbo", "province", "auditor"):
        assert desk.call(get_pledge, actor=desk.p(alias), pledge_id=p.id).id == p.id
    for alias in ("bank_ningbo", "yuyao_dye", "zhoushan"):
        with pytest.raises(PermissionDenied):
            desk.call(get_pledge, actor=desk.p(alias), pledge_id=p.id)


# -- the certificate ---------------------------------------------------------------------------------


def test_a_pledge_certificate_verifies_offline_with_only_the_registry_key(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 600)
    cert = desk.call(build_certificate, actor=desk.p("yuyao_chem"), pledge_id=p.id)
    assert cert.seq == p.record_seq
    assert cert.pledge["loan"]["principal_fen"] == 600_000
    parsed = PledgeCertificate.from_json(json.loads(json.dumps(cert.to_json())))
    check = verify_certificate(parsed, desk.registry.key.public, expected_quantity_kg=600)
    assert check.ok, check.problems
    assert not verify_certificate(parsed, desk.registry.key.public, expected_quantity_kg=601).ok
    with pytest.raises(PermissionDenied):
        desk.call(build_certificate, actor=desk.p("bank_ningbo"), pledge_id=p.id)
    unregistered = desk.call(
        apply_for_pledge,
        actor=desk.p("yuyao_chem"),
        bank=desk.party("bank_yuyao"),
        instrument_code="COD",
        lot=lot,
        quantity_kg=100,
    )
    with pytest.raises(PledgeStateConflict):
        desk.call(build_certificate, actor=desk.p("yuyao_chem"), pledge_id=unregistered.id)
