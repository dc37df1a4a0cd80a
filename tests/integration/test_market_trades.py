"""Bilateral trades through the service on SQLite and PostgreSQL: delivery versus payment in one record
that seller and buyer both sign, and every refusal leaving the ledger unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.errors import PermissionDenied
from ledger.errors import InsufficientBalance, MissingSignature, UnitsEncumbered
from ledger.model import Posting, TxBody
from ledger.service import Instruction, Registry, journal_lines, new_nonce, submit
from market.auctions.model import payment_fen
from market.consent import Consent
from market.trades.errors import CrossJurisdictionTrade, InvalidTrade
from market.trades.service import trade
from tests.integration.test_market_auctions_world import ALIASES, BUREAU, LOT, VALID_UNTIL, World
from tests.pledge_support import pledge_registration

PRICE = 1_700_000  # 17,000 CNY per tonne: what Shaoxing's banks valued a tonne of rights at


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry, aliases=(*ALIASES, "bank_yuyao"))  # the bank takes a pledge
    w.reserve(10_000)
    _allocate(w, "yuyao_chem", 5_000)
    w.fund("yuyao_dye", 10_000_000)
    return w


def _allocate(w: World, alias: str, kg: int) -> None:
    body = TxBody(
        "allocation.initial",
        new_nonce(),
        (Posting(f"{BUREAU}.reserve", "COD", LOT, -kg), Posting(f"{w.party(alias)}.holding", "COD", LOT, kg)),
    )
    with Session(w.engine) as s:
        submit(s, Instruction.signed(body, (BUREAU, w.people["yuyao"].key)), registry=w.registry)
        s.commit()


def _trade(w: World, kg: int = 2_000, *, by: str = "yuyao_chem", **kwargs: Any) -> Any:
    values: dict[str, Any] = {
        "actor": w.p(by),
        "seller": w.party("yuyao_chem"),
        "buyer": w.party("yuyao_dye"),
        "instrument": "COD",
        "valid_until": VALID_UNTIL,
        "quantity_kg": kg,
        "price_fen_per_t": PRICE,
    }
    values.update(kwargs)
    return w.run(trade, **values)


def test_a_trade_is_delivery_versus_payment_in_one_record(world: World) -> None:
    chem, dye = world.party("yuyao_chem"), world.party("yuyao_dye")
    done = _trade(world, 2_000)
    amount = payment_fen(2_000, PRICE)
    assert done.amount_fen == amount == 3_400_000
    assert world.position(f"{chem}.holding", "COD") == (3_000, 0)
    assert world.position(f"{dye}.holding", "COD") == (2_000, 0)
    assert world.position(f"{chem}.cash") == (amount, 0)
    assert world.position(f"{dye}.cash") == (10_000_000 - amount, 0)
    with Session(world.engine) as s:
        lines = [json.loads(line)["record"] for line in journal_lines(s)]
    (record,) = [r for r in lines if r["body"].get("action") == "trade"]
    assert record["seq"] == done.seq
    assert record["body"]["signers"] == [chem, dye]
    assert {sig["party"] for sig in record["sigs"]} == {chem, dye}
    assert record["body"]["meta"]["amount_fen"] == amount


def test_either_party_submits_but_both_must_sign(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(MissingSignature) as err:
        _trade(world, signed_by=Consent(world.keys_of("yuyao_chem")))
    assert err.value.details["missing"] == [world.party("yuyao_dye")]
    with pytest.raises(MissingSignature):
        _trade(world, by="yuyao_dye", signed_by=Consent(world.keys_of("yuyao_dye")))
    with pytest.raises(PermissionDenied):
        _trade(world, by="ningbo_petro")
    with pytest.raises(PermissionDenied):
        _trade(world, by="yuyao")  # the bureau is not a party to the trade
    assert world.snapshot() == before
    _trade(world, by="yuyao_dye")
    assert world.position(f"{world.party('yuyao_dye')}.holding", "COD") == (2_000, 0)


def test_nothing_moves_when_either_leg_fails(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(InsufficientBalance):
        _trade(world, 6_000)  # more rights than the seller holds
    with pytest.raises(InsufficientBalance):
        _trade(world, 5_000, price_fen_per_t=10_000_000)  # 50,000 CNY: more cash than the buyer has
    assert world.snapshot() == before


def test_units_under_a_hold_cannot_be_sold(world: World) -> None:
    chem = world.party("yuyao_chem")
    bank = world.people["bank_yuyao"]
    pledge = pledge_registration(
        "t1",
        account=f"{chem}.holding",
        lot_kg=(LOT, 4_000),
        enterprise=chem,
        bank=bank.party,
        bureau=BUREAU,
        bureau_key=world.people["yuyao"].key,
        start=world.registry.clock().date(),
    )
    with Session(world.engine) as s:
        signed = Instruction.signed(pledge, (chem, world.people["yuyao_chem"].key), (bank.party, bank.key))
        submit(s, signed, registry=world.registry)
        s.commit()
    before = world.snapshot()
    with pytest.raises(UnitsEncumbered):
        _trade(world, 2_000)
    assert world.snapshot() == before
    _trade(world, 1_000)  # the free part still trades


def test_a_trade_stays_within_one_jurisdiction_between_enterprises(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(CrossJurisdictionTrade):
        _trade(world, buyer=world.party("ningbo_petro"))
    with pytest.raises(InvalidTrade):
        _trade(world, buyer=world.party("yuyao_chem"))
    with pytest.raises(InvalidTrade):
        _trade(world, by="yuyao", seller=BUREAU)  # the reserve is sold by auction, not by trade
    with pytest.raises(InvalidTrade):
        _trade(world, instrument="BC")
    with pytest.raises(InvalidTrade):
        _trade(world, 1, price_fen_per_t=1)  # worth less than one fen
    assert world.snapshot() == before
