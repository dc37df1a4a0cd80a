"""Random sequences of issue, transfer, hold, release and capture never break the ledger.

A hypothesis state machine drives the real service (SQLite, and PostgreSQL when reachable)
next to a plain reference model. After every step: live equals model, every lot sums to
zero, no holding account is negative or over-held. At the end: replay equals live.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from sqlmodel import Session

from ledger import errors
from ledger.crypto import SigningKey
from ledger.model import HoldPlace, HoldSettle, Lot, Posting, TxBody
from ledger.service import Registry, balances, new_nonce, replay_database
from tests.conftest import engine_for
from tests.support import World, transfer

HOLDERS = ["ent:a.h", "ent:b.h", "bank:x.h"]
OWNER = {"ent:a.h": "ent:a", "ent:b.h": "ent:b", "bank:x.h": "bank:x"}
LOTS = [
    Lot(jurisdiction="330281", valid_until=date(2099, 12, 31)),
    Lot(jurisdiction="330281", valid_until=date(2098, 12, 31)),
]

amounts = st.integers(min_value=1, max_value=5_000)
holders = st.sampled_from(HOLDERS)
lots = st.sampled_from(LOTS)


class LedgerMachine(RuleBasedStateMachine):
    engine_kind: ClassVar[str] = "sqlite"
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.engine = engine_for(self.engine_kind, Path(self.tmp.name))
        self.world = World.create(self.engine, Registry(SigningKey.generate(), checkpoint_every=7))
        # Reference model: (account, lot key) -> [total, held]; hold id -> [account, lot, left]
        self.model: dict[tuple[str, str], list[int]] = {}
        self.open_holds: dict[str, list[object]] = {}
        self.counter = 0

    def pos(self, account: str, lot: Lot) -> list[int]:
        return self.model.setdefault((account, lot.key()), [0, 0])

    def expect(self, ok: bool, body: TxBody, *signers: str) -> bool:
        """Submit; the service must accept exactly when the model says the rules allow it."""
        refusal: errors.DomainError | None = None
        try:
            self.world.submit(body, *signers)
        except (errors.InsufficientBalance, errors.UnitsEncumbered) as exc:
            refusal = exc
        assert ok == (refusal is None), f"{body.action}: model says {ok}, ledger said {refusal}"
        return ok

    @rule(account=holders, amount=amounts, lot=lots)
    def issue(self, account: str, amount: int, lot: Lot) -> None:
        self.world.issue(account, amount, lot)
        self.pos(account, lot)[0] += amount
        self.pos("330281.cap", lot)[0] -= amount

    @rule(src=holders, dst=holders, amount=amounts, lot=lots)
    def move(self, src: str, dst: str, amount: int, lot: Lot) -> None:
        if src == dst:
            with pytest.raises(errors.InvalidInput, match="into the account it leaves"):
                transfer(src, dst, amount, lot)
            return
        total, held = self.pos(src, lot)
        if self.expect(total - held >= amount, transfer(src, dst, amount, lot), OWNER[src]):
            self.pos(src, lot)[0] -= amount
            self.pos(dst, lot)[0] += amount

    @rule(target=holds, account=holders, amount=amounts, lot=lots)
    def place(self, account: str, amount: int, lot: Lot) -> str:
        self.counter += 1
        hold_id = f"h{self.counter}"
        total, held = self.pos(account, lot)
        body = TxBody(
            "pledge",
            new_nonce(),
            holds=(HoldPlace(hold_id, account, "COD", lot, amount, "pledge", "bank:x"),),
        )
        if self.expect(total - held >= amount, body, OWNER[account]):
            self.pos(account, lot)[1] += amount
            self.open_holds[hold_id] = [account, lot, amount]
        return hold_id

    @rule(hold=consumes(holds), data=st.data())
    def release(self, hold: str, data: st.DataObject) -> None:
        if hold not in self.open_holds:
            return
        left = self.open_holds[hold][2]
        amount = data.draw(st.integers(1, int(left)))  # type: ignore[call-overload]
        body = TxBody("release", new_nonce(), holds=(HoldSettle("release", hold, amount),))
        assert self.expect(True, body, "bank:x")
        self.settle(hold, amount)

    @rule(hold=consumes(holds), dst=holders, data=st.data())
    def capture(self, hold: str, dst: str, data: st.DataObject) -> None:
        if hold not in self.open_holds or self.open_holds[hold][0] == dst:
            return
        account, lot, left = self.open_holds[hold]
        assert isinstance(account, str)
        assert isinstance(lot, Lot)
        amount = data.draw(st.integers(1, int(left)))  # type: ignore[call-overload]
        body = TxBody(
            "pledge.enforce",
            new_nonce(),
            postings=(Posting(account, "COD", lot, -amount), Posting(dst, "COD", lot, amount)),
            holds=(HoldSettle("capture", hold, amount),),
        )
        assert self.expect(True, body, "bank:x")
        self.settle(hold, amount)
        self.pos(account, lot)[0] -= amount
        self.pos(dst, lot)[0] += amount

    def settle(self, hold: str, amount: int) -> None:
        account, lot, left = self.open_holds.pop(hold)
        assert isinstance(account, str)
        assert isinstance(lot, Lot)
        assert isinstance(left, int)
        self.pos(account, lot)[1] -= amount
        if left > amount:
            self.open_holds[hold] = [account, lot, left - amount]

    @invariant()
    def live_equals_model_and_every_rule_holds(self) -> None:
        with Session(self.engine) as s:
            live = {(b.account, b.lot): [b.total, b.held] for b in balances(s) if b.instrument == "COD"}
        model = {k: v for k, v in self.model.items() if v != [0, 0]}
        assert live == model
        for lot in LOTS:  # conservation: issuance is the only source, and it is counted
            assert sum(v[0] for (_, key), v in live.items() if key == lot.key()) == 0
        for (account, _), (total, held) in live.items():
            if account != "330281.cap":
                assert 0 <= held <= total

    def teardown(self) -> None:
        try:
            with Session(self.engine) as s:
                report, diff = replay_database(s)
            assert report.ok, report.failure
            assert diff == {}
        finally:
            if self.engine_kind == "sqlite":
                self.engine.dispose()
            self.tmp.cleanup()


LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ledger_state_machine_on_sqlite = LedgerMachine.TestCase


class PostgresLedgerMachine(LedgerMachine):
    engine_kind = "postgres"


PostgresLedgerMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ledger_state_machine_on_postgres = pytest.mark.postgres(PostgresLedgerMachine.TestCase)
