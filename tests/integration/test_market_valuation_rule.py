"""The valuation of a pledge (docs/valuation.md) on SQLite and PostgreSQL: the registry's reference is
the 90-day volume-weighted price of the right's trades and auction settlements in its city, else the
published reference; the bank's own appraisal values it where lower; both are in the signed record,
and a registration that does not use the lower of the two is refused (the rule replay runs)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from ledger.errors import InvalidPledgeRegistration
from ledger.model import Lot
from ledger.pledge_terms import Appraised
from ledger.prices import market_price
from ledger.service import Instruction, submit
from market.pledges.record import registration_body
from market.pledges.service import get_pledge, party_names
from market.pledges.valuation import PriceSource
from market.trades.service import trade_body
from tests.integration.test_market_pledge import Desk


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


def _trade(desk: Desk, lot: Lot, kg: int, price_fen_per_t: int) -> None:
    body = trade_body(
        seller=desk.party("yuyao_chem"),
        buyer=desk.party("yuyao_dye"),
        instrument="COD",
        lot=lot,
        quantity_kg=kg,
        price_fen_per_t=price_fen_per_t,
    )
    with desk.session() as s:
        signed = Instruction.signed(
            body, *[(desk.party(a), desk.key(a)) for a in ("yuyao_chem", "yuyao_dye")]
        )
        submit(s, signed, registry=desk.registry)


def test_the_reference_is_the_90_day_volume_weighted_price_of_trades_in_the_city(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 5_000)
    desk.fund("yuyao_dye", 10_000_000)
    _trade(desk, lot, 1_000, 2_000_000)  # 1 t at 20,000 CNY/t
    desk.clock.advance(days=10)
    _trade(desk, lot, 500, 2_600_000)  # 0.5 t at 26,000 CNY/t
    with desk.session() as s:
        found = market_price(s, instrument="COD", jurisdiction="330281", until=desk.clock.now)
        assert found is not None
        assert (found.volume_kg, found.amount_fen, found.records) == (1_500, 3_300_000, 2)
        assert found.price_fen_per_tonne == 2_200_000  # (20,000 + 13,000) CNY / 1.5 t
        assert market_price(s, instrument="COD", jurisdiction="330200", until=desk.clock.now) is None
        assert market_price(s, instrument="NH3N", jurisdiction="330281", until=desk.clock.now) is None
        later = desk.clock.now + timedelta(days=91)
        assert market_price(s, instrument="COD", jurisdiction="330281", until=later) is None

    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 1_000)
    assert p.appraisal is not None
    assert (p.appraisal.source, p.appraisal.price_fen_per_tonne) == (PriceSource.MARKET, 2_200_000)
    assert (p.appraisal.reference_fen_per_tonne, p.appraisal.bank_fen_per_tonne) == (2_200_000, None)


def test_the_banks_own_lower_appraisal_values_the_pledge_and_both_are_signed(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 5_000)
    desk.fund("yuyao_dye", 10_000_000)
    _trade(desk, lot, 1_000, 2_500_000)
    bank_price = 1_900_000  # the bank's own: 19,000 CNY/t
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 1_000, loan_fen=1_000, bank_price=bank_price)
    assert p.appraisal is not None
    assert (p.appraisal.source, p.appraisal.price_fen_per_tonne, p.appraisal.value_fen) == (
        PriceSource.BANK,
        bank_price,
        1_900_000,
    )
    assert (p.appraisal.reference_fen_per_tonne, p.appraisal.reference_source) == (
        2_500_000,
        PriceSource.MARKET,
    )
    with desk.session() as s:
        body = registration_body(p, names=party_names(s, p))
    assert body.meta["appraisal"] == {
        "price_fen_per_tonne": bank_price,
        "source": "bank",
        "value_fen": 1_900_000,
        "max_ltv_bp": 8_000,
        "reference_fen_per_tonne": 2_500_000,
        "reference_source": "market",
        "bank_fen_per_tonne": bank_price,
    }
    # a higher appraisal by the bank changes nothing: the registry's lower reference values it
    p2 = desk.pledge("yuyao_chem", "bank_yuyao", lot, 1_000, loan_fen=1_000, bank_price=9_000_000)
    assert p2.appraisal is not None
    assert (p2.appraisal.source, p2.appraisal.price_fen_per_tonne) == (PriceSource.MARKET, 2_500_000)


@pytest.mark.parametrize(
    ("price", "source"),
    [(2_500_000, "market"), (1_900_000, "market"), (2_500_000, "bank")],
)
def test_a_registration_that_does_not_use_the_lower_price_is_refused(price: int, source: str) -> None:
    signed = {
        "price_fen_per_tonne": price,
        "source": source,
        "value_fen": price,
        "max_ltv_bp": 8_000,
        "reference_fen_per_tonne": 2_500_000,
        "reference_source": "market",
        "bank_fen_per_tonne": 1_900_000,
    }
    with pytest.raises(InvalidPledgeRegistration) as err:
        Appraised.parse(signed)
    assert err.value.details["field"] == "meta.appraisal.price_fen_per_tonne"
    honest = {**signed, "price_fen_per_tonne": 1_900_000, "source": "bank"}
    assert Appraised.parse(honest).bank_fen_per_tonne == 1_900_000
    legacy = {k: honest[k] for k in ("price_fen_per_tonne", "value_fen", "max_ltv_bp")} | {
        "source": "reference"
    }
    assert Appraised.parse(legacy).reference_fen_per_tonne is None  # records before #20 stay valid


def test_the_pledge_read_back_keeps_both_prices(desk: Desk) -> None:
    lot = desk.grant("yuyao", "yuyao_chem", 2_000)
    p = desk.pledge("yuyao_chem", "bank_yuyao", lot, 1_000, loan_fen=1_000, bank_price=1_000_000)
    again = desk.call(get_pledge, actor=desk.p("bank_yuyao"), pledge_id=p.id)
    assert again.appraisal == p.appraisal
    assert replace(again, status=p.status) == p
