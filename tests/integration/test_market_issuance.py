"""Cap, allocation, paid use, reserve buy-back and expiry on both engines, through the workflows
as the Yuyao bureau and its enterprises use them; every refusal leaves the ledger unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.demo import DemoParticipant, register_demo
from accounts.errors import PermissionDenied
from ledger.errors import ExpiredUnits, InsufficientBalance, InvalidInput, MissingSignature
from ledger.journal import parse_line
from ledger.model import Lot, Posting, TxBody
from ledger.service import (
    Balance,
    Instruction,
    Registry,
    balances,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    submit,
)
from market.consent import Consent
from market.expiry.service import run_expiry
from market.issuance.errors import CapExceeded, NotInJurisdiction, PermitRequired
from market.issuance.service import allocate_initial, cap_position, paid_use_fee_fen, set_cap
from market.reserve.service import allocate_to_major_project, buy_back
from tests.pledge_support import pledge_registration

Demo = dict[str, DemoParticipant]
START = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
UNTIL = date(2029, 12, 31)
SHORT = date(2024, 6, 30)  # a lot that expires within the tests' clock
OPERATOR = "operator:zj-registry"
RESERVE, RETIREMENT, BUREAU_CASH = "bureau:330281.reserve", "bureau:330281.retirement", "bureau:330281.cash"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    engine: Engine
    registry: Registry
    clock: Clock
    demo: Demo

    @property
    def keys(self) -> dict[str, Any]:
        return {d.party: d.key for d in self.demo.values()}

    def actor(self, alias: str) -> Any:
        return self.demo[alias].participant

    def party(self, alias: str) -> str:
        return self.demo[alias].party

    def fund(self, account: str, fen: int) -> None:
        """CNY enters from the operator's settlement gateway, signed by the operator."""
        body = TxBody(
            "cash.deposit",
            new_nonce(),
            (Posting(f"{OPERATOR}.settlement", "CNY", Lot(), -fen), Posting(account, "CNY", Lot(), fen)),
        )
        with Session(self.engine) as s:
            submit(s, Instruction.signed(body, (OPERATOR, self.demo["operator"].key)), registry=self.registry)
            s.commit()

    def run(self, fn: Any, **kwargs: Any) -> Any:
        with Session(self.engine) as s:
            out = fn(s, registry=self.registry, signed_by=Consent(self.keys), **kwargs)
            s.commit()
        return out

    def cap(self, instrument: str = "COD", kg: int = 10_000, until: date = UNTIL) -> None:
        self.run(set_cap, actor=self.actor("yuyao"), instrument=instrument, quantity_kg=kg, valid_until=until)

    def snapshot(self) -> tuple[int, list[Balance]]:
        with Session(self.engine) as s:
            return head_size(s), balances(s)


@pytest.fixture
def env(engine: Engine, registry: Registry) -> Env:
    clock = Clock()
    reg = Registry(registry.key, clock=clock, checkpoint_every=5)
    with Session(engine) as s:
        init_ledger(s, registry=reg, name="ecoledger issuance test")
        demo = register_demo(s, registry=reg)
        s.commit()
    return Env(engine, reg, clock, demo)


def _total(env: Env, account: str, instrument: str) -> int:
    with Session(env.engine) as s:
        return sum(b.total for b in balances(s, account=account) if b.instrument == instrument)


def test_setting_the_cap_puts_it_into_the_government_reserve(env: Env) -> None:
    env.cap(kg=120_000)
    with Session(env.engine) as s:
        pos = cap_position(s, jurisdiction="330281", instrument="COD", valid_until=UNTIL)
    assert (pos.cap_kg, pos.reserve_kg, pos.allocated_kg) == (120_000, 120_000, 0)
    assert _total(env, "bureau:330281.cap.COD", "COD") == -120_000


