"""Buy-back offers (收储要约) and the expiry watch, on SQLite and PostgreSQL: an offer moves nothing until
the enterprise signs, then rights and price move in one record; rights near or past their validity
are listed per city to the bureaus that may read them, and to no one else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from accounts.errors import PermissionDenied
from ledger.errors import InsufficientBalance, UnitsEncumbered
from ledger.journal import parse_line
from ledger.service import journal_lines
from market.expiry.watch import expiry_watch
from market.issuance.errors import NotInJurisdiction
from market.proposals.errors import ProposalClosed, UnknownProposal
from market.reserve.offers import (
    accept_buy_back,
    buy_back_offers_of,
    offer_buy_back,
    withdraw_buy_back,
)
from market.trades.offers import OfferStatus
from tests.integration.test_market_pledge import START, VALID, Desk


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


def _offer(desk: Desk, kg: int = 1_000, amount_fen: int = 2_000_000, enterprise: str = "yuyao_chem") -> str:
    offer = desk.call(
        offer_buy_back,
        actor=desk.p("yuyao"),
        enterprise=desk.party(enterprise),
        instrument="COD",
        quantity_kg=kg,
        valid_until=VALID,
        amount_fen=amount_fen,
        basis="余环〔2025〕收储 1 号",
        signed_by=desk.consent("yuyao"),
        now=desk.clock(),
    )
    return offer.id


def test_an_accepted_buy_back_moves_rights_and_price_in_one_record(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 3_000)
    desk.fund("yuyao", 10_000_000)
    holding, reserve = f"{desk.party('yuyao_chem')}.holding", f"{desk.party('yuyao')}.reserve"
    reserve_before = desk.position(reserve, lot)[0]
    size = desk.journal_size()
    offer_id = _offer(desk)
    assert desk.journal_size() == size  # an offer is a signature kept, not a record
    (pending,) = desk.call(buy_back_offers_of, actor=desk.p("yuyao_chem"), status=OfferStatus.PENDING)
    assert (pending.id, pending.quantity_kg, pending.price_fen_per_t) == (offer_id, 1_000, 2_000_000)
    receipt = desk.call(
        accept_buy_back,
        actor=desk.p("yuyao_chem"),
        offer_id=offer_id,
        signed_by=desk.consent("yuyao_chem"),
        now=desk.clock(),
    )
    assert desk.journal_size() == size + 1
    assert desk.position(holding, lot) == (2_000, 0)
    assert desk.position(reserve, lot)[0] == reserve_before + 1_000
    with desk.session() as s:
        (line,) = journal_lines(s, start=receipt.seq, stop=receipt.seq + 1)
    record = parse_line(line)
    assert record.body["action"] == "reserve.buy_back"
    assert {sig.party for sig in record.sigs} == {desk.party("yuyao"), desk.party("yuyao_chem")}
    (done,) = desk.call(buy_back_offers_of, actor=desk.p("yuyao"))
    assert (done.status, done.buy_back_seq, done.closed_by) == (
        OfferStatus.ACCEPTED,
        receipt.seq,
        desk.party("yuyao_chem"),
    )
    with pytest.raises(ProposalClosed):
        desk.call(
            accept_buy_back,
            actor=desk.p("yuyao_chem"),
            offer_id=offer_id,
            signed_by=desk.consent("yuyao_chem"),
            now=desk.clock(),
        )


def test_only_the_enterprise_accepts_and_either_side_withdraws(desk: Desk) -> None:
    desk.grant("yuyao", "yuyao_chem", 2_000)
    desk.fund("yuyao", 10_000_000)
    offer_id = _offer(desk)
    with pytest.raises(UnknownProposal):  # not a party: the offer does not exist for it
        desk.call(
            accept_buy_back,
            actor=desk.p("yuyao_dye"),
            offer_id=offer_id,
            signed_by=desk.consent("yuyao_dye"),
            now=START,
        )
    with pytest.raises(PermissionDenied):  # the bureau cannot consent in the enterprise's name
        desk.call(
            accept_buy_back,
            actor=desk.p("yuyao"),
            offer_id=offer_id,
            signed_by=desk.consent("yuyao"),
            now=START,
        )
    declined = desk.call(withdraw_buy_back, actor=desk.p("yuyao_chem"), offer_id=offer_id, now=desk.clock())
    assert (declined.status, declined.closed_by) == (OfferStatus.WITHDRAWN, desk.party("yuyao_chem"))
    withdrawn = desk.call(withdraw_buy_back, actor=desk.p("yuyao"), offer_id=_offer(desk), now=desk.clock())
    assert withdrawn.status is OfferStatus.WITHDRAWN


def test_an_offer_beyond_what_is_free_or_of_another_city_is_refused(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 1_000)
    desk.pledge("yuyao_chem", "bank_yuyao", lot, 600)
    with pytest.raises(InsufficientBalance) as refused:
        _offer(desk, kg=500)
    assert refused.value.details["available"] == 400
    with pytest.raises(NotInJurisdiction):
        _offer(desk, enterprise="ningbo_petro")
    offer_id = _offer(desk, kg=400)
    desk.pledge("yuyao_chem", "bank_yuyao", lot, 400)  # the free units are pledged meanwhile
    desk.fund("yuyao", 10_000_000)
    with pytest.raises(UnitsEncumbered):  # the ledger refuses on acceptance; the offer stays
        desk.call(
            accept_buy_back,
            actor=desk.p("yuyao_chem"),
            offer_id=offer_id,
            signed_by=desk.consent("yuyao_chem"),
            now=desk.clock(),
        )
    (still,) = desk.call(buy_back_offers_of, actor=desk.p("yuyao"), status=OfferStatus.PENDING)
    assert still.id == offer_id


def test_the_expiry_watch_lists_rights_near_or_past_their_end_to_their_bureaus(desk: Desk) -> None:
    soon = (START + timedelta(days=30)).date()
    later = (START + timedelta(days=400)).date()
    desk.grant("yuyao", "yuyao_chem", 1_000, until=soon)
    desk.grant("yuyao", "yuyao_dye", 2_000, until=later)
    desk.grant("zhoushan", "zhoushan_ship", 3_000, until=soon)
    today = START.date()
    lines = desk.call(expiry_watch, actor=desk.p("yuyao"), on=today, within_days=90)
    mine = {(x.account, x.valid_until, x.total_kg, x.days_left) for x in lines}
    assert (f"{desk.party('yuyao_chem')}.holding", soon, 1_000, 30) in mine
    assert (f"{desk.party('yuyao')}.reserve", soon, 1_000, 30) in mine  # the reserve's half of the grant
    assert all(x.jurisdiction == "330281" for x in lines)  # not Zhoushan's: not this bureau's to read
    assert all(x.valid_until != later for x in lines)
    assert not any(x.expired for x in lines)
    past = desk.call(expiry_watch, actor=desk.p("yuyao"), on=soon + timedelta(days=3), within_days=0)
    assert {(x.account, x.days_left) for x in past if x.account.endswith(".holding")} == {
        (f"{desk.party('yuyao_chem')}.holding", -3)
    }
    assert all(x.expired for x in past)
    assert desk.call(expiry_watch, actor=desk.p("yuyao_dye"), on=today, within_days=90) == []
    zhoushan = desk.call(expiry_watch, actor=desk.p("zhoushan"), on=today, within_days=90)
    assert {x.jurisdiction for x in zhoushan} == {"330900"}
