"""Project needs (项目需求) reserved when a bid is accepted, across the open auctions of a jurisdiction,
on SQLite and PostgreSQL: a bid beyond the need left is refused when placed, and no accepted bid is
ever voided by another auction's awards (issue 14: the second auction closed with 0 t sold)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.errors import DomainError
from ledger.service import Registry, replay_database
from market.auctions.bids import rejections
from market.auctions.errors import BidExceedsNeed, TooManyBids
from market.auctions.model import AuctionDesign
from market.auctions.service import bidder_need
from tests.integration.test_market_auctions_world import CLOSE, RESERVE_FEN_PER_T, World, minutes, terms

P = RESERVE_FEN_PER_T
AFTER = CLOSE + timedelta(minutes=10)
ENTERPRISES = ("yuyao_chem", "yuyao_dye", "yuyao_paper")
COMPETITIVE = {
    "supply_exhausted",
    "lost_the_tie",
    "need_filled",
    "outside_winning_share",
    "bid_below_reserve",
}


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry, extra=True)
    w.reserve(10_000)
    for alias in ENTERPRISES:
        w.fund(alias, 10_000_000)
    return w


def test_the_issue_scenario_a_second_auction_is_no_longer_voided_by_the_first(world: World) -> None:
    """Issue 14, as reported: an ascending auction with three accepted bids (the last one extending the
    close), then a pay-as-bid auction of the same right on the same needs that closes first."""
    for alias in ENTERPRISES:
        world.need(alias, 1_000)
    world.open(terms(auction_id="ASC", design=AuctionDesign.ASCENDING, increment_fen_per_t=10_000))
    world.open(terms(auction_id="NET", design=AuctionDesign.PAY_AS_BID, quantity_kg=3_000))
    world.bid("yuyao_chem", P, 1_000, minutes(5), "ASC")
    world.bid("yuyao_dye", P + 10_000, 1_000, minutes(10), "ASC")
    world.bid("yuyao_paper", P + 20_000, 1_000, CLOSE + timedelta(minutes=2), "ASC")  # extends the close
    before = world.snapshot()
    for i, alias in enumerate(ENTERPRISES):
        # Before: accepted, and its award later voided the ascending auction's bids. Now refused here.
        with pytest.raises(BidExceedsNeed) as refused:
            world.bid(alias, P + 50_000, 1_000, minutes(20 + i), "NET")
        assert refused.value.details["need_kg"] == 0
    assert world.snapshot() == before
    assert world.close(CLOSE, "NET").result.sold_kg == 0  # type: ignore[union-attr]
    closed = world.close(AFTER, "ASC")
    assert closed.result is not None
    assert closed.result.sold_kg == 1_000
    assert [(a.bidder, a.quantity_kg) for a in closed.result.awards] == [(world.party("yuyao_paper"), 1_000)]


def test_a_bid_reserves_only_what_its_auction_can_award_and_the_rest_stays_biddable(world: World) -> None:
    world.need("yuyao_chem", 2_000)
    world.open(terms(auction_id="SMALL", design=AuctionDesign.PAY_AS_BID, quantity_kg=1_500))
    world.open(terms(auction_id="BIG", design=AuctionDesign.UNIFORM_PRICE, quantity_kg=5_000))
    chem = world.p("yuyao_chem")
    world.bid("yuyao_chem", P + 10_000, 800, minutes(1), "SMALL")  # reserves min(2 t, 1.5 t offered)
    assert world.read(bidder_need, actor=chem, auction_id="BIG") == 500
    assert world.read(bidder_need, actor=chem, auction_id="SMALL") == 2_000  # its own reservation counts once
    with pytest.raises(BidExceedsNeed):
        world.bid("yuyao_chem", P, 600, minutes(2), "BIG")
    big = world.bid("yuyao_chem", P, 500, minutes(2), "BIG")
    assert big.need_kg == 500
    # the small auction awards 800 kg: the reservation becomes the award, 700 kg come back
    world.close(CLOSE, "SMALL")
    assert world.read(bidder_need, actor=chem, auction_id="BIG") == 1_200
    closed = world.close(AFTER, "BIG")
    assert closed.result is not None
    assert [(a.bidder, a.quantity_kg) for a in closed.result.awards] == [(world.party("yuyao_chem"), 500)]


def test_concurrent_bidders_on_two_open_auctions_never_void_an_accepted_bid(world: World) -> None:
    for alias in ENTERPRISES:
        world.need(alias, 1_500)
    world.open(terms(auction_id="A1", design=AuctionDesign.PAY_AS_BID, quantity_kg=2_000))
    world.open(terms(auction_id="A2", design=AuctionDesign.UNIFORM_PRICE, quantity_kg=1_200))
    accepted: list[tuple[str, str, int]] = []  # (auction, bidder, quantity)
    failures: list[BaseException] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(6):
                alias, auction = rng.choice(ENTERPRISES), rng.choice(("A1", "A2"))
                price, kg = P + 10_000 * rng.randint(0, 5), 100 * rng.randint(1, 15)
                try:
                    bid = world.bid(alias, price, kg, minutes(10), auction)
                except (BidExceedsNeed, TooManyBids):
                    continue
                accepted.append((auction, bid.bid.bidder, bid.bid.seq))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert accepted
    awarded: dict[str, int] = {}
    for auction_id in ("A1", "A2"):  # A1 closes first and awards: A2's accepted bids must survive it
        result = world.close(AFTER, auction_id).result
        assert result is not None
        won = {seq for a in result.allocations for seq in a.bid_seqs}
        for a in result.allocations:
            awarded[a.bidder] = awarded.get(a.bidder, 0) + a.quantity_kg
        rejected = world.read(rejections, auction_id=auction_id)
        lost = {r.seq: r.reason.value for r in rejected}
        for auction, _, seq in accepted:
            if auction == auction_id:
                assert seq in won or lost[seq] in COMPETITIVE, (auction_id, seq, lost.get(seq))
    assert all(kg <= 1_500 for kg in awarded.values())  # nobody won more than its need
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}


def test_a_refused_bid_beyond_the_need_left_writes_nothing_and_names_the_need(world: World) -> None:
    world.need("yuyao_dye", 1_000)
    world.open(terms(auction_id="A1", design=AuctionDesign.ONLINE_BIDDING, quantity_kg=1_000))
    world.open(terms(auction_id="A2", design=AuctionDesign.ONLINE_BIDDING, quantity_kg=1_000))
    world.bid("yuyao_dye", P, 300, minutes(1), "A1")  # reserves the whole 1 t (the most A1 can award)
    before = world.snapshot()
    with pytest.raises(BidExceedsNeed) as refused:
        world.bid("yuyao_dye", P, 100, minutes(2), "A2")
    assert refused.value.code == "bid_exceeds_need"
    assert (refused.value.details["field"], refused.value.details["need_kg"]) == ("quantity_kg", 0)
    assert world.snapshot() == before
    assert isinstance(refused.value, DomainError)
