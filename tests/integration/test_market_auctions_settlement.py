"""Settlement of auctions through the services on SQLite and PostgreSQL: delivery versus payment in one
record per winner, deposits (保证金) captured or released, and forfeiture by a winner who cannot pay."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.errors import PermissionDenied
from ledger.auction_errors import AuctionResultMismatch
from ledger.errors import DomainError, InsufficientBalance, MissingSignature
from ledger.journal import parse_line, seal
from ledger.replay import replay_lines
from ledger.service import Instruction, Registry, find_hold, journal_lines, replay_database, submit
from market.auctions import settlement as auction_settlement
from market.auctions.errors import AwardNotPending, PaymentOverdue, PaymentWindowOpen, UnknownAward
from market.auctions.model import AuctionDesign, FixedDeposit, payment_fen
from market.auctions.needs import open_needs
from market.auctions.state import AuctionStatus, AwardStatus
from market.consent import Consent, submit_consented
from tests.integration.test_market_auctions_world import (
    BUREAU,
    CLOSE,
    RESERVE_FEN_PER_T,
    World,
    minutes,
    terms,
)

P = RESERVE_FEN_PER_T
DUE = CLOSE + timedelta(days=5)  # the default payment window runs from the close
CHEM_FUNDS = 10_000_000


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry)
    w.reserve(10_000)
    w.need("yuyao_chem", 2_000)
    w.need("yuyao_dye", 2_000)
    w.fund("yuyao_chem", CHEM_FUNDS)
    return w


def _records(w: World, action: str) -> list[dict[str, Any]]:
    with Session(w.engine) as s:
        bodies = [json.loads(line)["record"]["body"] for line in journal_lines(s)]
    return [b for b in bodies if b.get("action") == action]


def _settle(
    w: World, alias: str, *, by: str = "yuyao", signed_by: Consent | None = None, at: Any = None
) -> Any:
    return w.run(
        auction_settlement.settle_award,
        actor=w.p(by),
        auction_id="A1",
        bidder=w.party(alias),
        now=CLOSE + timedelta(hours=1) if at is None else at,
        **({} if signed_by is None else {"signed_by": signed_by}),
    )


def test_settlement_moves_rights_and_money_in_one_record_signed_by_both(world: World) -> None:
    chem = world.party("yuyao_chem")
    world.open(terms(quantity_kg=1_500))
    placed = world.bid("yuyao_chem", P + 40_000, 1_200, minutes(5))
    closed = world.close()
    assert closed.result is not None
    (award,) = closed.result.awards
    amount = payment_fen(1_200, P)  # uniform and undersold: the reserve price clears
    assert (award.quantity_kg, award.amount_fen, award.deposit_fen) == (1_200, amount, 100_000)
    assert world.position(f"{BUREAU}.reserve", "COD") == (10_000, 1_200)  # the award hold
    assert world.position(f"{chem}.cash") == (CHEM_FUNDS, 100_000)  # the deposit in escrow

    settled = _settle(world, "yuyao_chem")
    assert settled.status is AwardStatus.SETTLED
    assert world.position(f"{chem}.holding", "COD") == (1_200, 0)
    assert world.position(f"{chem}.cash") == (CHEM_FUNDS - amount, 0)
    assert world.position(f"{BUREAU}.cash") == (amount, 0)
    assert world.position(f"{BUREAU}.reserve", "COD") == (10_000 - 1_200, 0)
    assert world.auction().status is AuctionStatus.SETTLED
    (record,) = _records(world, "auction.settle")
    assert record["meta"] == {
        "auction_id": "A1",
        "bidder": chem,
        "quantity_kg": 1_200,
        "price_fen_per_t": P,
        "amount_fen": amount,
    }
    assert record["signers"] == [BUREAU, chem]
    assert {(h["op"], h["hold"], h["amount"]) for h in record["holds"]} == {
        ("capture", f"auction:A1:award:{chem}", 1_200),
        ("capture", placed.deposit_hold, 100_000),
    }
    assert len(record["postings"]) == 4  # rights and cash legs together: delivery versus payment


def test_a_deposit_above_the_price_is_released_at_settlement(world: World) -> None:
    chem = world.party("yuyao_chem")
    world.open(terms(quantity_kg=100, deposit_rule=FixedDeposit(500_000)))
    placed = world.bid("yuyao_chem", P, 100, minutes(5))
    world.close()
    _settle(world, "yuyao_chem", signed_by=Consent(world.keys_of("yuyao", "yuyao_chem")))
    assert world.position(f"{chem}.cash") == (CHEM_FUNDS - payment_fen(100, P), 0)
    assert placed.deposit_hold is not None
    with Session(world.engine) as s:
        hold = find_hold(s, hold=placed.deposit_hold)
    assert hold is not None
    assert (hold.status, hold.amount) == ("released", 0)


def test_settlement_needs_the_winner_and_the_bureau_to_sign(world: World) -> None:
    world.open(terms())
    world.bid("yuyao_chem", P, 1_000, minutes(5))
    world.close()
    before = world.snapshot()
    with pytest.raises(MissingSignature) as err:
        _settle(world, "yuyao_chem", signed_by=Consent(world.keys_of("yuyao")))
    assert err.value.details["missing"] == [world.party("yuyao_chem")]
    with pytest.raises(PermissionDenied):
        _settle(world, "yuyao_chem", by="yuyao_dye")
    with pytest.raises(PermissionDenied):
        _settle(world, "yuyao_chem", by="ningbo")
    assert world.snapshot() == before
    # the bureau signed the payment proposal when it closed: the winner's key alone completes it
    paid = _settle(world, "yuyao_chem", by="yuyao_chem", signed_by=Consent(world.keys_of("yuyao_chem")))
    assert paid.status is AwardStatus.SETTLED
    (record,) = _records(world, "auction.settle")
    assert record["signers"] == [BUREAU, world.party("yuyao_chem")]
    with pytest.raises(AwardNotPending):
        _settle(world, "yuyao_chem")
    with pytest.raises(UnknownAward):
        _settle(world, "yuyao_dye")


def test_a_winner_who_cannot_pay_forfeits_its_deposit_and_blocks_nobody(world: World) -> None:
    chem, dye = world.party("yuyao_chem"), world.party("yuyao_dye")
    world.fund("yuyao_dye", 150_000)  # the deposit, and not the price of 1 t
    world.open(terms(quantity_kg=2_000, design=AuctionDesign.PAY_AS_BID))
    world.bid("yuyao_chem", P + 10_000, 1_000, minutes(1))
    world.bid("yuyao_dye", P, 1_000, minutes(2))
    world.close()
    chem_due = payment_fen(1_000, P + 10_000)

    outcome = world.run(
        auction_settlement.settle_auction, actor=world.p("yuyao"), auction_id="A1", now=minutes(90)
    )
    assert outcome[chem].status is AwardStatus.SETTLED
    assert isinstance(outcome[dye], InsufficientBalance)
    assert world.position(f"{dye}.cash") == (150_000, 100_000)  # nothing moved for the defaulter

    with pytest.raises(PaymentWindowOpen):
        world.run(
            auction_settlement.forfeit_award,
            actor=world.p("yuyao"),
            auction_id="A1",
            bidder=dye,
            now=minutes(90),
        )
    with pytest.raises(PaymentOverdue):
        _settle(world, "yuyao_dye", at=DUE)
    with pytest.raises(PermissionDenied):
        world.run(
            auction_settlement.forfeit_award, actor=world.p("ningbo"), auction_id="A1", bidder=dye, now=DUE
        )
    forfeited = world.run(
        auction_settlement.forfeit_award, actor=world.p("yuyao"), auction_id="A1", bidder=dye, now=DUE
    )
    assert forfeited.status is AwardStatus.FORFEITED
    assert world.position(f"{dye}.cash") == (50_000, 0)  # the whole deposit is gone
    assert world.position(f"{dye}.holding", "COD") == (0, 0)
    assert world.position(f"{BUREAU}.cash") == (chem_due + 100_000, 0)
    assert world.position(f"{BUREAU}.reserve", "COD") == (9_000, 0)  # the defaulter's 1 t is free again
    assert world.auction().status is AuctionStatus.SETTLED
    (record,) = _records(world, "auction.forfeit")
    assert record["meta"] == {
        "auction_id": "A1",
        "bidder": dye,
        "quantity_kg": 1_000,
        "forfeited_fen": 100_000,
    }
    assert record["signers"] == [BUREAU]
    # a forfeited award gives the project need back for the next auction; a settled one uses it up
    later = terms(auction_id="A2", quantity_kg=500, opens_at=DUE, closes_at=DUE + timedelta(hours=1))
    world.open(later, now=DUE)
    with Session(world.engine) as s:
        left = {n.bidder: n.approved_kg for n in open_needs(s, world.auction("A2"))}
    assert left == {chem: 1_000, dye: 2_000}


def test_a_winner_filled_at_several_prices_settles_the_exact_sum(world: World) -> None:
    chem = world.party("yuyao_chem")
    world.open(terms(quantity_kg=1_000, design=AuctionDesign.PAY_AS_BID))
    world.bid("yuyao_chem", P + 1, 333, minutes(1))
    world.bid("yuyao_chem", P + 7, 667, minutes(2))
    world.close()
    _settle(world, "yuyao_chem")
    (record,) = _records(world, "auction.settle")
    exact = payment_fen(333, P + 1) + payment_fen(667, P + 7)
    assert record["meta"]["amount_fen"] == exact
    assert record["meta"]["price_fen_per_t"] == (333 * (P + 1) + 667 * (P + 7) + 500) // 1_000
    assert world.position(f"{chem}.cash") == (CHEM_FUNDS - exact, 0)


def test_a_fault_after_one_winners_record_undoes_that_record_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    chem, dye = world.party("yuyao_chem"), world.party("yuyao_dye")
    world.fund("yuyao_dye", 10_000_000)
    world.open(terms(quantity_kg=2_000))
    world.bid("yuyao_chem", P, 1_000, minutes(1))
    world.bid("yuyao_dye", P, 1_000, minutes(2))
    world.close()
    real = submit_consented

    def faulty(session: Session, **kwargs: Any) -> Any:
        receipt = real(session, **kwargs)
        if kwargs["body"].meta["bidder"] == dye:
            raise DomainError("injected fault after the settlement record was written")
        return receipt

    monkeypatch.setattr("market.auctions.dvp.submit_consented", faulty)
    outcome = world.run(
        auction_settlement.settle_auction, actor=world.p("yuyao"), auction_id="A1", now=minutes(90)
    )
    assert outcome[chem].status is AwardStatus.SETTLED
    assert isinstance(outcome[dye], DomainError)
    assert [r["meta"]["bidder"] for r in _records(world, "auction.settle")] == [chem]
    assert world.position(f"{dye}.cash") == (10_000_000, 100_000)  # its savepoint rolled back
    result = world.auction().result
    assert result is not None
    assert result.award(dye).status is AwardStatus.PENDING  # type: ignore[union-attr]
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok
    assert diff == {}


def test_a_settlement_paying_other_than_the_award_is_refused_live_and_by_replay(world: World) -> None:
    """P10: the price a winner pays is the result's on the journal, checked by the ledger's rule, not
    only by the workflow that builds the record."""
    chem = world.party("yuyao_chem")
    world.open(terms(quantity_kg=1_500))
    world.bid("yuyao_chem", P + 40_000, 1_200, minutes(5))
    closed = world.close()
    assert closed.result is not None
    (award,) = closed.result.awards
    with Session(world.engine) as s:
        honest = auction_settlement._settlement_body(s, closed, award)
        lines = list(journal_lines(s))
    cut = 100_000  # the winner pays 1,000 CNY less, the bureau is credited as much less: balanced
    postings = tuple(
        replace(p, amount=p.amount + (cut if p.amount < 0 else -cut)) if p.instrument == "CNY" else p
        for p in honest.postings
    )
    forged = replace(honest, postings=postings)
    signed = Instruction.signed(
        forged, *((world.party(a), world.people[a].key) for a in ("yuyao", "yuyao_chem"))
    )
    with Session(world.engine) as s, pytest.raises(AuctionResultMismatch) as refused:
        submit(s, signed, registry=world.registry)
    assert (refused.value.details["paid_fen"], refused.value.details["due_fen"]) == (
        award.amount_fen - cut,
        award.amount_fen,
    )
    last = parse_line(lines[-1])
    record = seal(
        seq=last.seq + 1,
        prev=last.hash,
        time=last.time + timedelta(seconds=1),
        body=forged.to_json(),
        sigs=list(signed.signatures),
        registry=world.registry.key,
    )
    failure = replay_lines([*lines, record.line()]).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (record.seq, "auction_result_mismatch"), failure
    assert world.position(f"{chem}.cash") == (CHEM_FUNDS, 100_000)  # nothing was paid
    assert _settle(world, "yuyao_chem").status is AwardStatus.SETTLED  # the honest one still settles