def test_an_allocation_beyond_the_cap_is_refused_clearly_and_the_ledger_is_unchanged(env: Env) -> None:
    env.cap(kg=10_000)
    chem = env.party("yuyao_chem")
    env.run(
        allocate_initial,
        actor=env.actor("yuyao"),
        enterprise=chem,
        instrument="COD",
        quantity_kg=6_000,
        valid_until=UNTIL,
        paid_use=False,
    )
    before = env.snapshot()
    with pytest.raises(CapExceeded) as exc:
        env.run(
            allocate_initial,
            actor=env.actor("yuyao"),
            enterprise=chem,
            instrument="COD",
            quantity_kg=5_000,
            valid_until=UNTIL,
            paid_use=False,
        )
    assert exc.value.code == "cap_exceeded"
    assert (exc.value.details["cap"], exc.value.details["allocated"], exc.value.details["requested"]) == (
        10_000,
        6_000,
        5_000,
    )
    assert "cap 10000, allocated 6000" in exc.value.message
    assert env.snapshot() == before
    with pytest.raises(CapExceeded):  # a lot the cap never covered: cap 0
        env.run(
            allocate_initial,
            actor=env.actor("yuyao"),
            enterprise=chem,
            instrument="COD",
            quantity_kg=1,
            valid_until=date(2030, 12, 31),
            paid_use=False,
        )


def test_the_paid_use_fee_is_exact_and_moves_in_the_same_record_as_the_rights(env: Env) -> None:
    chem = env.party("yuyao_chem")
    env.cap("VOCS", 50_000)
    env.cap("COD", 50_000)
    env.fund(f"{chem}.cash", 100_000_000)  # 1,000,000.00 CNY
    # VOCs at 6,000 CNY per t·a (Wuyi/Yongkang pilot): 12.345 t/a x 6,000 x 5 years = 370,350.00 CNY
    vocs = env.run(
        allocate_initial,
        actor=env.actor("yuyao"),
        enterprise=chem,
        instrument="VOCS",
        quantity_kg=12_345,
        valid_until=UNTIL,
    )
    assert vocs.fee_fen == 37_035_000
    # COD at the Jinhua base price 4,000 CNY per t·a: 2.5 t/a x 4,000 x 5 = 50,000.00 CNY
    cod = env.run(
        allocate_initial,
        actor=env.actor("yuyao"),
        enterprise=chem,
        instrument="COD",
        quantity_kg=2_500,
        valid_until=UNTIL,
    )
    assert cod.fee_fen == 5_000_000
    assert _total(env, f"{chem}.cash", "CNY") == 100_000_000 - 37_035_000 - 5_000_000
    assert _total(env, BUREAU_CASH, "CNY") == 42_035_000
    assert _total(env, f"{chem}.holding", "VOCS") == 12_345
    with Session(env.engine) as s:
        record = parse_line(next(journal_lines(s, start=vocs.receipt.seq, stop=vocs.receipt.seq + 1)))
    legs = {(p["account"], p["instrument"]): p["amount"] for p in record.body["postings"]}
    assert legs == {
        (RESERVE, "VOCS"): -12_345,
        (f"{chem}.holding", "VOCS"): 12_345,
        (f"{chem}.cash", "CNY"): -37_035_000,
        (BUREAU_CASH, "CNY"): 37_035_000,
    }
    assert {sig.party for sig in record.sigs} == {"bureau:330281", chem}
    assert record.body["meta"]["paid_use"]["fee_fen"] == 37_035_000


def test_without_the_fee_in_cash_the_rights_do_not_move_either(env: Env) -> None:
    chem = env.party("yuyao_chem")
    env.cap("COD", 50_000)
    env.fund(f"{chem}.cash", 4_999_999)  # one fen short of 50,000.00 CNY
    before = env.snapshot()
    with pytest.raises(InsufficientBalance):
        env.run(
            allocate_initial,
            actor=env.actor("yuyao"),
            enterprise=chem,
            instrument="COD",
            quantity_kg=2_500,
            valid_until=UNTIL,
        )
    assert env.snapshot() == before


