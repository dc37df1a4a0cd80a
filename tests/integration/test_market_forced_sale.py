"""The end of a default (拍卖处置) on SQLite and PostgreSQL: the bank enforces and puts the rights up for
a forced auction; each winner's payment settles bank first (principal and interest), the rest to the
enterprise, in one record; replay agrees, and refuses a registry-sealed record that pays otherwise."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from accounts.errors import PermissionDenied
from ledger.auction_errors import AuctionResultMismatch
from ledger.forced_sale import claim_cap
from ledger.journal import parse_line, seal
from ledger.model import Lot, Posting, TxBody
from ledger.pledge_terms import PledgeLoan
from ledger.replay import replay_lines
from ledger.service import Instruction, find_claim, journal_lines, replay_database, sign_body, submit
from market.auctions import forced, settlement
from market.auctions import service as auctions
from market.auctions.model import AuctionDesign, AuctionTerms, FixedDeposit
from market.auctions.state import AuctionStatus, get_auction
from market.pledges.default import claim_now, start_forced_auction
from market.pledges.errors import PledgeStateConflict
from market.pledges.service import PledgeStatus, enforce_pledge, get_pledge
from market.trades.errors import InvalidTrade
from market.trades.service import trade
from tests.integration.test_market_pledge import Desk


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


KG = 1_000  # 1 t COD pledged for a loan of 1,000,000 fen (10,000 CNY) at 3.85% from START


def _terms(
    desk: Desk,
    auction_id: str,
    kg: int,
    lot: Lot,
    price_fen_per_t: int = 1_000_000,
    design: AuctionDesign = AuctionDesign.PAY_AS_BID,
) -> AuctionTerms:
    now = desk.clock.now
    ascending = design is AuctionDesign.ASCENDING
    return AuctionTerms(
        auction_id=auction_id,
        instrument="COD",
        jurisdiction=lot.jurisdiction or "",
        quantity_kg=kg,
        reserve_price_fen_per_t=price_fen_per_t,
        design=design,
        opens_at=now,
        closes_at=now + timedelta(hours=2),
        deposit_rule=FixedDeposit(10_000),
        max_bids_per_bidder=None if ascending else 10,
        increment_fen_per_t=10_000 if ascending else None,
    )


def _defaulted(desk: Desk) -> tuple[str, Lot]:
    lot = desk.grant("yuyao", "yuyao_chem", 2 * KG)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, KG)
    desk.clock.advance(days=73)  # 73 days of interest: 1,000,000 x 3.85% x 73/365 = 7,700 fen
    return p.id, lot


def _sell(
    desk: Desk,
    pledge_id: str,
    lot: Lot,
    bids: dict[str, tuple[int, int]],
    *,
    auction_id: str = "FS-1",
    kg: int = KG,
    starter: str = "bank_yuyao",
    design: AuctionDesign = AuctionDesign.PAY_AS_BID,
) -> None:
    """``starter`` starts a forced auction of ``kg``, takes ``bids`` (alias -> (fen per t, kg)), closes it."""
    desk.call(
        start_forced_auction,
        actor=desk.p(starter),
        signed_by=desk.consent(starter),
        pledge_id=pledge_id,
        terms=_terms(desk, auction_id, kg, lot, design=design),
        reason="逾期未还 loan overdue",
        now=desk.clock.now,
    )
    for alias, (price, wanted) in bids.items():
        desk.fund(alias, 5_000_000)
        desk.call(
            auctions.register_need,
            actor=desk.p("yuyao"),
            enterprise=desk.party(alias),
            instrument="COD",
            approved_kg=wanted,
            project=f"{alias} new line",
            now=desk.clock.now,
        )
        desk.clock.advance(minutes=1)
        desk.call(
            auctions.place_bid,
            actor=desk.p(alias),
            signed_by=desk.consent(alias),
            auction_id=auction_id,
            price_fen_per_t=price,
            quantity_kg=wanted,
            now=desk.clock.now,
        )
    desk.clock.advance(hours=3)
    desk.call(
        settlement.close_auction,
        actor=desk.p("yuyao"),
        signed_by=desk.consent("yuyao"),
        auction_id=auction_id,
        now=desk.clock.now,
    )


def _settle(desk: Desk, alias: str, auction_id: str = "FS-1") -> None:
    desk.call(
        settlement.settle_award,
        actor=desk.p("yuyao"),
        signed_by=desk.consent("yuyao") + desk.consent(alias),
        auction_id=auction_id,
        bidder=desk.party(alias),
        now=desk.clock.now,
    )


def _cash(desk: Desk, alias: str) -> int:
    return desk.position(f"{desk.party(alias)}.cash", Lot(), "CNY")[0]


def test_the_interest_of_a_claim_is_simple_actual_over_365_rounded_down() -> None:
    loan = PledgeLoan("L", 1_000_000, 385, 12, date(2025, 6, 1))
    assert claim_cap(loan, date(2025, 8, 13)) == (1_000_000, 7_700)
    assert claim_cap(loan, date(2025, 6, 1)) == (1_000_000, 0)
    assert claim_cap(loan, date(2025, 5, 1)) == (1_000_000, 0)  # never negative
    assert claim_cap(PledgeLoan("L", 999, 1, 12, date(2025, 6, 1)), date(2025, 6, 2)) == (999, 0)


def test_a_forced_auction_pays_the_bank_first_then_the_enterprise_each_in_one_record(desk: Desk) -> None:
    pledge_id, lot = _defaulted(desk)
    bank, owner = f"{desk.party('bank_yuyao')}.holding", f"{desk.party('yuyao_chem')}.holding"
    bank_before, owner_before = _cash(desk, "bank_yuyao"), _cash(desk, "yuyao_chem")
    # 600 kg sold at 12,000 CNY/t: 720,000 fen, all to the bank (1,007,700 owed)
    _sell(desk, pledge_id, lot, {"yuyao_dye": (1_200_000, 600)})
    p = desk.call(get_pledge, actor=desk.p("bank_yuyao"), pledge_id=pledge_id)
    assert (p.status, p.held_kg, p.enforced_kg, p.claim_fen) == (
        PledgeStatus.FORCED_AUCTION,
        0,
        KG,
        1_007_700,
    )
    assert desk.position(owner, lot) == (KG, 0)  # the pledged 1,000 kg left the enterprise at enforcement
    assert desk.position(bank, lot) == (KG, 600)  # 600 held for the award, 400 unsold and free again
    _settle(desk, "yuyao_dye")
    assert (_cash(desk, "bank_yuyao") - bank_before, _cash(desk, "yuyao_chem") - owner_before) == (720_000, 0)
    # the unsold 400 kg in a second forced auction, at 11,000 CNY/t: 440,000 fen, the claim fixed by the first
    desk.clock.advance(days=30)
    _sell(desk, pledge_id, lot, {"yuyao_dye": (1_100_000, 400)}, auction_id="FS-2", kg=400)
    _settle(desk, "yuyao_dye", "FS-2")
    assert _cash(desk, "bank_yuyao") - bank_before == 1_007_700  # principal and interest, no more
    assert _cash(desk, "yuyao_chem") - owner_before == 720_000 + 440_000 - 1_007_700
    assert desk.position(f"{desk.party('yuyao_dye')}.holding", lot) == (KG, 0)
    assert desk.position(bank, lot) == (0, 0)
    with desk.session() as s:
        claim = find_claim(s, pledge=pledge_id)
        assert claim is not None
        assert (claim.claim_fen, claim.recovered_fen, claim.outstanding_fen) == (1_007_700, 1_007_700, 0)
        assert get_auction(s, auction_id="FS-2").status is AuctionStatus.SETTLED
        report, diff = replay_database(s)
        assert report.ok, report.failure
        assert not diff


def test_only_the_pledgee_bank_starts_a_forced_auction_and_never_on_a_released_pledge(desk: Desk) -> None:
    pledge_id, lot = _defaulted(desk)
    with pytest.raises(PermissionDenied):
        desk.call(
            start_forced_auction,
            actor=desk.p("bank_ningbo"),
            signed_by=desk.consent("bank_ningbo"),
            pledge_id=pledge_id,
            terms=_terms(desk, "FS-X", KG, lot),
            reason="not mine",
            now=desk.clock.now,
        )
    assert (
        desk.call(get_pledge, actor=desk.p("bank_yuyao"), pledge_id=pledge_id).status is PledgeStatus.ACTIVE
    )


def test_a_bank_never_sells_enforced_rights_bilaterally(desk: Desk) -> None:
    pledge_id, lot = _defaulted(desk)
    _sell(desk, pledge_id, lot, {"yuyao_dye": (1_200_000, 600)})  # 400 kg unsold stay with the bank
    assert desk.position(f"{desk.party('bank_yuyao')}.holding", lot)[0] == KG
    with pytest.raises(InvalidTrade, match="forced auction"):
        desk.call(
            trade,
            actor=desk.p("bank_yuyao"),
            signed_by=desk.consent("bank_yuyao"),
            seller=desk.party("bank_yuyao"),
            buyer=desk.party("yuyao_dye"),
            instrument="COD",
            valid_until=lot.valid_until,
            quantity_kg=400,
            price_fen_per_t=1_000_000,
        )


def test_replay_refuses_a_forced_settlement_that_pays_the_enterprise_before_the_bank_is_whole(
    desk: Desk,
) -> None:
    pledge_id, lot = _defaulted(desk)
    _sell(desk, pledge_id, lot, {"yuyao_dye": (1_200_000, 600)})
    with desk.session() as s:
        auction = get_auction(s, auction_id="FS-1")
        award = auction.result.award(desk.party("yuyao_dye")) if auction.result else None
        assert award is not None
        honest = settlement._settlement_body(s, auction, award)
        lines = list(journal_lines(s))
    # the same payment, split 500,000 to the bank and 220,000 to the enterprise while 1,007,700 is owed
    postings = [p for p in honest.postings if p.instrument != "CNY" or p.amount < 0]
    postings += [
        Posting(f"{desk.party('bank_yuyao')}.cash", "CNY", Lot(), 500_000),
        Posting(f"{desk.party('yuyao_chem')}.cash", "CNY", Lot(), 220_000),
    ]
    forged = TxBody(
        honest.action,
        honest.nonce,
        tuple(postings),
        holds=honest.holds,
        signers=honest.signers,
        meta=honest.meta,
    )
    last = parse_line(lines[-1])
    sigs = [sign_body(forged, desk.party(a), desk.key(a)) for a in ("yuyao", "yuyao_dye")]
    record = seal(
        seq=last.seq + 1,
        prev=last.hash,
        time=last.time + timedelta(seconds=1),
        body=forged.to_json(),
        sigs=sigs,
        registry=desk.registry.key,
    )
    failure = replay_lines([*lines, record.line()]).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (record.seq, "movement_not_allowed"), failure
    assert failure.evidence.get("to_bank_fen") == 720_000
    # and the honest record replays
    assert replay_lines(lines).failure is None


def _forge_after(desk: Desk, lines: list[str], forged: TxBody, *signers: str) -> str:
    """``forged`` sealed by the registry after ``lines``, signed by ``signers`` (aliases): a record a
    dishonest operator could write, which replay must refuse by the rules alone."""
    last = parse_line(lines[-1])
    sigs = [sign_body(forged, desk.party(a), desk.key(a)) for a in signers]
    return seal(
        seq=last.seq + 1,
        prev=last.hash,
        time=last.time + timedelta(seconds=1),
        body=forged.to_json(),
        sigs=sigs,
        registry=desk.registry.key,
    ).line()


def test_replay_refuses_a_forced_settlement_whose_payment_differs_from_the_recorded_award(
    desk: Desk,
) -> None:
    pledge_id, lot = _defaulted(desk)
    _sell(desk, pledge_id, lot, {"yuyao_dye": (1_200_000, 600)})  # awarded 600 kg for 720,000 fen
    with desk.session() as s:
        auction = get_auction(s, auction_id="FS-1")
        award = auction.result.award(desk.party("yuyao_dye")) if auction.result else None
        assert award is not None
        assert award.amount_fen == 720_000
        honest = settlement._settlement_body(s, auction, award)
        lines = list(journal_lines(s))
    # the winner pays 100,000 fen less, all of it to the bank: a split that is right for what is paid
    cheap = [p for p in honest.postings if p.instrument != "CNY"]
    cheap += [
        Posting(f"{desk.party('yuyao_dye')}.cash", "CNY", Lot(), -620_000),
        Posting(f"{desk.party('bank_yuyao')}.cash", "CNY", Lot(), 620_000),
    ]
    deposit = [op for op in honest.holds if op.hold == award.hold]  # the rights; the deposit stays held
    forged = TxBody(
        honest.action,
        honest.nonce,
        tuple(cheap),
        holds=tuple(deposit),
        signers=honest.signers,
        meta={**honest.meta, "amount_fen": 620_000, "to_bank_fen": 620_000},
    )
    record = _forge_after(desk, lines, forged, "yuyao", "yuyao_dye")
    failure = replay_lines([*lines, record]).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (parse_line(record).seq, "auction_result_mismatch"), failure
    assert (failure.evidence.get("paid_fen"), failure.evidence.get("due_fen")) == (620_000, 720_000)
    # the live ledger refuses the same body
    signed = Instruction.signed(forged, *((desk.party(a), desk.key(a)) for a in ("yuyao", "yuyao_dye")))
    with desk.session() as s, pytest.raises(AuctionResultMismatch):
        submit(s, signed, registry=desk.registry)


def test_replay_refuses_a_forced_settlement_that_states_a_split_it_does_not_pay(desk: Desk) -> None:
    pledge_id, lot = _defaulted(desk)
    _sell(desk, pledge_id, lot, {"yuyao_dye": (1_200_000, 600)})
    with desk.session() as s:
        auction = get_auction(s, auction_id="FS-1")
        award = auction.result.award(desk.party("yuyao_dye")) if auction.result else None
        assert award is not None
        honest = settlement._settlement_body(s, auction, award)
        lines = list(journal_lines(s))
    # the payment is right, but the record tells a reader the enterprise got 20,000 fen of it
    forged = TxBody(
        honest.action,
        honest.nonce,
        honest.postings,
        holds=honest.holds,
        signers=honest.signers,
        meta={**honest.meta, "to_bank_fen": 700_000, "to_enterprise_fen": 20_000},
    )
    record = _forge_after(desk, lines, forged, "yuyao", "yuyao_dye")
    failure = replay_lines([*lines, record]).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (parse_line(record).seq, "movement_not_allowed"), failure


def _enforce(desk: Desk, pledge_id: str) -> None:
    desk.call(
        enforce_pledge, actor=desk.p("bank_yuyao"), signed_by=desk.consent("bank_yuyao"), pledge_id=pledge_id
    )


def test_the_bureau_starts_the_forced_sale_of_rights_the_bank_enforced_under_an_ascending_design(
    desk: Desk,
) -> None:
    pledge_id, lot = _defaulted(desk)
    with pytest.raises(PledgeStateConflict, match="enforces it before"):
        desk.call(
            start_forced_auction,
            actor=desk.p("yuyao"),
            signed_by=desk.consent("yuyao"),
            pledge_id=pledge_id,
            terms=_terms(desk, "FS-EARLY", KG, lot),
            reason="未执行 not enforced yet",
            now=desk.clock.now,
        )
    _enforce(desk, pledge_id)
    with pytest.raises(PermissionDenied):  # another city's bureau
        desk.call(
            start_forced_auction,
            actor=desk.p("ningbo"),
            signed_by=desk.consent("ningbo"),
            pledge_id=pledge_id,
            terms=_terms(desk, "FS-X", KG, lot),
            reason="not ours",
            now=desk.clock.now,
        )
    bank_before, owner_before = _cash(desk, "bank_yuyao"), _cash(desk, "yuyao_chem")
    # 1,000 kg at 11,000 CNY/t = 1,100,000 fen: 1,007,700 to the bank, 92,300 to the enterprise
    _sell(
        desk, pledge_id, lot, {"yuyao_dye": (1_100_000, KG)}, starter="yuyao", design=AuctionDesign.ASCENDING
    )
    _settle(desk, "yuyao_dye")
    assert _cash(desk, "bank_yuyao") - bank_before == 1_007_700
    assert _cash(desk, "yuyao_chem") - owner_before == 92_300
    with desk.session() as s:
        auction = get_auction(s, auction_id="FS-1")
        assert (auction.terms.design, auction.status) == (AuctionDesign.ASCENDING, AuctionStatus.SETTLED)
        p = get_pledge(s, actor=desk.p("yuyao"), pledge_id=pledge_id)
        assert (p.status, p.claim_fen, p.closed_by) == (
            PledgeStatus.FORCED_AUCTION,
            1_007_700,
            desk.party("yuyao"),
        )
        report, diff = replay_database(s)
        assert report.ok, report.failure
        assert not diff


def test_replay_refuses_a_forced_auction_the_bureau_opened_before_the_bank_enforced(desk: Desk) -> None:
    pledge_id, lot = _defaulted(desk)
    other = desk.pledge("yuyao_chem", "bank_yuyao", lot, KG)  # the lot's other tonne, to the same bank
    _enforce(desk, other.id)  # the bank's holding now has 1,000 kg of the lot, from the other pledge
    with desk.session() as s:
        claim = claim_now(s, pledge_id=pledge_id, on=desk.clock.now)
        lines = list(journal_lines(s))
    assert lot.valid_until is not None
    # the bureau sells them as if for the first pledge, which the bank never enforced
    terms = _terms(desk, "FS-F", KG, lot)
    forged = forced._body(
        terms, lot.valid_until, claim, desk.party("yuyao"), timedelta(days=5), starter=desk.party("yuyao")
    )
    record = _forge_after(desk, lines, forged, "yuyao")
    failure = replay_lines([*lines, record]).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (parse_line(record).seq, "movement_not_allowed"), failure
    assert failure.evidence.get("field") == "body.signers", failure
