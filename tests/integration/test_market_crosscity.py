"""Cross-city transfers (排污权跨地市交易) around the project-demand list (项目需求库), on SQLite and
PostgreSQL: every state change, the one-record settlement, and every refusal with its release.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.errors import PermissionDenied
from ledger.errors import ExpiredUnits, UnitsEncumbered
from ledger.journal import parse_line
from ledger.model import Lot
from ledger.service import find_hold, journal_lines
from market.crosscity.errors import DemandNotMet, InvalidTransferTerms, TransferExpired, TransferStateConflict
from market.crosscity.service import (
    CorridorPolicy,
    DemandStatus,
    TransferRequest,
    TransferStatus,
    accept_transfer,
    approve_transfer,
    city_report,
    expire_transfers,
    get_transfer,
    offer_transfer,
    open_demands,
    open_transfer,
    post_demand,
    reject_transfer,
)
from tests.integration.test_market_pledge import START, VALID, Desk

ZHOUSHAN, NINGBO = "330900", "330200"
PRICE = 2_000_000  # fen per tonne: 20,000 CNY/t


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


def _need(desk: Desk, kg: int = 5_000, *, buyer: str = "ningbo_petro", ceiling: int = PRICE) -> str:
    desk.fund(buyer, 100_000_000)
    demand = desk.call(
        post_demand,
        actor=desk.p(buyer),
        instrument_code="COD",
        quantity_kg=kg,
        max_price_fen_per_tonne=ceiling,
        valid_until=date(2025, 12, 31),
        project="宁波示例石化扩建项目",
    )
    return demand.id


def _offer(
    desk: Desk,
    demand_id: str,
    lot: Lot,
    kg: int,
    *,
    seller: str = "zhoushan_ship",
    policy: CorridorPolicy | None = None,
    hours: int = 48,
) -> TransferRequest:
    req = desk.call(
        open_transfer,
        actor=desk.p(seller),
        demand_id=demand_id,
        lot=lot,
        quantity_kg=kg,
        price_fen_per_tonne=PRICE,
        expires_at=START + timedelta(hours=hours),
        policy=policy or CorridorPolicy(),
    )
    assert req.status is TransferStatus.DRAFT
    return desk.call(offer_transfer, actor=desk.p(seller), request_id=req.id, signed_by=desk.consent(seller))


def _accept(desk: Desk, req: TransferRequest) -> TransferRequest:
    return desk.call(
        accept_transfer,
        actor=desk.p("ningbo_petro"),
        request_id=req.id,
        signed_by=desk.consent("ningbo_petro"),
    )


def _approve(desk: Desk, req: TransferRequest, bureau: str) -> TransferRequest:
    return desk.call(
        approve_transfer, actor=desk.p(bureau), request_id=req.id, signed_by=desk.consent(bureau)
    )


def test_the_demand_list_takes_enterprises_needs_and_shows_the_open_ones(desk: Desk) -> None:
    demand_id = _need(desk)
    with Session(desk.engine) as s:
        listed = open_demands(s, on=START.date(), instrument_code="COD")
        assert [d.id for d in listed] == [demand_id]
        assert listed[0].jurisdiction == NINGBO
        assert open_demands(s, on=date(2026, 1, 1)) == []
    with pytest.raises(PermissionDenied):
        desk.call(
            post_demand,
            actor=desk.p("ningbo"),
            instrument_code="COD",
            quantity_kg=1,
            max_price_fen_per_tonne=1,
            valid_until=date(2025, 12, 31),
            project="reserve top-up",
        )


def test_a_transfer_settles_in_one_record_on_the_last_approval(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 8_000)
    demand_id = _need(desk, 5_000)
    desk.fund("zhoushan_ship", 1)
    seller, buyer = "zhoushan_ship", "ningbo_petro"
    policy = CorridorPolicy(ratio_bp=8_000, fee_bp=100)  # 1.25 t sold per t delivered; 1% fee
    req = _offer(desk, demand_id, lot, 5_000, policy=policy)
    assert (req.status, req.delivered_kg, req.price_fen, req.fee_fen) == (
        TransferStatus.OFFERED,
        4_000,
        8_000_000,
        80_000,
    )
    assert desk.position(f"{desk.party(seller)}.holding", lot) == (8_000, 5_000)
    req = _accept(desk, req)
    assert req.status is TransferStatus.ACCEPTED
    req = _approve(desk, req, "ningbo")
    assert req.status is TransferStatus.ACCEPTED, "one approval settles nothing"
    size = desk.journal_size()
    req = _approve(desk, req, "zhoushan")
    assert req.status is TransferStatus.SETTLED
    assert desk.journal_size() == size + 1
    ningbo_lot = Lot(jurisdiction=NINGBO, valid_until=VALID)
    assert desk.position(f"{desk.party(seller)}.holding", lot) == (3_000, 0)
    assert desk.position(f"{desk.party(buyer)}.holding", ningbo_lot) == (4_000, 0)
    assert desk.position("bureau:330900.cap.COD", lot) == (-16_000 + 5_000, 0)  # Zhoushan's cap shrinks
    assert desk.position("bureau:330200.cap.COD", ningbo_lot) == (-4_000, 0)  # Ningbo's grows
    assert desk.position(f"{desk.party(seller)}.cash", Lot(), "CNY") == (1 + 8_000_000, 0)
    assert desk.position("bureau:330900.cash", Lot(), "CNY") == (80_000, 0)  # the fee, to the source city
    assert desk.position(f"{desk.party(buyer)}.cash", Lot(), "CNY") == (100_000_000 - 8_080_000, 0)
    with Session(desk.engine) as s:
        hold = find_hold(s, hold=f"xfer.{req.id}")
        record = parse_line(next(journal_lines(s, start=size, stop=size + 1)))
        demand = open_demands(s, on=START.date())
    assert hold is not None
    assert hold.status == "captured"
    expected = {desk.party(seller), desk.party(buyer), "bureau:330900", "bureau:330200"}
    assert {sig.party for sig in record.sigs} == expected
    assert set(record.body["signers"]) == expected
    assert [d.remaining_kg for d in demand] == [1_000]
    # The per-city report reads the same figures.
    zs = desk.call(city_report, actor=desk.p("zhoushan"), jurisdiction=ZHOUSHAN, instrument_code="COD")
    assert (zs.cap_kg, zs.reserve_kg, zs.allocated_kg, zs.transferred_out_kg) == (11_000, 8_000, 3_000, 5_000)
    nb = desk.call(city_report, actor=desk.p("province"), jurisdiction=NINGBO, instrument_code="COD")
    assert (nb.cap_kg, nb.allocated_kg, nb.transferred_in_kg, nb.transferred_out_kg) == (
        4_000,
        4_000,
        4_000,
        0,
    )
    with pytest.raises(PermissionDenied):
        desk.call(city_report, actor=desk.p("ningbo_petro"), jurisdiction=NINGBO, instrument_code="COD")


def test_a_bureau_of_neither_side_cannot_approve(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 1_000)
    req = _accept(desk, _offer(desk, _need(desk), lot, 1_000))
    for alias in ("wenzhou", "yuyao", "province"):
        before = desk.snapshot()
        with pytest.raises(PermissionDenied) as err:
            _approve(desk, req, alias)
        assert err.value.rule == "bureau_party_to_cross_city"
        assert desk.snapshot() == before
        with pytest.raises(PermissionDenied):
            desk.call(reject_transfer, actor=desk.p(alias), request_id=req.id, reason="not ours")
    for alias in ("zhoushan_ship", "bank_ningbo"):
        with pytest.raises(PermissionDenied):
            _approve(desk, req, alias)


def test_approval_needs_the_buyers_acceptance_first_and_counts_once(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 1_000)
    req = _offer(desk, _need(desk), lot, 1_000)
    with pytest.raises(TransferStateConflict):
        _approve(desk, req, "ningbo")
    with pytest.raises(PermissionDenied):  # only the buyer accepts
        desk.call(
            accept_transfer,
            actor=desk.p("yuyao_chem"),
            request_id=req.id,
            signed_by=desk.consent("yuyao_chem"),
        )
    req = _accept(desk, req)
    _approve(desk, req, "ningbo")
    with pytest.raises(TransferStateConflict):
        _approve(desk, req, "ningbo")


def test_a_rejection_releases_the_held_units(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 1_000)
    req = _accept(desk, _offer(desk, _need(desk), lot, 1_000))
    req = desk.call(reject_transfer, actor=desk.p("ningbo"), request_id=req.id, reason="项目未通过环评")
    assert (req.status, req.closed_by) == (TransferStatus.REJECTED, "bureau:330200")
    assert desk.position(f"{desk.party('zhoushan_ship')}.holding", lot) == (1_000, 0)
    with pytest.raises(TransferStateConflict):
        _approve(desk, req, "zhoushan")
    # The buyer declining and the seller withdrawing end a request the same way.
    for who in ("ningbo_petro", "zhoushan_ship"):
        req = _offer(desk, _need(desk), lot, 1_000)
        req = desk.call(reject_transfer, actor=desk.p(who), request_id=req.id, reason="changed plans")
        assert req.status is TransferStatus.REJECTED
        assert desk.position(f"{desk.party('zhoushan_ship')}.holding", lot) == (1_000, 0)


def test_settlement_after_expiry_is_refused_and_the_sweep_releases_the_hold(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 1_000)
    req = _accept(desk, _offer(desk, _need(desk), lot, 1_000, hours=24))
    _approve(desk, req, "zhoushan")
    desk.clock.advance(hours=25)
    before = desk.snapshot()
    with pytest.raises(TransferExpired):
        _approve(desk, req, "ningbo")
    assert desk.snapshot() == before
    with Session(desk.engine) as s:
        expired = expire_transfers(s, registry=desk.registry)
        s.commit()
    assert [(r.id, r.status) for r in expired] == [(req.id, TransferStatus.EXPIRED)]
    assert desk.position(f"{desk.party('zhoushan_ship')}.holding", lot) == (1_000, 0)
    with Session(desk.engine) as s:
        assert expire_transfers(s, registry=desk.registry) == []
        hold = find_hold(s, hold=f"xfer.{req.id}")
    assert hold is not None
    assert hold.status == "released"
    assert desk.call(get_transfer, actor=desk.p("ningbo"), request_id=req.id).status is TransferStatus.EXPIRED


def test_offers_must_fit_the_need(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 9_000)
    demand_id = _need(desk, 2_000)
    base = {
        "actor": desk.p("zhoushan_ship"),
        "demand_id": demand_id,
        "lot": lot,
        "expires_at": START + timedelta(days=1),
    }
    with pytest.raises(DemandNotMet):  # above the price ceiling
        desk.call(open_transfer, quantity_kg=1_000, price_fen_per_tonne=PRICE + 1, **base)
    with pytest.raises(DemandNotMet):  # more than the need lacks
        desk.call(open_transfer, quantity_kg=2_001, price_fen_per_tonne=PRICE, **base)
    desk.call(open_transfer, quantity_kg=1_500, price_fen_per_tonne=PRICE, **base)
    with pytest.raises(DemandNotMet):  # an open offer reserves its part of the need
        desk.call(open_transfer, quantity_kg=600, price_fen_per_tonne=PRICE, **base)
    with pytest.raises(InvalidTransferTerms):  # never more than 1:1
        CorridorPolicy(ratio_bp=10_001)
    with pytest.raises(InvalidTransferTerms):  # nothing left to deliver
        desk.call(
            open_transfer,
            quantity_kg=1,
            price_fen_per_tonne=PRICE,
            policy=CorridorPolicy(ratio_bp=9_999),
            **base,
        )
    ningbo_lot = desk.grant("ningbo", "ningbo_petro", 1_000)
    own_city = _need(desk, 100, buyer="ningbo_petro")
    with pytest.raises(InvalidTransferTerms):  # not cross-city
        desk.call(
            open_transfer,
            actor=desk.p("ningbo_petro"),
            demand_id=own_city,
            lot=ningbo_lot,
            quantity_kg=100,
            price_fen_per_tonne=PRICE,
            expires_at=START + timedelta(days=1),
        )
    old = Lot(jurisdiction=ZHOUSHAN, valid_until=date(2025, 5, 31))
    with pytest.raises(ExpiredUnits):
        desk.call(open_transfer, quantity_kg=100, price_fen_per_tonne=PRICE, **{**base, "lot": old})


def test_pledged_units_cannot_be_offered_across_cities(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 1_000)
    desk.pledge("zhoushan_ship", "bank_ningbo", lot, 600)
    req = desk.call(
        open_transfer,
        actor=desk.p("zhoushan_ship"),
        demand_id=_need(desk),
        lot=lot,
        quantity_kg=500,
        price_fen_per_tonne=PRICE,
        expires_at=START + timedelta(days=1),
    )
    before = desk.snapshot()
    with pytest.raises(UnitsEncumbered):
        desk.call(
            offer_transfer,
            actor=desk.p("zhoushan_ship"),
            request_id=req.id,
            signed_by=desk.consent("zhoushan_ship"),
        )
    assert desk.snapshot() == before


def test_a_bureau_offers_from_its_reserve_and_its_offer_counts_as_its_approval(desk: Desk) -> None:
    desk.grant("zhoushan", "zhoushan_ship", 1_000)  # the reserve keeps 1,000 more
    lot = Lot(jurisdiction=ZHOUSHAN, valid_until=VALID)
    req = _accept(desk, _offer(desk, _need(desk), lot, 1_000, seller="zhoushan"))
    assert req.from_account == "bureau:330900.reserve"
    with pytest.raises(TransferStateConflict):
        _approve(desk, req, "zhoushan")
    req = _approve(desk, req, "ningbo")
    assert req.status is TransferStatus.SETTLED
    assert desk.position("bureau:330900.reserve", lot) == (0, 0)
    assert desk.position("bureau:330900.cash", Lot(), "CNY") == (2_000_000, 0)


def test_a_need_filled_is_closed_to_new_offers(desk: Desk) -> None:
    lot = desk.grant("zhoushan", "zhoushan_ship", 2_000)
    demand_id = _need(desk, 1_000)
    req = _approve(
        desk, _approve(desk, _accept(desk, _offer(desk, demand_id, lot, 1_000)), "ningbo"), "zhoushan"
    )
    assert req.status is TransferStatus.SETTLED
    with Session(desk.engine) as s:
        assert open_demands(s, on=START.date()) == []
    with pytest.raises(DemandNotMet):
        desk.call(
            open_transfer,
            actor=desk.p("zhoushan_ship"),
            demand_id=demand_id,
            lot=lot,
            quantity_kg=1,
            price_fen_per_tonne=PRICE,
            expires_at=START + timedelta(days=1),
        )
    assert DemandStatus.FILLED.value == "filled"
