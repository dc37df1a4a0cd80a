"""Property: any random auction run end to end through the services conserves CNY and rights, leaves no
deposit (保证金) in escrow, and gives each winner exactly what it paid for; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.crypto import SigningKey
from ledger.errors import DomainError
from ledger.service import Registry, balances, replay_database
from market.auctions import settlement as auction_settlement
from market.auctions.model import AuctionDesign, DepositRule, FixedDeposit, RatioDeposit, clear
from market.auctions.needs import open_needs
from market.auctions.state import AuctionStatus, AwardStatus, auction_bid_list
from tests.conftest import engine_for
from tests.integration.test_market_auctions_world import (
    BUREAU,
    CLOSE,
    RESERVE_FEN_PER_T,
    T0,
    World,
    terms,
)

BIDDERS = ("yuyao_chem", "yuyao_dye", "yuyao_paper", "yuyao_metal")
STEP_FEN_PER_T = 10_000
RESERVE_KG = 20_000
FUNDS_FEN = st.one_of(
    st.integers(0, 400_000), st.integers(2_800_000, 5_000_000), st.integers(2_800_000, 5_000_000)
)


@dataclass(frozen=True)
class Scenario:
    design: AuctionDesign
    quantity_kg: int
    deposit: DepositRule
    needs_kg: dict[str, int]
    funds_fen: dict[str, int]
    bids: list[tuple[str, int, int, int]]  # bidder, price steps above the reserve, kg, second of arrival


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    bidders = draw(st.lists(st.sampled_from(BIDDERS), min_size=1, max_size=4, unique=True))
    bids = draw(
        st.lists(
            st.tuples(
                st.sampled_from(bidders),
                st.integers(-1, 8),  # -1: below the reserve (or the start price), refused
                st.integers(1, 16).map(lambda n: n * 250),
                st.integers(0, 70 * 60),  # seconds after the opening; the close is at 3,600
            ),
            min_size=1,
            max_size=10,
        )
    )
    return Scenario(
        design=draw(st.sampled_from(list(AuctionDesign))),
        quantity_kg=draw(st.integers(1, 20)) * 250,
        deposit=draw(st.one_of(st.integers(0, 300_000).map(FixedDeposit), st.just(RatioDeposit(1_000, 5)))),
        needs_kg={b: draw(st.integers(4, 16)) * 250 for b in bidders},
        # some bidders cannot place the deposit, some can but cannot pay the price, most pay
        funds_fen={b: draw(FUNDS_FEN) for b in bidders},
        bids=sorted(bids, key=lambda b: b[3]),
    )


def _totals(engine: Engine) -> dict[tuple[str, str], tuple[int, int]]:
    with Session(engine) as s:
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for b in balances(s):
            total, held = out.get((b.account, b.instrument), (0, 0))
            out[(b.account, b.instrument)] = (total + b.total, held + b.held)
    return out


def _run_auction(world: World, sc: Scenario) -> None:
    ascending = sc.design is AuctionDesign.ASCENDING
    world.open(
        terms(
            design=sc.design,
            quantity_kg=sc.quantity_kg,
            deposit_rule=sc.deposit,
            increment_fen_per_t=STEP_FEN_PER_T if ascending else None,
            max_bids_per_bidder=None if ascending else 10,
        )
    )
    level = 0  # ascending bids climb the ladder, one or more increments at a time
    for i, (alias, steps, kg, second) in enumerate(sc.bids):
        if ascending and steps >= 0:
            level += 1 + steps // 4
            steps = level
        price = RESERVE_FEN_PER_T + steps * STEP_FEN_PER_T
        # a refused bid (a rule, or no cash for the deposit) leaves no trace: the checks below hold
        with contextlib.suppress(DomainError):
            world.bid(alias, price, kg, T0 + timedelta(seconds=second, microseconds=i))
    closed = world.close(at=CLOSE + timedelta(hours=1))  # after any extension of the timed stage
    assert closed.result is not None
    settle_at = closed.result.closed_at + timedelta(hours=2)
    world.run(auction_settlement.settle_auction, actor=world.p("yuyao"), auction_id="A1", now=settle_at)
    for award in world.auction().result.awards:  # type: ignore[union-attr]
        if award.status is AwardStatus.PENDING:
            world.run(
                auction_settlement.forfeit_award,
                actor=world.p("yuyao"),
                auction_id="A1",
                bidder=award.bidder,
                now=closed.result.payment_due,
            )


def check_scenario(make_engine: Callable[[], Engine], sc: Scenario) -> None:
    registry = Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5)
    world = World.create(
        make_engine(), registry, aliases=("operator", "yuyao", "yuyao_chem", "yuyao_dye"), extra=True
    )
    world.reserve(RESERVE_KG)
    for alias, kg in sc.needs_kg.items():
        world.need(alias, kg)
    for alias, fen in sc.funds_fen.items():
        if fen:
            world.fund(alias, fen)
    before = _totals(world.engine)
    _run_auction(world, sc)
    after = _totals(world.engine)

    def moved(account: str, instrument: str) -> int:
        return after.get((account, instrument), (0, 0))[0] - before.get((account, instrument), (0, 0))[0]

    # conservation: money and rights only change hands (the gateway and the cap are not touched)
    for instrument in ("CNY", "COD"):
        assert (
            sum(moved(acc, inst) for (acc, inst) in after.keys() | before.keys() if inst == instrument) == 0
        )
    assert moved("operator:zj-registry.settlement", "CNY") == 0
    assert moved(f"{BUREAU}.cap.COD", "COD") == 0
    # nothing stays held: no deposit in escrow, no award or auction hold on the reserve
    assert all(held == 0 for _, held in after.values())

    auction = world.auction()
    assert auction.status is AuctionStatus.SETTLED
    assert auction.result is not None
    awards = {a.bidder: a for a in auction.result.awards}
    collected = 0
    for alias in sc.needs_kg:
        party = world.party(alias)
        award = awards.get(party)
        got_kg = award.quantity_kg if award and award.status is AwardStatus.SETTLED else 0
        paid = 0 if award is None else award.amount_fen if got_kg else award.deposit_fen
        assert moved(f"{party}.holding", "COD") == got_kg  # exactly the allocation
        assert moved(f"{party}.cash", "CNY") == -paid  # exactly the amount due (or the forfeited deposit)
        if award is not None and got_kg:
            assert award.amount_fen == sum(
                a.amount_fen for a in auction.result.allocations if a.bidder == party
            )
        collected += paid
    assert moved(f"{BUREAU}.cash", "CNY") == collected
    assert -moved(f"{BUREAU}.reserve", "COD") == sum(
        a.quantity_kg for a in awards.values() if a.status is AwardStatus.SETTLED
    )
    with Session(world.engine) as s:
        stored = [b.bid for b in auction_bid_list(s, "A1")]
        assert clear(auction.terms, stored, open_needs(s, auction)).allocations == auction.result.allocations
        report, diff = replay_database(s)
    assert report.ok
    assert diff == {}
    if world.engine.dialect.name == "sqlite":
        world.engine.dispose()


def _property(make_engine: Callable[[], Engine], examples: int) -> Callable[[], None]:
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(sc=scenarios())
    def run(sc: Scenario) -> None:
        check_scenario(make_engine, sc)

    return run


def test_any_auction_conserves_money_and_rights_and_pays_each_winner_exactly_on_sqlite() -> None:
    with tempfile.TemporaryDirectory() as root:
        counter = iter(range(10**6))

        def fresh() -> Engine:
            path = Path(root) / str(next(counter))
            path.mkdir()
            return engine_for("sqlite", path)

        _property(fresh, 15)()


@pytest.mark.postgres
def test_any_auction_conserves_money_and_rights_and_pays_each_winner_exactly_on_postgresql(
    tmp_path: Path,
) -> None:
    engine_for("postgres", tmp_path)  # skips with a reason when no server is reachable
    _property(lambda: engine_for("postgres", tmp_path), 5)()
