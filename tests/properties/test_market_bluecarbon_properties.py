"""Random blue-carbon histories through the real workflows (SQLite, and PostgreSQL when reachable):
issuances with random harvests and buffer shares, transfers, retirements and escape attempts.

After every step: stored serial blocks never overlap, each batch's range follows the last (never
issued twice), blocks equal ledger balances, issued == holdings + buffer + retired per batch, and
retired serials only accumulate. At the end: the journal replays to the same serials and every
recorded issuance recomputes from its meta to the quantity issued.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlmodel import Session, select

from accounts.demo import register_demo
from ledger.crypto import SigningKey
from ledger.errors import AccountCannotSend
from ledger.journal import parse_line
from ledger.model import Lot, Posting, TxBody, parse_body
from ledger.service import (
    Instruction,
    Registry,
    balances,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    submit,
)
from market.bluecarbon.errors import NothingToIssue, SerialsNotHeld
from market.bluecarbon.serials import ISSUE_ACTION, SerialBlock, SerialBook, recheck_issuance, replay_serials
from market.bluecarbon.service import (
    ProjectSpec,
    issue_credits,
    register_project,
    retire_credits,
    submit_report,
    transfer_credits,
)
from market.bluecarbon.tables import BlueCarbonBatchRow, SerialBlockRow
from market.consent import Consent
from tests.conftest import engine_for

OWNERS = {"P1": "shengsi_coop", "P2": "zhoushan_ship"}  # a cooperative's project and an enterprise's


class BlueCarbonMachine(RuleBasedStateMachine):
    engine_kind: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.engine = engine_for(self.engine_kind, Path(self.tmp.name))
        self.registry = Registry(SigningKey.generate(), checkpoint_every=50)
        with Session(self.engine) as s:
            init_ledger(s, registry=self.registry, name="blue carbon machine")
            self.demo = register_demo(s, registry=self.registry)
            for project, alias in OWNERS.items():
                spec = ProjectSpec(
                    project, f"mussel farm {project}", "嵊泗", Decimal("22000"), 518, division="330922"
                )
                register_project(s, actor=self.demo[alias].participant, spec=spec)
            s.commit()
        self.keys = {d.party: d.key for d in self.demo.values()}
        self.holders = [f"{self.demo[a].party}.holding" for a in OWNERS.values()]
        self.years = dict.fromkeys(OWNERS, 2000)
        self.batches: list[str] = []
        self.retired: set[tuple[str, int]] = set()

    def run(self, fn: Any, **kwargs: Any) -> Any:
        with Session(self.engine) as s:
            out = fn(s, registry=self.registry, signed_by=Consent(self.keys), **kwargs)
            s.commit()
        return out

    @initialize()
    def first_batch(self) -> None:
        self.issue("P1", 100_000, 1000)  # about 40 t, so transfers and retirements have serials to move
        coop = self.demo["shengsi_coop"].participant
        self.run(retire_credits, actor=coop, batch=self.batches[0], tonnes=1, beneficiary="b", reason="r")

    @rule(
        project=st.sampled_from(sorted(OWNERS)),
        wet_kg=st.integers(2_000, 150_000),
        bps=st.sampled_from([0, 500, 1000, 2500, 10_000]),
    )
    def issue(self, project: str, wet_kg: int, bps: int) -> None:
        self.years[project] += 1
        year = self.years[project]
        data = {
            "project_id": project,
            "monitoring_start": f"{year}-01-01",
            "monitoring_end": f"{year}-12-31",
            "farm_area_mu": "22000",
            "harvested_wet_kg": str(wet_kg),
            "species": "Mytilus coruscus",
        }
        with Session(self.engine) as s:
            report = submit_report(
                s, actor=self.demo[OWNERS[project]].participant, project=project, data=data
            )
            s.commit()
        try:
            done = self.run(
                issue_credits, actor=self.demo["zhoushan"].participant, report=report.id, buffer_bps=bps
            )
        except NothingToIssue:
            assert report.sink_kg_co2e < 1000
            event("nothing to issue")
            return
        self.batches.append(done.batch)

    @rule(data=st.data(), retire=st.booleans())
    def move(self, data: st.DataObject, retire: bool) -> None:
        batch = data.draw(st.sampled_from(self.batches))
        alias = data.draw(st.sampled_from(sorted(OWNERS.values())))
        party = self.demo[alias].party
        with Session(self.engine) as s:
            held = sum(
                b.tonnes for b in self.blocks(s) if b.account == f"{party}.holding" and b.batch == batch
            )
        tonnes = data.draw(st.integers(1, held + 2))  # mostly what it holds, sometimes more
        try:
            if retire:
                self.run(
                    retire_credits,
                    actor=self.demo[alias].participant,
                    batch=batch,
                    tonnes=tonnes,
                    beneficiary="buyer",
                    reason="offset",
                )
            else:
                other = next(h for h in self.holders if h != f"{party}.holding")
                self.run(
                    transfer_credits,
                    actor=self.demo[alias].participant,
                    batch=batch,
                    tonnes=tonnes,
                    to_account=other,
                )
        except SerialsNotHeld:
            assert held < tonnes
            event("refused: serials not held")
            return
        assert held >= tonnes
        event("retired" if retire else "transferred")

    @rule(data=st.data())
    def escape_from_retirement(self, data: st.DataObject) -> None:
        if not self.retired:
            return
        event("escape attempted")
        account, _ = data.draw(st.sampled_from(sorted(self.retired)))
        block = next(b for b in self.blocks_of(account))
        with Session(self.engine) as s:
            row = s.get(BlueCarbonBatchRow, block.batch)
            assert row is not None
            lot = Lot(jurisdiction=row.jurisdiction, vintage=row.vintage, batch=row.batch)
            owner = account.removesuffix(".retirement")
            body = TxBody(
                "bc.transfer",
                new_nonce(),
                (Posting(account, "BC", lot, -1000), Posting(self.holders[0], "BC", lot, 1000)),
            )
            with pytest.raises(AccountCannotSend):
                submit(s, Instruction.signed(body, (owner, self.keys[owner])), registry=self.registry)

    def blocks(self, s: Session) -> list[SerialBlock]:
        return [SerialBlock(r.batch, r.start, r.end, r.account) for r in s.exec(select(SerialBlockRow))]

    def blocks_of(self, account: str) -> list[SerialBlock]:
        with Session(self.engine) as s:
            return [b for b in self.blocks(s) if b.account == account]

    @invariant()
    def serials_are_exact(self) -> None:
        with Session(self.engine) as s:
            blocks = self.blocks(s)
            SerialBook(blocks)  # refuses overlapping blocks
            ranges = sorted(
                (r.serial_start, r.serial_end, r.batch) for r in s.exec(select(BlueCarbonBatchRow))
            )
            live = {(b.account, b.lot): b.total for b in balances(s) if b.instrument == "BC"}
        end = 0
        for start, stop, batch in ranges:  # contiguous from 1: nothing issued twice, nothing skipped
            assert start == end + 1
            end = stop
            assert sum(b.tonnes for b in blocks if b.batch == batch) == stop - start + 1
        held: dict[tuple[str, str], int] = {}
        for b in blocks:
            held[(b.account, b.batch)] = held.get((b.account, b.batch), 0) + b.tonnes * 1000
        assert {(a, Lot.from_key(k).batch): v for (a, k), v in live.items() if v > 0} == held
        retired = {
            (b.account, s)
            for b in blocks
            if b.account.endswith(".retirement")
            for s in range(b.start, b.end + 1)
        }
        assert self.retired <= retired  # a retired serial stays retired, where it was
        self.retired = retired

    def teardown(self) -> None:
        try:
            with Session(self.engine) as s:
                bodies = [parse_body(parse_line(line).body) for line in journal_lines(s)]
                assert sorted(replay_serials(bodies).blocks()) == sorted(self.blocks(s))
                for body in bodies:
                    if isinstance(body, TxBody) and body.action == ISSUE_ACTION:
                        issued = sum(p.amount for p in body.postings if p.amount > 0)
                        assert recheck_issuance(body.meta).issued_kg == issued
                report, diff = replay_database(s)
                assert report.ok
                assert diff == {}
        finally:
            if self.engine_kind == "sqlite":
                self.engine.dispose()
            self.tmp.cleanup()


_SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]
BlueCarbonMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=15, deadline=None, suppress_health_check=_SLOW_OK
)
test_blue_carbon_histories_on_sqlite = BlueCarbonMachine.TestCase


class PostgresBlueCarbonMachine(BlueCarbonMachine):
    engine_kind = "postgres"


PostgresBlueCarbonMachine.TestCase.settings = settings(
    max_examples=3, stateful_step_count=8, deadline=None, suppress_health_check=_SLOW_OK
)
test_blue_carbon_histories_on_postgres = pytest.mark.postgres(PostgresBlueCarbonMachine.TestCase)
