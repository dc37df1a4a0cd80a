"""The read functions the web console lists and watches with: auctions (public), an auction's live
state (prices public only in an ascending auction), a bidder's need left, and pledges and cross-city
requests as each participant may see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from ledger.service import Registry
from market.auctions import service as auctions
from market.auctions.model import AuctionDesign
from market.auctions.state import AuctionStatus
from market.crosscity import service as crosscity
from market.pledges import service as pledge
from tests.integration.test_market_auctions_world import CLOSE, World, minutes, terms

ALIASES = ("operator", "yuyao", "ningbo", "yuyao_chem", "yuyao_dye", "ningbo_petro", "bank_yuyao", "auditor")


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry, aliases=ALIASES)
    w.reserve(10_000)
    for alias in ("yuyao_chem", "yuyao_dye"):
        w.fund(alias, 10_000_000)
        w.need(alias, 2_000)
    return w


def test_auctions_are_listed_newest_first_for_every_participant(world: World) -> None:
    world.open(terms(auction_id="A1"))
    world.open(terms(auction_id="A2"))
    for alias in ("yuyao_chem", "bank_yuyao", "ningbo"):
        listed = world.read(auctions.list_auctions, actor=world.p(alias))
        assert [a.auction_id for a in listed] == ["A2", "A1"]
    assert world.read(auctions.list_auctions, actor=world.p("ningbo"), jurisdiction="330200") == []
    assert world.read(auctions.list_auctions, actor=world.p("yuyao"), status=AuctionStatus.CLOSED) == []


def test_only_an_ascending_auction_shows_its_standing_price_and_extended_close(world: World) -> None:
    world.open(terms(auction_id="A1"))
    world.bid("yuyao_chem", 700_000, 1_000, minutes(1), auction_id="A1")
    sealed = world.read(auctions.auction_live, actor=world.p("yuyao_dye"), auction_id="A1")
    assert (sealed.standing_fen_per_t, sealed.next_fen_per_t, sealed.bids) == (None, None, None)
    assert sealed.closes_at == CLOSE
    ascending = terms(
        auction_id="B1",
        design=AuctionDesign.ASCENDING,
        max_bids_per_bidder=None,
        start_price_fen_per_t=600_000,
        increment_fen_per_t=10_000,
        extension=timedelta(minutes=4),
    )
    world.open(ascending)
    world.bid("yuyao_dye", 600_000, 1_000, CLOSE + timedelta(minutes=3), auction_id="B1")
    live = world.read(auctions.auction_live, actor=world.p("yuyao_chem"), auction_id="B1")
    assert (live.standing_fen_per_t, live.next_fen_per_t, live.bids) == (600_000, 610_000, 1)
    assert live.closes_at == CLOSE + timedelta(minutes=7)  # the timed-stage bid extended the close


def test_a_bidders_need_left_counts_what_other_auctions_awarded(world: World) -> None:
    world.open(terms(auction_id="A1", quantity_kg=1_500))
    world.bid("yuyao_chem", 600_000, 1_500, minutes(1), auction_id="A1")
    world.close(auction_id="A1")
    world.open(terms(auction_id="A2", opens_at=CLOSE, closes_at=CLOSE + timedelta(hours=1)))
    need = world.read(auctions.bidder_need, actor=world.p("yuyao_chem"), auction_id="A2")
    assert need == 500
    assert world.read(auctions.bidder_need, actor=world.p("yuyao_dye"), auction_id="A2") == 2_000


def test_pledges_and_transfers_are_listed_to_their_parties_only(world: World) -> None:
    assert world.read(pledge.list_pledges, actor=world.p("bank_yuyao")) == []
    assert world.read(crosscity.list_transfers, actor=world.p("yuyao_chem")) == []
    assert world.read(pledge.list_pledges, actor=world.p("auditor")) == []
