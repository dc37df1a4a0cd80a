"""The auction workflow through the services on SQLite and PostgreSQL: opening with the reserve on hold,
eligibility and deposits at bid time, clearing at the close and the signed result record."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.errors import PermissionDenied
from ledger.auction_book import bid_commitment
from ledger.errors import InsufficientBalance, MissingSignature
from ledger.service import Registry, find_hold, journal_lines, replay_database
from market.auctions import service as auctions
from market.auctions import settlement as auction_settlement
from market.auctions.errors import (
    AuctionClosed,
    AuctionStillOpen,
    BidBelowReserve,
    BidExceedsNeed,
    BidOutsideWindow,
    DuplicateAuction,
    InvalidAuctionTerms,
    NotEligible,
)
from market.auctions.model import AuctionDesign, RatioDeposit, clear_with_caps, payment_fen
from market.auctions.state import AuctionStatus, AwardStatus, auction_bid_list, get_auction
from market.consent import Consent
from tests.integration.test_market_auctions_world import (
    BUREAU,
    CLOSE,
    RESERVE_FEN_PER_T,
    T0,
    VALID_UNTIL,
    World,
    minutes,
    terms,
)

P = RESERVE_FEN_PER_T


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry)
    w.reserve(10_000)
    for alias in ("yuyao_chem", "yuyao_dye"):
        w.fund(alias, 10_000_000)  # 100,000 CNY each
    return w


def _records(w: World, action: str) -> list[dict[str, Any]]:
    with Session(w.engine) as s:
        bodies = [json.loads(line)["record"]["body"] for line in journal_lines(s)]
    return [b for b in bodies if b.get("action") == action]


def test_opening_puts_the_offered_rights_on_hold_in_the_reserve(world: World) -> None:
    auction = world.open(terms(quantity_kg=4_000))
    assert auction.status is AuctionStatus.OPEN
    assert world.position(f"{BUREAU}.reserve", "COD") == (10_000, 4_000)
    with Session(world.engine) as s:
        hold = find_hold(s, hold=auction.hold)
    assert hold is not None
    assert (hold.amount, hold.reason, hold.controller) == (4_000, "auction", BUREAU)
    (record,) = _records(world, "auction.open")
    assert record["meta"]["quantity_kg"] == 4_000


def test_an_auction_cannot_offer_more_than_the_reserve_holds_free(world: World) -> None:
    world.open(terms(quantity_kg=8_000))
    before = world.snapshot()
    with pytest.raises(InsufficientBalance) as err:
        world.open(terms(auction_id="A2", quantity_kg=3_000))
    assert err.value.details["available"] == 2_000
    assert world.snapshot() == before


def test_only_the_bureau_of_the_jurisdiction_opens_an_auction_once(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(PermissionDenied):
        world.open(terms(), by="yuyao_chem")
    with pytest.raises(PermissionDenied) as err:
        world.open(terms(), by="ningbo")
    assert err.value.rule == "bureau_own_jurisdiction"
    with pytest.raises(MissingSignature):
        world.run(
            auctions.open_auction,
            actor=world.p("yuyao"),
            signed_by=Consent(world.keys_of("yuyao_chem")),
            terms=terms(),
            valid_until=VALID_UNTIL,
            now=T0,
        )
    assert world.snapshot() == before
    world.open(terms())
    with pytest.raises(DuplicateAuction):
        world.open(terms())
    with pytest.raises(InvalidAuctionTerms):
        world.open(terms(auction_id="A3"), now=CLOSE)


def test_a_bid_places_the_deposit_in_escrow_once_per_bidder(world: World) -> None:
    world.need("yuyao_chem", 2_000)
    world.open(terms(quantity_kg=1_000, deposit_rule=RatioDeposit(1_000, 5)))
    first = world.bid("yuyao_chem", P, 500, minutes(1))
    second = world.bid("yuyao_chem", P + 10_000, 800, minutes(2))
    # Quzhou's rule: 10% x base price 4,000 CNY/t x min(need 2 t, offered 1 t) x 5 years = 2,000 CNY.
    assert (first.deposit_fen, second.deposit_fen) == (200_000, 0)
    assert world.position(f"{world.party('yuyao_chem')}.cash") == (10_000_000, 200_000)
    records = _records(world, "auction.bid")  # every bid is a record its bidder signs
    assert [r["signers"] for r in records] == [[world.party("yuyao_chem")]] * 2
    assert records[0]["holds"][0]["controller"] == BUREAU
    assert records[1]["holds"] == []  # the deposit is placed once
    assert [
        b.bid.seq for b in world.read(auctions.auction_bids, actor=world.p("yuyao_chem"), auction_id="A1")
    ] == [1, 2]


def test_only_an_enterprise_with_a_project_need_bids_and_never_above_it(world: World) -> None:
    world.need("yuyao_chem", 600)
    world.open(terms())
    before = world.snapshot()
    with pytest.raises(NotEligible):
        world.bid("yuyao_dye", P, 500, minutes(1))
    with pytest.raises(BidExceedsNeed) as err:
        world.bid("yuyao_chem", P, 700, minutes(1))
    assert err.value.details["need_kg"] == 600
    with pytest.raises(PermissionDenied):
        world.bid("yuyao", P, 500, minutes(1))  # a bureau does not bid
    assert world.snapshot() == before


def test_a_need_is_approved_only_by_the_bureau_of_the_enterprise(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.need("yuyao_chem", 500, by="ningbo")
    with pytest.raises(PermissionDenied):
        world.need("ningbo_petro", 500)  # a Ningbo enterprise: not Yuyao's to approve
    need = world.need("yuyao_chem", 500)
    assert (need.jurisdiction, need.approved_kg, need.bureau) == ("330281", 500, BUREAU)
    listed = world.read(auctions.needs_of, actor=world.p("yuyao_chem"), enterprise=world.party("yuyao_chem"))
    assert listed == [need]
    with pytest.raises(PermissionDenied):
        world.read(auctions.needs_of, actor=world.p("yuyao_dye"), enterprise=world.party("yuyao_chem"))


def test_bids_below_the_reserve_are_refused_and_the_auction_sells_nothing(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.need("yuyao_dye", 1_000)
    world.open(terms())
    before = world.snapshot()
    for alias in ("yuyao_chem", "yuyao_dye"):
        with pytest.raises(BidBelowReserve):
            world.bid(alias, P - 1, 1_000, minutes(5))
    assert world.snapshot() == before
    closed = world.close()
    assert closed.status is AuctionStatus.SETTLED
    assert closed.result is not None
    assert (closed.result.sold_kg, closed.result.unsold_kg, closed.result.awards) == (0, 1_000, ())
    assert world.position(f"{BUREAU}.reserve", "COD") == (10_000, 0)
    (record,) = _records(world, "auction.result")
    assert record["meta"]["allocations"] == []
    assert record["holds"] == [{"op": "release", "hold": "auction:A1", "amount": 1_000}]
    assert record["signers"] == [BUREAU]


def test_ties_at_the_margin_go_to_the_earlier_bid(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.need("yuyao_dye", 1_000)
    world.open(terms(quantity_kg=1_000))
    world.bid("yuyao_dye", P + 50_000, 300, minutes(1))
    world.bid("yuyao_chem", P, 800, minutes(2))
    world.bid("yuyao_dye", P, 800, minutes(3))  # same price, later: gets what the earlier one left
    closed = world.close()
    assert closed.result is not None
    got = {a.bidder: a.quantity_kg for a in closed.result.awards}
    assert got == {world.party("yuyao_dye"): 300, world.party("yuyao_chem"): 700}
    assert closed.result.clearing_price_fen_per_t == P  # uniform: the lowest accepted bid (成交价)
    assert closed.result.revenue_fen == payment_fen(300, P) + payment_fen(700, P)


def test_an_undersubscribed_auction_returns_the_unsold_rights_to_the_reserve(world: World) -> None:
    world.need("yuyao_chem", 5_000)
    world.open(terms(quantity_kg=5_000))
    world.bid("yuyao_chem", P + 100_000, 3_000, minutes(1))
    closed = world.close()
    assert closed.result is not None
    assert (closed.result.sold_kg, closed.result.unsold_kg) == (3_000, 2_000)
    assert closed.result.clearing_price_fen_per_t == P  # undersold: the reserve price clears
    assert world.position(f"{BUREAU}.reserve", "COD") == (10_000, 3_000)  # 2 t free again


def test_online_bidding_lets_only_the_top_70_percent_of_bidders_win(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.need("yuyao_dye", 1_000)
    world.open(terms(design=AuctionDesign.ONLINE_BIDDING, quantity_kg=2_000))
    world.bid("yuyao_chem", P, 1_000, minutes(1))
    world.bid("yuyao_dye", P, 1_000, minutes(2))  # equal price, later: ranked second of two
    closed = world.close()
    assert closed.result is not None
    assert closed.result.winning_share == 1  # 70% of 2 bidders, rounded: one winner (网络竞价)
    assert [a.bidder for a in closed.result.awards] == [world.party("yuyao_chem")]
    assert closed.result.unsold_kg == 1_000
    assert world.position(f"{world.party('yuyao_dye')}.cash") == (10_000_000, 0)  # deposit released


def test_the_result_record_carries_exactly_what_the_auditor_reads(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.need("yuyao_dye", 1_000)
    world.open(terms(design=AuctionDesign.PAY_AS_BID, quantity_kg=1_500))
    world.bid("yuyao_chem", P + 20_000, 1_000, minutes(1))
    world.bid("yuyao_dye", P, 1_000, minutes(2))
    world.close()
    (record,) = _records(world, "auction.result")
    assert record["signers"] == [BUREAU]
    assert set(record["meta"]) == {
        "auction_id",
        "design",
        "closed_at",
        "clearing_price_fen_per_t",
        "winning_share",
        "bids",
        "allocations",
        "rejected",
        "sold_kg",
        "revenue_fen",
        "unsold_kg",
    }
    chem, dye = world.party("yuyao_chem"), world.party("yuyao_dye")
    assert record["meta"]["allocations"] == [
        {
            "bidder": chem,
            "quantity_kg": 1_000,
            "price_fen_per_t": P + 20_000,
            "amount_fen": 620_000,
            "bid_seqs": [1],
        },
        {"bidder": dye, "quantity_kg": 500, "price_fen_per_t": P, "amount_fen": 300_000, "bid_seqs": [2]},
    ]
    # every bid revealed with the salt that opens its sealed commitment in the bid record
    revealed = record["meta"]["bids"]
    assert [(b["seq"], b["bidder"], b["price_fen_per_t"], b["quantity_kg"]) for b in revealed] == [
        (1, chem, P + 20_000, 1_000),
        (2, dye, P, 1_000),
    ]
    commitments = [r["meta"]["commitment"] for r in _records(world, "auction.bid")]
    for b, commitment in zip(revealed, commitments, strict=True):
        assert (
            bid_commitment(
                "A1", b["bidder"], b["price_fen_per_t"], b["quantity_kg"], bytes.fromhex(b["salt"])
            )
            == commitment
        )
    assert record["meta"]["rejected"] == []  # the partial fill of dye's bid is an award, not a rejection
    assert record["meta"]["clearing_price_fen_per_t"] is None  # pay-as-bid has no single price
    assert record["meta"]["revenue_fen"] == 920_000
    # the service's result is exactly the pure clearing of the stored bids
    with Session(world.engine) as s:
        auction = get_auction(s, auction_id="A1")
        bids = [b.bid for b in auction_bid_list(s, "A1")]
        assert auction.result is not None
        caps = {b.bidder: 1_000 for b in bids}  # the needs the bids reserved
        assert clear_with_caps(auction.terms, bids, caps).allocations == auction.result.allocations


def test_a_late_bid_extends_the_ascending_close(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.need("yuyao_dye", 1_000)
    step = 10_000
    world.open(
        terms(
            design=AuctionDesign.ASCENDING,
            increment_fen_per_t=step,
            max_bids_per_bidder=None,
            extension=timedelta(minutes=4),
        )
    )
    world.bid("yuyao_chem", P, 1_000, minutes(10))
    # The timed stage (限时竞价) runs 4 minutes past the quotation period: until 64 min.
    world.bid("yuyao_dye", P + step, 1_000, minutes(63))  # near the close: extends it to 67 min
    world.bid("yuyao_chem", P + 2 * step, 1_000, minutes(66))  # accepted only thanks to the extension
    with pytest.raises(AuctionStillOpen):
        world.close(at=minutes(69))  # extended again to 70 min
    with pytest.raises(BidOutsideWindow):
        world.bid("yuyao_dye", P + 3 * step, 1_000, minutes(70))
    closed = world.close(at=minutes(70))
    assert closed.result is not None
    assert closed.result.closed_at == minutes(70)
    assert [(a.bidder, a.price_fen_per_t) for a in closed.result.allocations] == [
        (world.party("yuyao_chem"), P + 2 * step)
    ]
    # the loser's deposit is released at the close; the winner's stays in escrow toward payment
    assert world.position(f"{world.party('yuyao_dye')}.cash") == (10_000_000, 0)
    assert world.position(f"{world.party('yuyao_chem')}.cash") == (10_000_000, 100_000)


def test_the_close_waits_for_the_closing_time_and_happens_once(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.open(terms())
    with pytest.raises(BidOutsideWindow):
        world.bid("yuyao_chem", P, 500, T0 - timedelta(seconds=1))
    world.bid("yuyao_chem", P, 500, minutes(1))
    with pytest.raises(AuctionStillOpen):
        world.close(at=CLOSE - timedelta(microseconds=1))
    with pytest.raises(PermissionDenied):
        world.close(by="ningbo")
    world.close()
    with pytest.raises(AuctionClosed):
        world.close()
    with pytest.raises(AuctionClosed):
        world.bid("yuyao_chem", P, 500, minutes(61))


def test_a_whole_auction_replays_to_the_live_balances(world: World) -> None:
    world.need("yuyao_chem", 1_000)
    world.need("yuyao_dye", 1_000)
    world.open(terms(quantity_kg=1_500))
    world.bid("yuyao_chem", P + 1_000, 1_000, minutes(1))
    world.bid("yuyao_dye", P, 1_000, minutes(2))
    world.close()
    done = world.run(
        auction_settlement.settle_auction,
        actor=world.p("yuyao"),
        auction_id="A1",
        now=CLOSE + timedelta(hours=1),
    )
    assert all(a.status is AwardStatus.SETTLED for a in done.values())
    assert world.auction().status is AuctionStatus.SETTLED
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok
    assert diff == {}
