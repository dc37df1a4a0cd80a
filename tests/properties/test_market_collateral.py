"""Random interleavings of cross-city transfers, pledges, releases, enforcements and expiry sweeps
never leave a unit both free and pledged, and keep every city's cap consistent (SQLite, PostgreSQL).

After every step: each position has 0 <= held <= total, and held equals what the open pledges and
pending transfer requests on it hold; per validity end, the caps in force summed over the cities
equal the units outside the cap accounts; each cap account holds its own city's lots only. Each
example runs in one transaction rolled back at its end, each step in a savepoint.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from accounts.model import Participant
from ledger import errors as lerr
from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, balances, find_hold, new_nonce, submit
from market.crosscity import errors as cerr
from market.crosscity import service as crosscity
from market.crosscity.tables import CrossCityTransferRow
from market.pledges import errors as perr
from market.pledges import service as pledge
from market.pledges.tables import PledgeRow
from tests.integration.test_market_pledge import START, Desk

ENTERPRISES = ["yuyao_chem", "yuyao_dye", "zhoushan_ship", "ningbo_petro"]
BANKS = ["bank_yuyao", "bank_ningbo"]
UNTIL = [date(2030, 12, 31), date(2029, 12, 31)]
CITIES = {"330281": "yuyao", "330900": "zhoushan", "330200": "ningbo"}
SAME_CITY = {"yuyao_chem": "yuyao_dye", "yuyao_dye": "yuyao_chem"}
EXPECTED = (
    perr.CollateralUnavailable,
    cerr.DemandNotMet,
    perr.PledgeStateConflict,
    cerr.TransferStateConflict,
    cerr.TransferExpired,
    cerr.InvalidTransferTerms,
    lerr.UnitsEncumbered,
    lerr.InsufficientBalance,
    lerr.InvalidQuantity,
)

kg = st.integers(1, 3_000)
picks = st.integers(0, 3)
ops = st.one_of(
    st.tuples(st.just("pledge"), st.integers(0, 3), st.integers(0, 1), st.integers(0, 1), kg),
    st.tuples(st.just("release"), picks, st.none() | kg),
    st.tuples(st.just("enforce"), picks),
    st.tuples(st.just("auction"), picks),
    st.tuples(
        st.just("offer"), st.integers(0, 3), st.integers(0, 1), kg, st.sampled_from([10_000, 9_000, 5_000])
    ),
    st.tuples(st.just("settle"), picks),
    st.tuples(st.just("reject"), picks),
    st.tuples(st.just("expire"), st.integers(1, 3)),
    st.tuples(st.just("transfer"), st.integers(0, 3), st.integers(0, 1), kg),
)


@pytest.fixture
def desk(engine: Engine) -> Desk:
    desk = Desk.create(engine)
    for alias, city in (
        ("yuyao_chem", "yuyao"),
        ("yuyao_dye", "yuyao"),
        ("zhoushan_ship", "zhoushan"),
        ("ningbo_petro", "ningbo"),
    ):
        for until in UNTIL:
            desk.grant(city, alias, 4_000, until=until)
    for buyer in ENTERPRISES:
        desk.fund(buyer, 10**10)
        desk.call(
            crosscity.post_demand,
            actor=desk.p(buyer),
            instrument_code="COD",
            quantity_kg=20_000,
            max_price_fen_per_tonne=2_000_000,
            valid_until=date(2025, 12, 31),
            project="示例项目",
        )
    return desk


class Run:
    """One example: its steps against one session, the pledges and requests it made."""

    def __init__(self, desk: Desk, session: Session) -> None:
        self.desk, self.s = desk, session
        self.pledges: list[str] = []
        self.requests: list[str] = []
        self.alias = {d.party: a for a, d in desk.demo.items()}

    def lot(self, ent: str, until: int) -> Lot:
        return Lot(jurisdiction=self.desk.p(ent).jurisdiction, valid_until=UNTIL[until])

    def step(self, fn: Any, actor: str, *, sign: bool = True, **kwargs: Any) -> Any:
        d = self.desk
        if sign:
            kwargs["signed_by"] = d.consent(actor)
        return fn(self.s, registry=d.registry, actor=d.p(actor), **kwargs)

    def do(self, op: tuple[Any, ...]) -> None:
        getattr(self, f"op_{op[0]}")(*op[1:])

    def op_pledge(self, ent: int, bank: int, until: int, quantity: int) -> None:
        owner, lender, lot = ENTERPRISES[ent], BANKS[bank], self.lot(ENTERPRISES[ent], until)
        bureau = CITIES[lot.jurisdiction or ""]
        p = self.step(
            pledge.apply_for_pledge,
            owner,
            sign=False,
            bank=self.desk.party(lender),
            instrument_code="COD",
            lot=lot,
            quantity_kg=quantity,
        )
        self.step(pledge.approve_pledge, bureau, pledge_id=p.id, approved_kg=quantity, certificate_no="C")
        self.step(
            pledge.record_loan,
            lender,
            pledge_id=p.id,
            loan_id="L",
            amount_fen=quantity * 1_000,
            rate_bp=400,
            term_months=12,
        )
        self.step(pledge.confirm_pledge, owner, pledge_id=p.id)
        self.pledges.append(p.id)  # only once the whole step stands: a refusal rolls it all back

    def _pledge(self, pick: int) -> pledge.Pledge | None:
        if not self.pledges:
            return None
        row = self.s.get(PledgeRow, self.pledges[-1 - pick % len(self.pledges)])  # recent ones first
        assert row is not None
        return pledge.get_pledge(self.s, actor=self.desk.p("auditor"), pledge_id=row.id)

    def op_release(self, pick: int, quantity: int | None) -> None:
        if (p := self._pledge(pick)) is not None:
            self.step(pledge.release_pledge, self.alias[p.bank], pledge_id=p.id, quantity_kg=quantity)

    def op_enforce(self, pick: int) -> None:
        if (p := self._pledge(pick)) is not None:
            self.step(pledge.enforce_pledge, self.alias[p.bank], pledge_id=p.id)

    def op_auction(self, pick: int) -> None:
        if (p := self._pledge(pick)) is not None:
            pledge.request_forced_auction(
                self.s,
                actor=self.desk.p(self.alias[p.bank]),
                pledge_id=p.id,
                claim_fen=1_000,
                reason="default",
            )

    def op_offer(self, ent: int, until: int, quantity: int, ratio: int) -> None:
        seller = ENTERPRISES[ent]
        lot = self.lot(seller, until)
        demands = crosscity.open_demands(self.s, on=START.date())
        demand = next(d for d in demands if d.jurisdiction != lot.jurisdiction)
        req = self.step(
            crosscity.open_transfer,
            seller,
            sign=False,
            demand_id=demand.id,
            lot=lot,
            quantity_kg=quantity,
            price_fen_per_tonne=1_000_000,
            expires_at=self.desk.clock.now + timedelta(hours=2),
            policy=crosscity.CorridorPolicy(ratio_bp=ratio, fee_bp=50),
        )
        self.step(crosscity.offer_transfer, seller, request_id=req.id)
        self.requests.append(req.id)

    def _request(self, pick: int) -> crosscity.TransferRequest | None:
        if not self.requests:
            return None
        return crosscity.get_transfer(
            self.s, actor=self.desk.p("auditor"), request_id=self.requests[-1 - pick % len(self.requests)]
        )

    def op_settle(self, pick: int) -> None:
        if (req := self._request(pick)) is None:
            return
        self.step(crosscity.accept_transfer, self.alias[req.buyer], request_id=req.id)
        for bureau in (req.source_bureau, req.destination_bureau):
            self.step(crosscity.approve_transfer, self.alias[bureau], request_id=req.id)

    def op_reject(self, pick: int) -> None:
        if (req := self._request(pick)) is not None:
            self.step(
                crosscity.reject_transfer,
                self.alias[req.destination_bureau],
                sign=False,
                request_id=req.id,
                reason="rejected",
            )

    def op_expire(self, hours: int) -> None:
        self.desk.clock.advance(hours=hours)
        crosscity.expire_transfers(self.s, registry=self.desk.registry)

    def op_transfer(self, ent: int, until: int, quantity: int) -> None:
        """The owner sells units away (a plain transfer stays in its city: to its Yuyao neighbour)."""
        buyer = SAME_CITY.get(ENTERPRISES[ent])
        if buyer is None:
            return
        owner = self.desk.demo[ENTERPRISES[ent]]
        lot = self.lot(ENTERPRISES[ent], until)
        body = TxBody(
            "transfer",
            new_nonce(),
            (
                Posting(f"{owner.party}.holding", "COD", lot, -quantity),
                Posting(f"{self.desk.party(buyer)}.holding", "COD", lot, quantity),
            ),
        )
        submit(self.s, Instruction.signed(body, (owner.party, owner.key)), registry=self.desk.registry)


def check_invariants(s: Session) -> None:
    encumbered: dict[tuple[str, str, str], int] = defaultdict(int)
    for p in s.exec(select(PledgeRow)):
        if p.status in (pledge.PledgeStatus.ACTIVE, pledge.PledgeStatus.FORCED_AUCTION):
            encumbered[(p.account, p.instrument, p.lot)] += p.held_kg
            hold = find_hold(s, hold=f"pledge.{p.id}")
            assert hold is not None
            assert (hold.status, hold.amount, hold.controller) == ("open", p.held_kg, p.bank)
        else:
            assert p.held_kg == 0
    for r in s.exec(select(CrossCityTransferRow)):
        if r.status in (crosscity.TransferStatus.OFFERED, crosscity.TransferStatus.ACCEPTED):
            lot_key = Lot(jurisdiction=r.source, valid_until=date.fromisoformat(r.valid_until)).key()
            encumbered[(r.from_account, r.instrument, lot_key)] += r.quantity_kg
    caps: dict[tuple[str, str], int] = defaultdict(int)  # (instrument, validity end) -> kg
    outside: dict[tuple[str, str], int] = defaultdict(int)
    seen = set()
    for b in balances(s):
        key = (b.account, b.instrument, b.lot)
        if b.instrument == "CNY":
            continue
        lot = Lot.from_key(b.lot)
        until = (b.instrument, str(lot.valid_until))
        if ".cap." in b.account:
            assert b.account == f"bureau:{lot.jurisdiction}.cap.{b.instrument}", (
                "a cap holds another city's lot"
            )
            caps[until] -= b.total
            assert b.held == 0
            continue
        outside[until] += b.total
        assert 0 <= b.held <= b.total, f"{key}: held {b.held} of {b.total}"
        assert b.held == encumbered.get(key, 0), (
            f"{key}: held {b.held}, pledged or pending {encumbered.get(key, 0)}"
        )
        seen.add(key)
    assert {k for k, v in encumbered.items() if v} <= seen
    assert caps == outside, "the caps in force across cities differ from the units outside them"


def check_reports(s: Session, auditor: Participant) -> None:
    """Each city's report balances: the cap in force is the reserve plus what is allocated."""
    for city in CITIES:
        report = crosscity.city_report(s, actor=auditor, jurisdiction=city, instrument_code="COD")
        assert report.cap_kg == report.reserve_kg + report.allocated_kg
        assert 0 <= report.held_kg <= report.allocated_kg


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(ops, min_size=4, max_size=16))
def test_no_unit_is_both_free_and_pledged_and_caps_stay_consistent(
    desk: Desk, steps: list[tuple[Any, ...]]
) -> None:
    desk.clock.now = START
    with Session(desk.engine) as s:
        run = Run(desk, s)
        try:
            for op in steps:
                savepoint = s.begin_nested()
                try:
                    run.do(op)
                except EXPECTED:
                    savepoint.rollback()
                else:
                    savepoint.commit()
                check_invariants(s)
            check_reports(s, desk.p("auditor"))
        finally:
            s.rollback()
