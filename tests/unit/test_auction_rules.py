"""The ledger's own auction rules (``ledger.auction_rules``) on an in-memory ``LedgerState``: what an
open, a bid and a result record must be from rule set 2 on, and that rule set 1 journals are untouched."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ledger.auction_book import award_hold_id, bid_commitment, result_meta, revealed_bid, terms_meta
from ledger.auction_clearing import AuctionTerms, Bid, clear_with_caps
from ledger.auction_designs import AuctionDesign, FixedDeposit, timed_close
from ledger.auction_errors import (
    AuctionNotOpen,
    AuctionNotOver,
    AuctionResultMismatch,
    BidBelowStartPrice,
    BidExceedsNeed,
    BidNotAnIncrement,
    BidOutsideWindow,
    DuplicateAuction,
    NotEligible,
    TooManyBids,
)
from ledger.errors import InvalidInput
from ledger.model import AccountKind, HoldPlace, HoldSettle, Lot, TxBody
from ledger.rules import AccountInfo, Effect, Position, apply
from ledger.state import LedgerState

BUREAU, A, B, BANK = "bureau:330281", "ent:a", "ent:b", "bank:x"
LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
OPENS = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=1)
RESERVE = 600_000
DEPOSIT = 100_000
_nonces = itertools.count()


def state(rule_set: int = 2) -> LedgerState:
    """A bureau with 10 t in its reserve, two enterprises and a bank with cash, all of Yuyao."""
    s = LedgerState(rule_set=rule_set)
    for party, role in ((BUREAU, "bureau"), (A, "enterprise"), (B, "enterprise"), (BANK, "bank")):
        s.parties[party] = {"role": role, "jurisdiction": "330281"}
    s.bureaus["330281"] = BUREAU
    s.accounts[f"{BUREAU}.reserve"] = AccountInfo(f"{BUREAU}.reserve", BUREAU, AccountKind.RESERVE)
    s.positions[(f"{BUREAU}.reserve", "COD", LOT.key())] = Position(10_000)
    for party in (A, B, BANK):
        s.accounts[f"{party}.cash"] = AccountInfo(f"{party}.cash", party, AccountKind.CASH)
        s.positions[(f"{party}.cash", "CNY", "")] = Position(10_000_000)
    return s


def terms(design: AuctionDesign = AuctionDesign.PAY_AS_BID, **kw: Any) -> AuctionTerms:
    values: dict[str, Any] = {
        "auction_id": "A1",
        "instrument": "COD",
        "jurisdiction": "330281",
        "quantity_kg": 1_500,
        "reserve_price_fen_per_t": RESERVE,
        "design": design,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "deposit_rule": FixedDeposit(DEPOSIT),
    }
    if design is AuctionDesign.ASCENDING:
        values |= {"increment_fen_per_t": 10_000, "max_bids_per_bidder": None}
    return AuctionTerms(**(values | kw))


def run(s: LedgerState, body: TxBody, at: datetime) -> Effect:
    effect = apply(body, s, at)
    s.commit(effect)
    return effect


def open_body(t: AuctionTerms, amount: int | None = None, hold: str = "auction:A1") -> TxBody:
    place = HoldPlace(hold, f"{BUREAU}.reserve", "COD", LOT, amount or t.quantity_kg, "auction", BUREAU)
    meta = terms_meta(t, LOT.valid_until, timedelta(days=5))  # type: ignore[arg-type]
    return TxBody("auction.open", f"n{next(_nonces)}", holds=(place,), signers=(BUREAU,), meta=meta)


def bid_body(bidder: str, *, deposit: int = 0, need: int = 1_000, **meta: Any) -> TxBody:
    holds = ()
    if deposit:
        holds = (
            HoldPlace(
                f"d{next(_nonces)}", f"{bidder}.cash", "CNY", Lot(), deposit, "auction_deposit", BUREAU
            ),
        )
    fields = {"auction_id": "A1", "bidder": bidder, "need_kg": need, "deposit_fen": deposit} | meta
    return TxBody("auction.bid", f"n{next(_nonces)}", holds=holds, signers=(bidder,), meta=fields)


SALTS = {1: b"\x01" * 32, 2: b"\x02" * 32, 3: b"\x03" * 32}


def sealed(bidder: str, seq: int, price: int, kg: int, **kw: Any) -> TxBody:
    commitment = bid_commitment("A1", bidder, price, kg, SALTS[seq])
    return bid_body(bidder, commitment=commitment, salt=kw.pop("salt", "registry"), **kw)


def opened(design: AuctionDesign = AuctionDesign.PAY_AS_BID) -> LedgerState:
    s = state()
    run(s, open_body(terms(design)), OPENS - timedelta(hours=1))
    return s


def result_body(
    s: LedgerState, bids: list[tuple[str, int, int]], *, unrevealed: tuple[int, ...] = ()
) -> TxBody:
    """The honest result of the sealed bids (bidder, price, kg), numbered 1, 2, ... as placed."""
    book = s.auctions["A1"]
    revealed, entries = [], []
    for (bidder, price, kg), booked in zip(bids, book.bids, strict=True):
        if booked.seq in unrevealed:
            entries.append(revealed_bid(booked, None, None, None))
            continue
        revealed.append(Bid(bidder, price, kg, booked.seq, booked.at))
        entries.append(revealed_bid(booked, price, kg, SALTS[booked.seq]))
    result = clear_with_caps(book.terms, revealed, book.caps())
    missing = [b for b in book.bids if b.seq in unrevealed]
    meta = result_meta("A1", result, entries, missing)
    ops: list[HoldSettle | HoldPlace] = [HoldSettle("release", "auction:A1", 1_500)]
    winners = result.winners()
    ops += [
        HoldPlace(
            award_hold_id("auction:A1", w),
            f"{BUREAU}.reserve",
            "COD",
            LOT,
            result.awarded_kg(w),
            "auction_award",
            BUREAU,
        )
        for w in winners
    ]
    ops += [
        HoldSettle("release", b.deposit_hold, b.deposit_fen)
        for b in book.bids
        if b.deposit_hold is not None and b.bidder not in winners
    ]
    return TxBody("auction.result", f"n{next(_nonces)}", holds=tuple(ops), signers=(BUREAU,), meta=meta)


def at(minutes: int) -> datetime:
    return OPENS + timedelta(minutes=minutes)


# --- opening --------------------------------------------------------------------------------------


def test_an_open_record_registers_the_auction_and_must_hold_exactly_what_it_offers() -> None:
    s = state()
    with pytest.raises(InvalidInput) as wrong:
        run(s, open_body(terms(), amount=1_000), OPENS)
    assert wrong.value.details["field"] == "body.holds"
    run(s, open_body(terms()), OPENS)
    assert s.auctions["A1"].open
    assert (s.auctions["A1"].bureau, s.auctions["A1"].hold) == (BUREAU, "auction:A1")
    with pytest.raises(DuplicateAuction):  # under another hold: the auction id is taken for good
        run(s, open_body(terms(), hold="auction:A1-again"), OPENS)


def test_rule_set_1_journals_keep_their_auctions_unchecked() -> None:
    s = state(rule_set=1)
    run(s, open_body(terms(), amount=1_000), OPENS)  # would be refused from rule set 2 on
    run(s, bid_body(A, commitment="not checked", salt="?"), OPENS - timedelta(days=9))
    assert s.auctions == {}


# --- bids -----------------------------------------------------------------------------------------


def test_a_sealed_bid_is_signed_by_its_bidder_and_places_the_deposit_once() -> None:
    s = opened()
    effect = run(s, sealed(A, 1, RESERVE, 1_000, deposit=DEPOSIT), at(1))
    assert A in effect.required_signers
    run(s, sealed(A, 2, RESERVE + 10_000, 500), at(2))  # no deposit due: a record that moves nothing
    assert [(b.seq, b.bidder, b.deposit_fen, b.price_fen_per_t) for b in s.auctions["A1"].bids] == [
        (1, A, DEPOSIT, None),  # sealed: the ledger holds the commitment, not the terms
        (2, A, 0, None),
    ]
    with pytest.raises(InvalidInput):  # B's first bid owes its deposit
        run(s, sealed(B, 3, RESERVE, 1_000), at(3))
    with pytest.raises(InvalidInput):  # and exactly it
        run(s, sealed(B, 3, RESERVE, 1_000, deposit=DEPOSIT - 1), at(3))


def test_a_bid_record_is_refused_outside_the_window_past_the_limit_or_from_a_non_enterprise() -> None:
    s = opened()
    with pytest.raises(BidOutsideWindow):
        run(s, sealed(A, 1, RESERVE, 1_000, deposit=DEPOSIT), OPENS - timedelta(seconds=1))
    with pytest.raises(BidOutsideWindow):
        run(s, sealed(A, 1, RESERVE, 1_000, deposit=DEPOSIT), CLOSES)
    with pytest.raises(NotEligible):
        run(s, sealed(BANK, 1, RESERVE, 1_000, deposit=DEPOSIT), at(1))
    with pytest.raises(AuctionNotOpen):
        run(s, sealed(A, 1, RESERVE, 1_000, deposit=DEPOSIT, auction_id="A9"), at(1))
    run(s, sealed(A, 1, RESERVE, 1_000, deposit=DEPOSIT), at(1))
    for i in range(9):
        run(s, sealed(A, 2, RESERVE, 100), at(2 + i))
    with pytest.raises(TooManyBids):  # 网络竞价's limit of 10 bids per bidder, the terms' default
        run(s, sealed(A, 2, RESERVE, 100), at(20))


def test_ascending_bids_are_open_on_the_ladder_and_a_late_bid_extends_the_close() -> None:
    s = opened(AuctionDesign.ASCENDING)
    open_bid = {"price_fen_per_t": RESERVE, "quantity_kg": 1_000}
    run(s, bid_body(A, deposit=DEPOSIT, **open_bid), at(1))
    with pytest.raises(BidNotAnIncrement):  # not one step above the standing bid
        run(s, bid_body(B, deposit=DEPOSIT, price_fen_per_t=RESERVE, quantity_kg=1_000), at(2))
    with pytest.raises(BidBelowStartPrice):
        run(s, bid_body(B, deposit=DEPOSIT, price_fen_per_t=RESERVE - 10_000, quantity_kg=1_000), at(2))
    with pytest.raises(BidExceedsNeed):
        run(
            s,
            bid_body(B, deposit=DEPOSIT, need=500, price_fen_per_t=RESERVE + 10_000, quantity_kg=1_000),
            at(2),
        )
    late = CLOSES + timedelta(minutes=3)  # in the 4-minute timed stage: extends to late + 4 min
    run(s, bid_body(B, deposit=DEPOSIT, price_fen_per_t=RESERVE + 10_000, quantity_kg=1_000), late)
    run(s, bid_body(A, price_fen_per_t=RESERVE + 20_000, quantity_kg=1_000), late + timedelta(minutes=3))
    book = s.auctions["A1"]
    assert [b.price_fen_per_t for b in book.bids] == [RESERVE, RESERVE + 10_000, RESERVE + 20_000]
    # the running figures the next bid is checked against, kept without rescanning the bids
    assert book.closing() == timed_close(book.bids, closes_at=CLOSES, extension=timedelta(minutes=4))  # type: ignore[arg-type]
    assert book.closing() == late + timedelta(minutes=3 + 4)
    assert (book.standing_fen_per_t, book.counts, book.needs) == (
        RESERVE + 20_000,
        {A: 2, B: 1},
        {A: 1_000, B: 1_000},
    )
    assert book.deposits == {A: DEPOSIT, B: DEPOSIT}


# --- results --------------------------------------------------------------------------------------

BIDS = [(A, RESERVE + 30_000, 1_000), (B, RESERVE + 20_000, 1_000), (A, RESERVE + 10_000, 1_000)]


def bid_three(s: LedgerState, salt: str = "registry") -> None:
    run(s, sealed(A, 1, *BIDS[0][1:], deposit=DEPOSIT), at(1))
    run(s, sealed(B, 2, *BIDS[1][1:], deposit=DEPOSIT, salt=salt), at(2))
    run(s, sealed(A, 3, *BIDS[2][1:]), at(3))


def test_the_honest_result_closes_the_auction_and_replay_forgets_its_bids() -> None:
    s = opened()
    bid_three(s)
    body = result_body(s, BIDS)
    assert [(r["seq"], r["reason"]) for r in body.meta["rejected"]] == [(3, "supply_exhausted")]
    with pytest.raises(AuctionNotOver):
        run(s, body, CLOSES - timedelta(microseconds=1))
    run(s, body, CLOSES)
    assert (s.auctions["A1"].open, s.auctions["A1"].bids) == (False, [])
    with pytest.raises(AuctionNotOpen):
        run(s, sealed(A, 1, RESERVE, 1_000), at(5))


def test_a_bid_whose_bidder_kept_the_salt_may_go_unrevealed_but_a_custody_one_may_not() -> None:
    s = opened()
    bid_three(s, salt="bidder")
    body = result_body(s, BIDS, unrevealed=(2,))
    assert {"seq": 2, "bidder": B, "reason": "not_revealed"} in body.meta["rejected"]
    run(s, body, CLOSES)
    s = opened()
    bid_three(s)
    with pytest.raises(AuctionResultMismatch) as hidden:
        run(s, result_body(s, BIDS, unrevealed=(2,)), CLOSES)
    assert hidden.value.details["field"] == "body.meta.bids[1]"


def test_a_result_that_changes_one_award_is_refused_naming_the_field() -> None:
    s = opened()
    bid_three(s)
    body = result_body(s, BIDS)
    meta = dict(
        body.meta,
        allocations=[dict(body.meta["allocations"][0], quantity_kg=900), *body.meta["allocations"][1:]],
    )
    with pytest.raises(AuctionResultMismatch) as refused:
        run(s, TxBody(body.action, body.nonce, holds=body.holds, signers=body.signers, meta=meta), CLOSES)
    assert refused.value.details["field"] == "body.meta.allocations"
    assert s.auctions["A1"].open


def test_an_auction_opened_under_rule_set_1_closes_after_the_upgrade_by_the_old_rules() -> None:
    s = state(rule_set=1)
    run(s, open_body(terms()), OPENS)
    s.rule_set = 2  # a rules.adopt record in between
    release = (HoldSettle("release", "auction:A1", 1_500),)
    other = TxBody("auction.result", "x", holds=release, signers=(BUREAU,), meta={"auction_id": "A2"})
    with pytest.raises(AuctionNotOpen):  # the old auction's hold released in the name of another
        run(s, other, CLOSES)
    legacy = TxBody("auction.result", "y", holds=release, signers=(BUREAU,), meta={"auction_id": "A1"})
    run(s, legacy, CLOSES)  # no book, its lot's hold placed before rule set 2: rule set 1's treatment
    assert s.auctions == {}


def test_a_commitment_binds_the_terms_and_hides_them_behind_the_salt() -> None:
    base = bid_commitment("A1", A, RESERVE, 1_000, SALTS[1])
    assert len(base) == 64
    assert bid_commitment("A1", A, RESERVE + 1, 1_000, SALTS[1]) != base
    assert bid_commitment("A1", B, RESERVE, 1_000, SALTS[1]) != base
    assert bid_commitment("A2", A, RESERVE, 1_000, SALTS[1]) != base
    assert bid_commitment("A1", A, RESERVE, 1_000, SALTS[2]) != base
