"""Clearing by design: ties at the margin, undersubscription, the reserve, needs, 网络竞价, anti-sniping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from market.auctions.errors import BidSequenceConflict
from market.auctions.model import (
    Allocation,
    AuctionDesign,
    AuctionTerms,
    Bid,
    FixedDeposit,
    Need,
    RejectReason,
    clear,
    payment_fen,
    winning_share,
)

YUYAO = "330281"
OPENS = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 in Yuyao
CLOSES = OPENS + timedelta(hours=2)
RESERVE = 2_000_000  # fen/t: COD base price 4,000 CNY/t-a x 5 years
SEALED = [AuctionDesign.UNIFORM_PRICE, AuctionDesign.PAY_AS_BID, AuctionDesign.ONLINE_BIDDING]


def terms(design: AuctionDesign = AuctionDesign.UNIFORM_PRICE, **overrides: Any) -> AuctionTerms:
    fields: dict[str, Any] = {
        "auction_id": "A-2025-001",
        "instrument": "COD",
        "jurisdiction": YUYAO,
        "quantity_kg": 10_000,
        "reserve_price_fen_per_t": RESERVE,
        "design": design,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "deposit_rule": FixedDeposit(500_000),
    }
    if design is AuctionDesign.ASCENDING:
        fields |= {"increment_fen_per_t": 10_000, "max_bids_per_bidder": None}
    return AuctionTerms(**(fields | overrides))


def bid(seq: int, bidder: str, price: int, kg: int, at: datetime | None = None) -> Bid:
    return Bid(bidder, price, kg, seq, OPENS + timedelta(seconds=seq) if at is None else at)


def needs(**approved_kg: int) -> list[Need]:
    return [Need(bidder, "COD", YUYAO, kg) for bidder, kg in approved_kg.items()]


def reasons(result: Any) -> dict[int, RejectReason]:
    return {r.seq: r.reason for r in result.rejected}


def test_uniform_price_charges_every_winner_the_lowest_accepted_bid() -> None:
    bids = [bid(1, "A", 2_600_000, 4_000), bid(2, "B", 2_400_000, 4_000), bid(3, "C", 2_200_000, 4_000)]
    result = clear(terms(), bids, needs(A=5_000, B=5_000, C=5_000))
    assert result.clearing_price_fen_per_t == 2_200_000
    assert [(a.bidder, a.quantity_kg, a.price_fen_per_t) for a in result.allocations] == [
        ("A", 4_000, 2_200_000),
        ("B", 4_000, 2_200_000),
        ("C", 2_000, 2_200_000),  # the marginal bid takes the remainder
    ]
    assert result.sold_kg == 10_000
    assert result.unsold_kg == 0
    assert result.revenue_fen == 10_000 * 2_200_000 // 1000


def test_a_tie_at_the_margin_gives_the_remainder_to_the_earlier_bid_whatever_the_input_order() -> None:
    bids = [bid(1, "A", 2_500_000, 6_000), bid(2, "B", 2_100_000, 3_000), bid(3, "C", 2_100_000, 3_000)]
    for ordering in (bids, bids[::-1], [bids[2], bids[0], bids[1]]):
        result = clear(terms(), ordering, needs(A=6_000, B=6_000, C=6_000))
        assert [(a.bidder, a.quantity_kg) for a in result.allocations] == [
            ("A", 6_000),
            ("B", 3_000),
            ("C", 1_000),
        ]
        assert result.clearing_price_fen_per_t == 2_100_000


def test_a_later_bid_at_the_margin_price_gets_nothing_when_the_earlier_one_takes_all() -> None:
    bids = [bid(7, "LATE", 2_100_000, 4_000), bid(3, "EARLY", 2_100_000, 4_000)]
    result = clear(terms(quantity_kg=4_000), bids, needs(EARLY=4_000, LATE=4_000))
    assert result.winners() == ("EARLY",)
    assert reasons(result) == {7: RejectReason.LOST_THE_TIE}  # the earlier bid at its price took all


def test_an_undersubscribed_uniform_auction_sells_at_the_reserve_and_reports_the_unsold_rest() -> None:
    bids = [bid(1, "A", 3_000_000, 2_000), bid(2, "B", 2_500_000, 3_000)]
    result = clear(terms(), bids, needs(A=5_000, B=5_000))
    assert result.clearing_price_fen_per_t == RESERVE
    assert result.sold_kg == 5_000
    assert result.unsold_kg == 5_000
    assert result.revenue_fen == 5_000 * RESERVE // 1000
    assert result.rejected == ()


def test_an_undersubscribed_pay_as_bid_auction_charges_each_bid_and_leaves_the_rest_unsold() -> None:
    bids = [bid(1, "A", 3_000_000, 2_000), bid(2, "B", 2_500_000, 3_000)]
    result = clear(terms(AuctionDesign.PAY_AS_BID), bids, needs(A=5_000, B=5_000))
    assert result.clearing_price_fen_per_t is None
    assert [(a.bidder, a.price_fen_per_t, a.amount_fen) for a in result.allocations] == [
        ("A", 3_000_000, 6_000_000),
        ("B", 2_500_000, 7_500_000),
    ]
    assert result.unsold_kg == 5_000


@pytest.mark.parametrize("design", [*SEALED, AuctionDesign.ASCENDING])
def test_when_every_bid_is_below_the_reserve_nothing_is_sold(design: AuctionDesign) -> None:
    bids = [bid(1, "A", RESERVE - 1, 5_000), bid(2, "B", RESERVE // 2, 5_000)]
    result = clear(terms(design), bids, needs(A=5_000, B=5_000))
    assert result.allocations == ()
    assert result.sold_kg == 0
    assert result.revenue_fen == 0
    assert result.clearing_price_fen_per_t is None
    expected = (
        RejectReason.BELOW_START_PRICE if design is AuctionDesign.ASCENDING else RejectReason.BELOW_RESERVE
    )
    assert reasons(result) == {1: expected, 2: expected}


def test_a_bid_at_exactly_the_reserve_is_accepted() -> None:
    result = clear(terms(), [bid(1, "A", RESERVE, 1_000)], needs(A=1_000))
    assert result.awarded_kg("A") == 1_000


@pytest.mark.parametrize("design", SEALED)
def test_a_bid_above_the_bidders_need_is_rejected_whole(design: AuctionDesign) -> None:
    bids = [bid(1, "A", 3_000_000, 6_000), bid(2, "A", 2_500_000, 5_000), bid(3, "B", 2_200_000, 2_000)]
    result = clear(terms(design), bids, needs(A=5_000, B=2_000))
    assert reasons(result)[1] == RejectReason.EXCEEDS_NEED
    assert result.awarded_kg("A") == 5_000  # its bid within the need still counts
    assert result.allocations[0].bid_seqs == (2,)


def test_what_a_bidder_wins_over_several_bids_never_exceeds_its_need() -> None:
    bids = [bid(1, "A", 3_000_000, 4_000), bid(2, "A", 2_800_000, 4_000), bid(3, "A", 2_600_000, 4_000)]
    result = clear(terms(AuctionDesign.PAY_AS_BID), bids, needs(A=6_000))
    assert [(a.price_fen_per_t, a.quantity_kg) for a in result.allocations] == [
        (3_000_000, 4_000),
        (2_800_000, 2_000),
    ]
    assert reasons(result) == {3: RejectReason.NEED_FILLED}


def test_only_needs_for_this_pollutant_and_jurisdiction_make_a_bidder_eligible() -> None:
    registered = [
        Need("OTHER_PLACE", "COD", "330282", 5_000),
        Need("OTHER_POLLUTANT", "NH3-N", YUYAO, 5_000),
        Need("TWO_PROJECTS", "COD", YUYAO, 1_000),
        Need("TWO_PROJECTS", "COD", YUYAO, 2_000),
    ]
    bids = [bid(1, "OTHER_PLACE", 3_000_000, 1_000), bid(2, "OTHER_POLLUTANT", 3_000_000, 1_000)]
    bids += [bid(3, "TWO_PROJECTS", 2_500_000, 3_000), bid(4, "NOBODY", 3_000_000, 1_000)]
    result = clear(terms(), bids, registered)
    assert reasons(result) == {
        1: RejectReason.NOT_ELIGIBLE,
        2: RejectReason.NOT_ELIGIBLE,
        4: RejectReason.NOT_ELIGIBLE,
    }
    assert result.awarded_kg("TWO_PROJECTS") == 3_000  # the needs of its two projects add up


def test_bids_before_the_opening_or_at_the_close_are_outside_the_window() -> None:
    bids = [
        bid(1, "A", 3_000_000, 1_000, at=OPENS - timedelta(microseconds=1)),
        bid(2, "A", 3_000_000, 1_000, at=OPENS),
        bid(3, "A", 3_000_000, 1_000, at=CLOSES - timedelta(microseconds=1)),
        bid(4, "A", 3_000_000, 1_000, at=CLOSES),
    ]
    result = clear(terms(), bids, needs(A=5_000))
    assert reasons(result) == {1: RejectReason.OUTSIDE_WINDOW, 4: RejectReason.OUTSIDE_WINDOW}
    assert result.allocations[0].bid_seqs == (2, 3)


def test_a_bidders_bids_past_the_tenth_are_rejected_by_arrival_not_by_price() -> None:
    bids = [bid(seq, "A", 2_000_000 + seq * 10_000, 100) for seq in range(1, 13)]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(A=5_000))
    assert reasons(result) == {11: RejectReason.TOO_MANY_BIDS, 12: RejectReason.TOO_MANY_BIDS}
    assert result.awarded_kg("A") == 1_000


def test_two_bids_with_one_seq_are_refused() -> None:
    with pytest.raises(BidSequenceConflict) as caught:
        clear(terms(), [bid(1, "A", RESERVE, 1_000), bid(1, "B", RESERVE, 1_000)], needs(A=1_000, B=1_000))
    assert caught.value.details["field"] == "seq"


def test_pay_as_bid_charges_each_winner_its_own_bid_one_allocation_per_price() -> None:
    bids = [bid(1, "A", 3_000_000, 3_000), bid(2, "B", 2_700_000, 4_000), bid(3, "A", 2_400_000, 5_000)]
    result = clear(terms(AuctionDesign.PAY_AS_BID), bids, needs(A=8_000, B=4_000))
    assert result.allocations == (
        Allocation("A", 3_000, 3_000_000, 9_000_000, (1,)),
        Allocation("B", 4_000, 2_700_000, 10_800_000, (2,)),
        Allocation("A", 3_000, 2_400_000, 7_200_000, (3,)),
    )
    assert result.amount_due_fen("A") == 16_200_000
    assert result.revenue_fen == 27_000_000


def test_uniform_price_merges_a_bidders_bids_into_one_allocation_rounded_once() -> None:
    bids = [bid(1, "A", 3_000_000, 1), bid(2, "A", 2_900_000, 1), bid(3, "B", 2_000_001, 1)]
    result = clear(terms(quantity_kg=3), bids, needs(A=2, B=1))
    # 2 kg x 2,000,001 fen/t = 4,000.002 fen -> 4,000; per bid it would have been 2,000 + 2,000
    assert result.allocations[0] == Allocation("A", 2, 2_000_001, 4_000, (1, 2))
    assert result.allocations[1] == Allocation("B", 1, 2_000_001, 2_000, (3,))


@pytest.mark.parametrize(
    ("kg", "price", "fen"),
    [(1, 1_234_500, 1_235), (1, 1_234_499, 1_234), (3, 333, 1), (1, 499, 0), (1, 500, 1), (1_000, 7, 7)],
)
def test_a_payment_rounds_half_up_to_the_fen(kg: int, price: int, fen: int) -> None:
    assert payment_fen(kg, price) == fen


@pytest.mark.parametrize(
    ("bidders", "winners"), [(0, 0), (1, 1), (2, 1), (3, 2), (4, 3), (5, 4), (6, 4), (10, 7), (15, 11)]
)
def test_online_bidding_winner_quota_is_70_percent_rounded_half_up_and_at_least_one(
    bidders: int, winners: int
) -> None:
    assert winning_share(bidders) == winners


def test_online_bidding_lets_only_the_top_70_percent_of_bidders_win_even_with_supply_to_spare() -> None:
    names = [f"E{i:02d}" for i in range(10)]
    bids = [bid(i + 1, name, 3_000_000 - i * 10_000, 500) for i, name in enumerate(names)]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(**dict.fromkeys(names, 500)))
    assert result.winning_share == 7
    assert result.winners() == tuple(names[:7])
    assert reasons(result) == dict.fromkeys((8, 9, 10), RejectReason.OUTSIDE_WINNING_SHARE)
    assert [a.price_fen_per_t for a in result.allocations] == [3_000_000 - i * 10_000 for i in range(7)]
    assert result.unsold_kg == 10_000 - 7 * 500


def test_online_bidding_ranks_equal_best_prices_by_arrival() -> None:
    bids = [bid(5, "C", 2_500_000, 1_000), bid(2, "A", 2_500_000, 1_000), bid(3, "B", 2_500_000, 1_000)]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(A=1_000, B=1_000, C=1_000))
    assert result.winning_share == 2
    assert result.winners() == ("A", "B")
    assert reasons(result) == {5: RejectReason.LOST_THE_TIE}  # C's equal best bid came last


def test_online_bidding_ranks_a_bidder_by_its_best_bid_and_keeps_all_its_bids() -> None:
    bids = [
        bid(1, "A", 2_200_000, 2_000),
        bid(2, "B", 2_400_000, 2_000),
        bid(3, "C", 2_300_000, 2_000),
        bid(4, "A", 2_600_000, 1_000),  # A's best bid puts it first
    ]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(A=3_000, B=2_000, C=2_000))
    assert result.winning_share == 2  # 3 bidders x 0.7 = 2.1
    assert result.winners() == ("A", "B")
    assert result.awarded_kg("A") == 3_000  # both of A's bids, each at its own price
    assert reasons(result) == {3: RejectReason.OUTSIDE_WINNING_SHARE}


def test_online_bidding_counts_only_bidders_with_a_valid_bid() -> None:
    bids = [bid(1, "A", 2_500_000, 1_000), bid(2, "B", 2_400_000, 1_000), bid(3, "LOW", RESERVE - 1, 1_000)]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(A=1_000, B=1_000, LOW=1_000))
    assert result.winning_share == 1  # 2 valid bidders x 0.7 = 1.4
    assert result.winners() == ("A",)


def test_online_bidding_supply_can_run_out_inside_the_winning_share() -> None:
    bids = [bid(i, f"E{i}", 3_000_000 - i, 4_000) for i in range(1, 11)]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(**{f"E{i}": 4_000 for i in range(1, 11)}))
    assert result.winners() == ("E1", "E2", "E3")
    assert result.awarded_kg("E3") == 2_000
    assert reasons(result)[4] == RejectReason.SUPPLY_EXHAUSTED
    assert reasons(result)[8] == RejectReason.OUTSIDE_WINNING_SHARE


def test_a_late_bid_in_the_timed_stage_extends_the_close_by_four_minutes() -> None:
    t = terms(AuctionDesign.ASCENDING)
    minute = timedelta(minutes=1)
    bids = [
        bid(1, "A", RESERVE, 10_000, at=OPENS + minute),
        bid(2, "B", RESERVE + 10_000, 10_000, at=CLOSES + 3 * minute),  # close -> +7 min
        bid(3, "A", RESERVE + 20_000, 10_000, at=CLOSES + 6 * minute),  # late but within: -> +10 min
        bid(4, "B", RESERVE + 30_000, 10_000, at=CLOSES + 10 * minute),  # exactly at the close: too late
    ]
    result = clear(t, bids, needs(A=10_000, B=10_000))
    assert result.closed_at == CLOSES + 10 * minute
    assert reasons(result) == {
        2: RejectReason.SUPPLY_EXHAUSTED,
        4: RejectReason.OUTSIDE_WINDOW,
        1: RejectReason.SUPPLY_EXHAUSTED,
    }
    assert result.allocations == (Allocation("A", 10_000, RESERVE + 20_000, 20_200_000, (3,)),)


def test_without_a_bid_in_the_timed_stage_the_ascending_auction_closes_four_minutes_after_quotation() -> None:
    bids = [bid(1, "A", RESERVE, 10_000, at=CLOSES - timedelta(seconds=1))]
    result = clear(terms(AuctionDesign.ASCENDING), bids, needs(A=10_000))
    assert result.closed_at == CLOSES + timedelta(minutes=4)
    assert result.winners() == ("A",)


def test_an_ascending_auction_refuses_off_grid_and_non_raising_bids_without_moving_the_standing_price() -> (
    None
):
    bids = [
        bid(1, "A", RESERVE + 10_000, 10_000),
        bid(2, "B", RESERVE + 15_000, 10_000),  # off the grid
        bid(3, "B", RESERVE + 10_000, 10_000),  # does not raise the standing price
        bid(4, "B", RESERVE + 20_000, 10_000),  # one step above A: standing
        bid(5, "C", RESERVE + 30_000, 10_000),  # C has no need registered
    ]
    result = clear(terms(AuctionDesign.ASCENDING), bids, needs(A=10_000, B=10_000))
    assert reasons(result) == {
        1: RejectReason.SUPPLY_EXHAUSTED,
        2: RejectReason.NOT_AN_INCREMENT,
        3: RejectReason.NOT_AN_INCREMENT,
        5: RejectReason.NOT_ELIGIBLE,
    }
    assert result.allocations == (Allocation("B", 10_000, RESERVE + 20_000, 20_200_000, (4,)),)


def test_an_ascending_auction_with_partial_bids_goes_down_the_price_ladder() -> None:
    bids = [bid(1, "A", RESERVE, 6_000), bid(2, "B", RESERVE + 10_000, 6_000)]
    result = clear(
        terms(AuctionDesign.ASCENDING, start_price_fen_per_t=RESERVE), bids, needs(A=6_000, B=6_000)
    )
    assert [(a.bidder, a.quantity_kg, a.price_fen_per_t) for a in result.allocations] == [
        ("B", 6_000, RESERVE + 10_000),
        ("A", 4_000, RESERVE),
    ]


def test_a_bid_below_the_marginal_price_is_outbid_and_one_at_it_lost_the_tie() -> None:
    bids = [bid(1, "A", 2_500_000, 4_000), bid(2, "B", 2_400_000, 1_000), bid(3, "C", 2_500_000, 1_000)]
    result = clear(terms(AuctionDesign.PAY_AS_BID, quantity_kg=4_000), bids, needs(A=4_000, B=4_000, C=4_000))
    assert reasons(result) == {2: RejectReason.SUPPLY_EXHAUSTED, 3: RejectReason.LOST_THE_TIE}


def test_online_bidding_tells_a_bidder_cut_by_the_70_percent_rule_from_one_that_lost_the_tie() -> None:
    bids = [bid(1, "A", 2_600_000, 500), bid(2, "B", 2_500_000, 500)]
    bids += [bid(3, "C", 2_500_000, 500), bid(4, "D", 2_500_000, 500)]  # D's equal best bid came last
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(A=500, B=500, C=500, D=500))
    assert result.winning_share == 3  # 4 x 0.7 = 2.8
    assert result.winners() == ("A", "B", "C")
    assert reasons(result) == {4: RejectReason.LOST_THE_TIE}
    bids += [bid(5, "E", 2_400_000, 500)]
    result = clear(terms(AuctionDesign.ONLINE_BIDDING), bids, needs(A=500, B=500, C=500, D=500, E=500))
    assert result.winning_share == 4  # 5 x 0.7 = 3.5, rounded half up
    assert result.winners() == ("A", "B", "C", "D")
    assert reasons(result) == {5: RejectReason.OUTSIDE_WINNING_SHARE}
