"""Bid-time checks (each refusal names its field), auction terms, and deposits (保证金)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidQuantity,
    NotFound,
    RuleViolation,
    UnknownInstrument,
)
from market.auctions import errors
from market.auctions.model import (
    QUZHOU_DEPOSIT,
    AuctionDesign,
    AuctionTerms,
    Bid,
    FixedDeposit,
    Need,
    RatioDeposit,
    RejectReason,
    check_bid,
    clear,
    deposit_for,
    effective_close,
    required_deposit,
    settle_deposits,
)
from market.bluecarbon import errors as bluecarbon_errors
from market.crosscity import errors as crosscity_errors
from market.issuance import errors as issuance_errors
from market.pledges import errors as pledge_errors
from market.trades import errors as trade_errors

YUYAO = "330281"
OPENS = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=2)
RESERVE = 2_000_000
NEEDS = [Need("A", "COD", YUYAO, 5_000), Need("B", "COD", YUYAO, 5_000)]


def terms(design: AuctionDesign = AuctionDesign.ONLINE_BIDDING, **overrides: Any) -> AuctionTerms:
    fields: dict[str, Any] = {
        "auction_id": "A-2025-002",
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
        fields |= {"increment_fen_per_t": 10_000, "start_price_fen_per_t": RESERVE + 100_000}
    return AuctionTerms(**(fields | overrides))


def at(minutes: float) -> datetime:
    return OPENS + timedelta(minutes=minutes)


def submit(t: AuctionTerms, new: Bid, existing: list[Bid] | None = None) -> None:
    check_bid(t, new, needs=NEEDS, existing_bids=existing or [], now=new.at)


def refusal(t: AuctionTerms, new: Bid, existing: list[Bid] | None = None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        submit(t, new, existing)
    return caught.value


def test_a_valid_bid_passes() -> None:
    submit(terms(), Bid("A", RESERVE, 5_000, 1, at(1)))


@pytest.mark.parametrize(
    ("new", "error", "field"),
    [
        (Bid("Z", RESERVE, 1_000, 1, at(1)), errors.NotEligible, "bidder"),
        (Bid("A", RESERVE, 1_000, 1, at(-1)), errors.BidOutsideWindow, "at"),
        (Bid("A", RESERVE, 1_000, 1, at(120)), errors.BidOutsideWindow, "at"),
        (Bid("A", RESERVE - 1, 1_000, 1, at(1)), errors.BidBelowReserve, "price_fen_per_t"),
        (Bid("A", RESERVE, 5_001, 1, at(1)), errors.BidExceedsNeed, "quantity_kg"),
    ],
)
def test_a_bid_breaking_a_rule_is_refused_naming_the_field(
    new: Bid, error: type[Exception], field: str
) -> None:
    caught = refusal(terms(), new)
    assert type(caught) is error
    assert isinstance(caught, errors.BidRefused)
    assert caught.field == field
    assert caught.to_dict()["details"]["field"] == field


def test_the_refusal_for_exceeding_the_need_carries_both_quantities() -> None:
    caught = refusal(terms(), Bid("A", RESERVE, 5_001, 1, at(1)))
    assert caught.details == {"field": "quantity_kg", "quantity_kg": 5_001, "need_kg": 5_000}


def test_a_need_in_another_jurisdiction_does_not_make_a_bidder_eligible() -> None:
    with pytest.raises(errors.NotEligible):
        check_bid(
            terms(),
            Bid("C", RESERVE, 1_000, 1, at(1)),
            needs=[Need("C", "COD", "330282", 5_000)],
            existing_bids=[],
            now=at(1),
        )


def test_the_eleventh_bid_of_a_bidder_is_refused() -> None:
    existing = [Bid("A", RESERVE, 1_000, seq, at(seq)) for seq in range(1, 11)]
    submit(terms(), Bid("B", RESERVE, 1_000, 11, at(11)), existing)  # another bidder is fine
    caught = refusal(terms(), Bid("A", RESERVE, 1_000, 11, at(11)), existing)
    assert isinstance(caught, errors.TooManyBids)
    assert caught.details["limit"] == 10


def test_a_bid_that_does_not_come_after_every_accepted_bid_is_a_sequence_conflict() -> None:
    existing = [Bid("A", RESERVE, 1_000, 5, at(1))]
    caught = refusal(terms(), Bid("B", RESERVE, 1_000, 5, at(2)), existing)
    assert isinstance(caught, errors.BidSequenceConflict)
    assert isinstance(caught, Conflict)


def test_a_bid_must_be_stamped_with_the_registry_clock() -> None:
    with pytest.raises(errors.InvalidBid) as caught:
        check_bid(terms(), Bid("A", RESERVE, 1_000, 1, at(1)), needs=NEEDS, existing_bids=[], now=at(2))
    assert caught.value.field == "at"


def test_ascending_bids_start_at_the_start_price_and_rise_by_whole_increments() -> None:
    t = terms(AuctionDesign.ASCENDING)
    start = RESERVE + 100_000
    below = refusal(t, Bid("A", start - 10_000, 10_000 // 2, 1, at(1)))
    assert isinstance(below, errors.BidBelowStartPrice)
    assert isinstance(below, errors.BidBelowReserve)  # catchable as the broader rule
    assert below.details["minimum_fen_per_t"] == start
    off_grid = refusal(t, Bid("A", start + 5_000, 5_000, 1, at(1)))
    assert isinstance(off_grid, errors.BidNotAnIncrement)
    standing = [Bid("A", start + 20_000, 5_000, 1, at(1))]
    not_raising = refusal(t, Bid("B", start + 20_000, 5_000, 2, at(2)), standing)
    assert isinstance(not_raising, errors.BidNotAnIncrement)
    assert not_raising.details["minimum_fen_per_t"] == start + 30_000
    assert not_raising.field == "price_fen_per_t"
    submit(t, Bid("B", start + 30_000, 5_000, 2, at(2)), standing)


def test_an_ascending_bid_is_accepted_until_the_extended_close_and_refused_after() -> None:
    t = terms(AuctionDesign.ASCENDING, max_bids_per_bidder=None)
    first = Bid("A", RESERVE + 100_000, 5_000, 1, CLOSES + timedelta(minutes=3))
    assert effective_close(t, []) == CLOSES + timedelta(minutes=4)
    assert effective_close(t, [first]) == CLOSES + timedelta(minutes=7)
    submit(t, Bid("B", RESERVE + 110_000, 5_000, 2, CLOSES + timedelta(minutes=6)), [first])
    late = refusal(t, Bid("B", RESERVE + 110_000, 5_000, 2, CLOSES + timedelta(minutes=7)), [first])
    assert isinstance(late, errors.BidOutsideWindow)
    assert late.details["closes_at"] == (CLOSES + timedelta(minutes=7)).isoformat()


def test_sealed_auctions_close_at_closes_at_whatever_the_bids() -> None:
    assert effective_close(terms(), [Bid("A", RESERVE, 1, 1, CLOSES - timedelta(seconds=1))]) == CLOSES


def test_refusal_codes_are_the_reason_codes_clearing_gives() -> None:
    refused = [
        errors.NotEligible,
        errors.BidOutsideWindow,
        errors.BidBelowReserve,
        errors.BidBelowStartPrice,
        errors.BidNotAnIncrement,
        errors.BidExceedsNeed,
        errors.TooManyBids,
    ]
    assert {e.code for e in refused} <= {r.value for r in RejectReason}


def test_every_market_error_has_its_own_code_under_a_ledger_family() -> None:
    modules = [errors, bluecarbon_errors, crosscity_errors, issuance_errors, pledge_errors, trade_errors]
    classes = [getattr(module, name) for module in modules for name in module.__all__]
    assert len({c.code for c in classes}) == len(classes)
    for cls in classes:
        assert issubclass(cls, InvalidInput | Conflict | RuleViolation | NotFound)


def test_clearing_and_check_bid_agree_on_the_rule_a_bid_breaks() -> None:
    t = terms(AuctionDesign.PAY_AS_BID)
    cases = [
        (Bid("Z", RESERVE, 1_000, 1, at(1)), RejectReason.NOT_ELIGIBLE),
        (Bid("A", RESERVE, 1_000, 2, at(200)), RejectReason.OUTSIDE_WINDOW),
        (Bid("A", RESERVE - 1, 1_000, 3, at(1)), RejectReason.BELOW_RESERVE),
        (Bid("A", RESERVE, 9_000, 4, at(1)), RejectReason.EXCEEDS_NEED),
    ]
    result = clear(t, [b for b, _ in cases], NEEDS)
    assert [r.reason for r in result.rejected] == [reason for _, reason in cases]
    for b, reason in cases:
        assert refusal(t, b).code == reason.value


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"instrument": "BC"}, "instrument"),
        ({"quantity_kg": 0}, "quantity_kg"),
        ({"reserve_price_fen_per_t": -1}, "reserve_price_fen_per_t"),
        ({"closes_at": OPENS}, "closes_at"),
        ({"opens_at": datetime(2025, 3, 3, 9, 0)}, "opens_at"),  # noqa: DTZ001 - naive on purpose
        ({"deposit_rule": 500_000}, "deposit_rule"),
        ({"deposit_rule": QUZHOU_DEPOSIT}, "base_price_fen_per_t"),
        ({"max_bids_per_bidder": 0}, "max_bids_per_bidder"),
        ({"increment_fen_per_t": 10_000}, "design"),
        ({"design": "dutch"}, "design"),
    ],
)
def test_terms_that_cannot_run_are_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        terms(**overrides)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"increment_fen_per_t": None}, "increment_fen_per_t"),
        ({"start_price_fen_per_t": RESERVE - 1}, "start_price_fen_per_t"),
        ({"extension": timedelta(0)}, "extension"),
    ],
)
def test_ascending_terms_need_an_increment_and_a_start_at_or_above_the_reserve(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        terms(AuctionDesign.ASCENDING, **overrides)
    assert caught.value.field == field


def test_an_unknown_instrument_is_refused() -> None:
    with pytest.raises(UnknownInstrument):
        terms(instrument="CO2")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"price_fen_per_t": 2_000_000.0}, "price_fen_per_t"),
        ({"quantity_kg": 0}, "quantity_kg"),
        ({"quantity_kg": True}, "quantity_kg"),
        ({"seq": -1}, "seq"),
    ],
)
def test_a_malformed_bid_cannot_be_built(kwargs: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "bidder": "A",
        "price_fen_per_t": RESERVE,
        "quantity_kg": 1,
        "seq": 1,
        "at": OPENS,
    }
    with pytest.raises(InvalidQuantity) as caught:
        Bid(**(fields | kwargs))
    assert caught.value.field == field


def test_a_bid_with_a_naive_time_cannot_be_built() -> None:
    with pytest.raises(errors.InvalidBid):
        Bid("A", RESERVE, 1, 1, datetime(2025, 3, 3, 9, 0))  # noqa: DTZ001 - naive on purpose


def test_the_quzhou_deposit_is_ten_percent_of_base_price_times_quantity_times_five_years() -> None:
    # 1 t of COD at Jinhua's base price of 4,000 CNY per tonne-year: 10% x 4,000 x 1 x 5 = 2,000 CNY
    assert deposit_for(QUZHOU_DEPOSIT, 1_000, 400_000) == 200_000
    assert deposit_for(QUZHOU_DEPOSIT, 2_500, 100_000) == 125_000  # 2.5 t of SO2 at 1,000 CNY


def test_a_ratio_deposit_rounds_half_up_to_the_fen() -> None:
    assert deposit_for(RatioDeposit(ratio_bp=1, years=1), 1, 50_000_000) == 5  # 5.0 fen exactly
    assert deposit_for(RatioDeposit(ratio_bp=1, years=1), 1, 5_000_000) == 1  # 0.5 fen rounds up
    assert deposit_for(RatioDeposit(ratio_bp=1, years=1), 1, 4_999_999) == 0


def test_a_fixed_deposit_ignores_quantity_and_price() -> None:
    assert deposit_for(FixedDeposit(300_000), 10_000_000, 400_000) == 300_000


def test_the_required_deposit_is_on_the_need_capped_at_the_quantity_offered() -> None:
    t = terms(deposit_rule=QUZHOU_DEPOSIT, base_price_fen_per_t=400_000)
    assert required_deposit(t, 2_000) == 400_000
    assert required_deposit(t, 50_000) == required_deposit(t, 10_000) == 2_000_000
    assert required_deposit(terms(), 2_000) == 500_000


def test_at_the_close_losers_get_their_deposit_back_and_winners_apply_it_to_the_payment() -> None:
    t = terms(AuctionDesign.PAY_AS_BID, quantity_kg=3_000)
    bids = [
        Bid("A", 3_000_000, 2_000, 1, at(1)),
        Bid("B", 2_000_000, 1_000, 2, at(2)),
        Bid("C", 2_000_000, 1, 3, at(3)),
    ]
    needs = [*NEEDS, Need("C", "COD", YUYAO, 1_000)]
    result = clear(t, bids, needs)
    outcomes = settle_deposits(result, {"A": 500_000, "B": 5_000_000, "C": 500_000})
    assert [(o.bidder, o.applied_fen, o.released_fen, o.balance_due_fen) for o in outcomes] == [
        ("A", 500_000, 0, 5_500_000),  # owes 6,000,000: deposit counts toward it
        ("B", 2_000_000, 3_000_000, 0),  # deposit larger than the payment: the excess is released
        ("C", 0, 500_000, 0),  # a loser pays nothing and gets it all back
    ]
    for o in outcomes:
        assert o.applied_fen + o.released_fen == o.deposit_fen
        assert o.applied_fen + o.balance_due_fen == result.amount_due_fen(o.bidder)