def test_fees_are_whole_fen_rounded_half_up_only_for_prices_finer_than_a_fen_per_kg() -> None:
    assert paid_use_fee_fen(quantity_kg=1, price_fen_per_tonne_year=400_000, years=5) == 2_000
    assert paid_use_fee_fen(quantity_kg=1, price_fen_per_tonne_year=100_000, years=1) == 100
    assert paid_use_fee_fen(quantity_kg=1, price_fen_per_tonne_year=1_499, years=1) == 1  # 1.499 fen
    assert paid_use_fee_fen(quantity_kg=1, price_fen_per_tonne_year=1_500, years=1) == 2  # 1.5 fen
    with pytest.raises(TypeError):
        paid_use_fee_fen(quantity_kg=1, price_fen_per_tonne_year=1.5, years=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        paid_use_fee_fen(quantity_kg=1, price_fen_per_tonne_year=1_000, years=0)


def test_initial_allocation_needs_a_permit_and_an_enterprise_of_the_jurisdiction(env: Env) -> None:
    env.cap()
    before = env.snapshot()
    for alias, error in (("yuyao_dye", PermitRequired), ("ningbo_petro", NotInJurisdiction)):
        with pytest.raises(error):
            env.run(
                allocate_initial,
                actor=env.actor("yuyao"),
                enterprise=env.party(alias),
                instrument="COD",
                quantity_kg=100,
                valid_until=UNTIL,
                paid_use=False,
            )
    assert env.snapshot() == before


def test_only_the_bureau_of_the_jurisdiction_issues_and_buys_back(env: Env) -> None:
    env.cap()
    chem = env.party("yuyao_chem")
    before = env.snapshot()
    with pytest.raises(PermissionDenied) as refused:
        env.run(set_cap, actor=env.actor("yuyao_chem"), instrument="COD", quantity_kg=1, valid_until=UNTIL)
    assert refused.value.rule == "action_not_granted_to_role"
    with pytest.raises(PermissionDenied) as refused:
        env.run(
            buy_back,
            actor=env.actor("ningbo"),
            enterprise=chem,
            instrument="COD",
            quantity_kg=1,
            valid_until=UNTIL,
            amount_fen=100,
        )
    assert refused.value.rule == "bureau_own_jurisdiction"
    assert env.snapshot() == before


def test_a_buy_back_moves_rights_and_money_together_or_not_at_all(env: Env) -> None:
    chem = env.party("yuyao_chem")
    env.cap(kg=10_000)
    env.run(
        allocate_initial,
        actor=env.actor("yuyao"),
        enterprise=chem,
        instrument="COD",
        quantity_kg=4_000,
        valid_until=UNTIL,
        paid_use=False,
    )
    kwargs = {"actor": env.actor("yuyao"), "enterprise": chem, "instrument": "COD", "valid_until": UNTIL}
    before = env.snapshot()
    with pytest.raises(InsufficientBalance):  # the bureau has no cash yet: no rights move either
        env.run(buy_back, quantity_kg=1_000, amount_fen=1_700_000, **kwargs)
    env.fund(BUREAU_CASH, 10_000_000)
    before = env.snapshot()
    with pytest.raises(InsufficientBalance):  # the enterprise holds 4 t, not 5: no money moves
        env.run(buy_back, quantity_kg=5_000, amount_fen=1_700_000, **kwargs)
    with pytest.raises(MissingSignature), Session(env.engine) as s:  # the seller's consent is in the record
        buy_back(
            s,
            registry=env.registry,
            signed_by=Consent({"bureau:330281": env.demo["yuyao"].key}),
            quantity_kg=1_000,
            amount_fen=1_700_000,
            **kwargs,
        )
    assert env.snapshot() == before
    # 收储 of 1 t/a at about 17,000 CNY per tonne (Shaoxing's appraisal level)
    env.run(buy_back, quantity_kg=1_000, amount_fen=1_700_000, **kwargs)
    assert _total(env, f"{chem}.holding", "COD") == 3_000
    assert _total(env, f"{chem}.cash", "CNY") == 1_700_000
    assert _total(env, BUREAU_CASH, "CNY") == 10_000_000 - 1_700_000
    with Session(env.engine) as s:
        pos = cap_position(s, jurisdiction="330281", instrument="COD", valid_until=UNTIL)
    assert (pos.reserve_kg, pos.allocated_kg) == (7_000, 3_000)


def test_reserved_quota_goes_to_a_major_project_under_the_cap(env: Env) -> None:
    env.cap(kg=5_000)
    dye = env.party("yuyao_dye")  # no permit yet: a new project
    env.fund(f"{dye}.cash", 10_000_000)
    project = "余姚示例新材料项目"  # 重大项目
    done = env.run(
        allocate_to_major_project,
        actor=env.actor("yuyao"),
        enterprise=dye,
        project=project,
        instrument="COD",
        quantity_kg=2_000,
        valid_until=UNTIL,
    )
    assert done.fee_fen == 4_000_000  # 2 t x 4,000 CNY x 5 years
    assert _total(env, f"{dye}.holding", "COD") == 2_000
    with pytest.raises(CapExceeded):
        env.run(
            allocate_to_major_project,
            actor=env.actor("yuyao"),
            enterprise=dye,
            project="二期",
            instrument="COD",
            quantity_kg=3_001,
            valid_until=UNTIL,
        )


def test_the_expiry_run_retires_expired_rights_leaves_pledged_ones_and_expired_units_cannot_move(
    env: Env,
) -> None:
    chem, bank = env.party("yuyao_chem"), env.party("bank_yuyao")
    env.cap(kg=10_000, until=SHORT)
    env.cap(kg=3_000, until=UNTIL)  # a lot that stays valid
    env.run(
        allocate_initial,
        actor=env.actor("yuyao"),
        enterprise=chem,
        instrument="COD",
        quantity_kg=5_000,
        valid_until=SHORT,
        paid_use=False,
    )
    short = Lot(jurisdiction="330281", valid_until=SHORT)
    # a loan the bank recorded two days before, maturing on the lot's last valid day
    pledge = pledge_registration(
        "loan-1",
        account=f"{chem}.holding",
        lot_kg=(short, 2_000),
        enterprise=chem,
        bank=bank,
        bureau=env.party("yuyao"),
        bureau_key=env.demo["yuyao"].key,
        start=date(2024, 5, 30),
    )
    with Session(env.engine) as s:
        signers = [(p.party, p.key) for p in (env.demo["yuyao_chem"], env.demo["bank_yuyao"])]
        submit(s, Instruction.signed(pledge, *signers), registry=env.registry)
        s.commit()
    env.clock.now = START + timedelta(days=60)  # SHORT has passed
    dye = env.party("yuyao_dye")
    legs = (Posting(f"{chem}.holding", "COD", short, -1_000), Posting(f"{dye}.holding", "COD", short, 1_000))
    move = TxBody("transfer", new_nonce(), legs)
    with Session(env.engine) as s, pytest.raises(ExpiredUnits):
        submit(s, Instruction.signed(move, (chem, env.demo["yuyao_chem"].key)), registry=env.registry)
    with Session(env.engine) as s:
        with pytest.raises(PermissionDenied):
            run_expiry(s, registry=env.registry, actor=env.actor("yuyao_chem"))
        with pytest.raises(InvalidInput):
            run_expiry(s, registry=env.registry, today=date(2024, 12, 31))
        report = run_expiry(s, registry=env.registry, actor=env.actor("operator"))
        s.commit()
    assert {(p.account, p.swept_kg) for p in report.swept} == {(f"{chem}.holding", 3_000), (RESERVE, 5_000)}
    assert [(p.account, p.held_kg) for p in report.held] == [(f"{chem}.holding", 2_000)]
    assert len(report.receipts) == 1
    with Session(env.engine) as s:
        holding = [b for b in balances(s, account=f"{chem}.holding") if b.instrument == "COD"]
        assert [(b.total, b.held) for b in holding] == [(2_000, 2_000)]  # the pledged part stays, still held
        assert [(b.lot, b.total) for b in balances(s, account=RETIREMENT)] == [(short.key(), 8_000)]
        assert [b.total for b in balances(s, account=RESERVE)] == [3_000]  # the valid lot untouched
        assert run_expiry(s, registry=env.registry).receipts == ()  # a second run finds nothing new
        record = parse_line(
            next(journal_lines(s, start=report.receipts[0].seq, stop=report.receipts[0].seq + 1))
        )
        assert record.body["action"] == "expiry"
        assert record.sigs == ()
        result, diff = replay_database(s)
        assert result.ok
        assert diff == {}


@pytest.mark.parametrize(
    ("now", "swept"),
    [(datetime(2024, 6, 30, 23, 0, tzinfo=UTC), False), (datetime(2024, 7, 1, 0, 0, tzinfo=UTC), True)],
)
def test_the_expiry_run_leaves_a_lot_on_its_last_valid_day_and_sweeps_it_the_day_after(
    env: Env, now: datetime, swept: bool
) -> None:
    env.cap(kg=4_000, until=SHORT)  # valid through SHORT, 2024-06-30
    env.clock.now = now
    with Session(env.engine) as s:
        report = run_expiry(s, registry=env.registry)
        s.commit()
    assert [(p.account, p.swept_kg) for p in report.swept] == ([(RESERVE, 4_000)] if swept else [])
    with Session(env.engine) as s:
        assert sum(b.total for b in balances(s, account=RESERVE)) == (0 if swept else 4_000)
        assert replay_database(s)[0].ok
