"""The to-do panel's auction lines on SQLite and PostgreSQL, on a clock the test controls: the bureau
is asked to close an auction once its close has passed and to settle it once closed; a winner is asked
to pay its award until it has settled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.model import Participant
from api.console.todo import Todo, todo_of
from ledger.service import Registry
from market.auctions import settlement as auction_settlement
from market.consent import Consent
from tests.integration.test_market_auctions_world import CLOSE, RESERVE_FEN_PER_T, World, minutes, terms


@dataclass
class _Console:
    """What the to-do panel reads of a console request: the session, who, and the registry's now."""

    session: Session
    me: Participant
    now: datetime
    user: str | None = None  # the party's administrator key, no named user


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry)
    w.reserve(10_000)
    w.need("yuyao_chem", 2_000)
    w.fund("yuyao_chem", 10_000_000)
    return w


def _todo(w: World, alias: str, now: datetime) -> dict[str, Todo]:
    with Session(w.engine) as s:
        return {t.key: t for t in todo_of(_Console(s, w.p(alias), now))}  # type: ignore[arg-type]


def test_the_panel_asks_the_bureau_to_close_and_settle_and_the_winner_to_pay(world: World) -> None:
    world.open(terms(quantity_kg=1_500))
    world.bid("yuyao_chem", RESERVE_FEN_PER_T, 1_000, minutes(5))
    assert "todo.auctions_to_close" not in _todo(world, "yuyao", CLOSE - timedelta(minutes=1))
    late = _todo(world, "yuyao", CLOSE + timedelta(minutes=1))["todo.auctions_to_close"]
    assert (late.count, late.link) == (1, "/console/auctions/A1")
    world.close()
    after = _todo(world, "yuyao", CLOSE + timedelta(minutes=2))
    assert "todo.auctions_to_close" not in after
    assert after["todo.auctions_to_settle"].count == 1
    pay = _todo(world, "yuyao_chem", CLOSE + timedelta(minutes=2))["todo.awards_to_pay"]
    assert (pay.count, pay.link) == (1, "/console/auctions/A1")
    assert "todo.awards_to_pay" not in _todo(world, "yuyao_dye", CLOSE + timedelta(minutes=2))
    world.run(
        auction_settlement.settle_award,
        actor=world.p("yuyao"),
        auction_id="A1",
        bidder=world.party("yuyao_chem"),
        signed_by=Consent(keys=world.keys_of("yuyao", "yuyao_chem")),
        now=CLOSE + timedelta(hours=1),
    )
    assert "todo.awards_to_pay" not in _todo(world, "yuyao_chem", CLOSE + timedelta(hours=2))
    assert "todo.auctions_to_settle" not in _todo(world, "yuyao", CLOSE + timedelta(hours=2))
