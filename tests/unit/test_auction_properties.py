"""Properties of any clearing: supply, needs and bids bound each award; money is exact; order is moot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.auction_designs import in_priority_order, top_share
from market.auctions.model import (
    AuctionDesign,
    AuctionTerms,
    Bid,
    ClearingResult,
    FixedDeposit,
    Need,
    RejectReason,
    clear,
    eligible_needs,
    settle_deposits,
    winning_share,
)

YUYAO = "330281"
OPENS = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
WINDOW_S = 600
BIDDERS = [f"9133028100000000{i:02d}" for i in range(7)]  # the last one registers no need


@st.composite
def auctions(draw: st.DrawFn) -> tuple[AuctionTerms, list[Bid], list[Need]]:
    design = draw(st.sampled_from(list(AuctionDesign)))
    reserve = draw(st.integers(1, 5_000_000))
    step = draw(st.integers(1, 100_000))  # a coarse price grid makes ties common
    fields: dict[str, Any] = {}
    if design is AuctionDesign.ASCENDING:
        fields = {"increment_fen_per_t": step, "max_bids_per_bidder": draw(st.sampled_from([None, 3]))}
    else:
        fields = {"max_bids_per_bidder": draw(st.sampled_from([None, 2, 10]))}
    terms = AuctionTerms(
        auction_id="P",
        instrument="COD",
        jurisdiction=YUYAO,
        quantity_kg=draw(st.integers(1, 30_000)),
        reserve_price_fen_per_t=reserve,
        design=design,
        opens_at=OPENS,
        closes_at=OPENS + timedelta(seconds=WINDOW_S),
        deposit_rule=FixedDeposit(0),
        **fields,
    )
    registered = draw(st.lists(st.sampled_from(BIDDERS[:-1]), min_size=2, max_size=12))
    places = st.sampled_from([YUYAO] * 5 + ["330282"])  # now and then a need in another county
    needs = [Need(bidder, "COD", draw(places), draw(st.integers(1, 30_000))) for bidder in registered]
    late_s = WINDOW_S + (900 if design is AuctionDesign.ASCENDING else 10)  # past the timed stage
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*sorted(set(registered)) * 4, BIDDERS[-1]]),
                st.integers(-2, 12),  # price steps from the reserve: some below it
                st.integers(1, 10_000),
                st.integers(-10, late_s),  # seconds from the opening: some early, some late
            ),
            max_size=40,
        )
    )
    # arrival order follows time; ``seq`` breaks ties between bids at the same instant
    raw.sort(key=lambda r: r[3])
    if design is AuctionDesign.ASCENDING and draw(st.booleans()):  # mostly rising prices, as bidders do
        steps = sorted(r[1] for r in raw)
        raw = [(bidder, k, kg, s) for (bidder, _, kg, s), k in zip(raw, steps, strict=True)]
    bids = [
        Bid(bidder, max(1, reserve + k * step), kg, seq, OPENS + timedelta(seconds=s))
        for seq, (bidder, k, kg, s) in enumerate(raw)
    ]
    return terms, bids, needs


def check_invariants(terms: AuctionTerms, bids: list[Bid], needs: list[Need], result: ClearingResult) -> None:
    by_seq = {b.seq: b for b in bids}
    caps = eligible_needs(terms, needs)
    # supply: nothing sold twice, nothing invented
    assert result.sold_kg == sum(a.quantity_kg for a in result.allocations) <= terms.quantity_kg
    assert result.sold_kg + result.unsold_kg == terms.quantity_kg == result.offered_kg
    # every bid is accounted for exactly once: filled (wholly or partly) or rejected with a reason
    filled = [seq for a in result.allocations for seq in a.bid_seqs]
    rejected = [r.seq for r in result.rejected]
    assert sorted(filled + rejected) == sorted(by_seq)
    for r in result.rejected:
        assert by_seq[r.seq].bidder == r.bidder
    for a in result.allocations:
        own = [by_seq[seq] for seq in a.bid_seqs]
        assert all(b.bidder == a.bidder for b in own)
        assert 0 < a.quantity_kg <= sum(b.quantity_kg for b in own)
        assert a.price_fen_per_t >= terms.reserve_price_fen_per_t
        assert all(a.price_fen_per_t <= b.price_fen_per_t for b in own)  # nobody pays above its bid
        if terms.design is AuctionDesign.UNIFORM_PRICE:
            assert a.price_fen_per_t == result.clearing_price_fen_per_t
        else:
            assert all(a.price_fen_per_t == b.price_fen_per_t for b in own)  # pays its own bid
        # money: q x p / 1000 rounded half up, in integer fen, never off by more than half a fen
        assert type(a.amount_fen) is int
        assert a.amount_fen == (a.quantity_kg * a.price_fen_per_t + 500) // 1000
        assert abs(a.amount_fen * 1000 - a.quantity_kg * a.price_fen_per_t) <= 500
    assert result.revenue_fen == sum(a.amount_fen for a in result.allocations)
    assert result.amounts_due_fen() == {w: result.amount_due_fen(w) for w in result.winners()}
    for bidder in result.winners():
        assert result.awarded_kg(bidder) <= caps[bidder]
        assert result.awarded_kg(bidder) <= sum(b.quantity_kg for b in bids if b.bidder == bidder)
    # the right bids win: no bid refused for lack of supply outranks a filled bid (网络竞价: among the
    # bidders within the winning share; those cut from it by the tie rule also "lost the tie")
    last_filled = max(((-by_seq[s].price_fen_per_t, s) for s in filled), default=None)
    competing_bids = [by_seq[s] for s in filled] + [
        by_seq[r.seq] for r in result.rejected if r.reason in _COMPETING
    ]
    within = (
        top_share(in_priority_order(competing_bids))[0]
        if terms.design is AuctionDesign.ONLINE_BIDDING
        else None
    )
    for r in result.rejected:
        if within is not None and r.bidder not in within and r.reason in _COMPETING:
            assert r.reason in (RejectReason.OUTSIDE_WINNING_SHARE, RejectReason.LOST_THE_TIE)
            continue
        if r.reason in (RejectReason.SUPPLY_EXHAUSTED, RejectReason.LOST_THE_TIE):
            assert last_filled is not None
            assert (-by_seq[r.seq].price_fen_per_t, r.seq) > last_filled
        if r.reason is RejectReason.SUPPLY_EXHAUSTED:  # outbid: a strictly lower price than every fill
            assert -by_seq[r.seq].price_fen_per_t > last_filled[0]
    if terms.design is AuctionDesign.ONLINE_BIDDING:
        assert result.winning_share is not None
        assert len(result.winners()) <= result.winning_share
        competing = {by_seq[s].bidder for s in filled} | {
            r.bidder for r in result.rejected if r.reason in _COMPETING
        }
        assert result.winning_share == winning_share(len(competing))
        seventy_percent = (Decimal(len(competing)) * Decimal("0.7")).quantize(Decimal(1), ROUND_HALF_UP)
        assert result.winning_share == (max(1, int(seventy_percent)) if competing else 0)


_COMPETING = {
    RejectReason.OUTSIDE_WINNING_SHARE,
    RejectReason.NEED_FILLED,
    RejectReason.SUPPLY_EXHAUSTED,
    RejectReason.LOST_THE_TIE,
}


@settings(max_examples=300)
@given(auction=auctions(), data=st.data())
def test_any_clearing_respects_supply_needs_bids_reserve_and_exact_money(
    auction: tuple[AuctionTerms, list[Bid], list[Need]], data: st.DataObject
) -> None:
    terms, bids, needs = auction
    result = clear(terms, bids, needs)
    check_invariants(terms, bids, needs, result)
    # losers pay nothing and get their deposit back whole; winners' deposits count toward payment
    bidders = sorted({b.bidder for b in bids})
    amounts = data.draw(st.lists(st.integers(0, 10**9), min_size=len(bidders), max_size=len(bidders)))
    deposits = dict(zip(bidders, amounts, strict=True))
    for outcome in settle_deposits(result, deposits):
        due = result.amount_due_fen(outcome.bidder)
        if outcome.bidder not in result.winners():
            assert due == 0
            assert outcome.released_fen == outcome.deposit_fen
            assert outcome.balance_due_fen == 0
        assert outcome.applied_fen + outcome.balance_due_fen == due
        assert outcome.applied_fen + outcome.released_fen == outcome.deposit_fen


@given(auction=auctions(), data=st.data())
def test_clearing_does_not_depend_on_the_order_bids_and_needs_come_in(
    auction: tuple[AuctionTerms, list[Bid], list[Need]], data: st.DataObject
) -> None:
    terms, bids, needs = auction
    shuffled_bids = data.draw(st.permutations(bids))
    shuffled_needs = data.draw(st.permutations(needs))
    assert clear(terms, shuffled_bids, shuffled_needs) == clear(terms, bids, needs)
