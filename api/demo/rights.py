"""The demo's discharge rights and VOCs quotas: each city's cap (总量控制), paid initial allocations
(有偿使用), a major-project allocation, Zhoushan's VOCs pilot, a buy-back (收储), a trade offer (协议转让).
"""

from __future__ import annotations

from datetime import date
from typing import Final

from api.demo.stage import Stage
from market.issuance import offers as allocation_offers
from market.issuance import service as issuance
from market.issuance.service import BASE_PRICE_FEN_PER_TONNE_YEAR, DEFAULT_TERM_YEARS
from market.reserve import service as reserve
from market.trades import offers as trade_offers
from market.trades import service as trades

__all__ = [
    "OFFER_PRICE_FEN_PER_T",
    "TERM_PRICE_FEN_PER_T",
    "allocate_rights",
    "allocation_offered",
    "buy_back",
    "fund",
    "trade_offered",
    "vocs_pilot",
]

KG_PER_T: Final = 1_000  # quantities below read as tonnes (t/a)

#: A tonne of a 5-year right at the government base price for its whole term: Jinhua
#: 金价价管〔2012〕137号, COD 4,000 CNY per tonne-year x 5 years = 20,000 CNY per tonne. The demo
#: prices new-project rights (auction reserve, cross-city offers) from it.
TERM_PRICE_FEN_PER_T: Final = BASE_PRICE_FEN_PER_TONNE_YEAR["COD"] * DEFAULT_TERM_YEARS

# Caps set by each bureau (t/a), then allocations under them: (bureau, enterprise, instrument, t/a).
CAPS: Final = (
    ("yuyao", "COD", 400),
    ("yuyao", "NH3-N", 40),
    ("ningbo", "COD", 600),
    ("wenzhou", "COD", 300),
    ("wenzhou", "NH3-N", 30),
    ("zhoushan", "COD", 300),
)
INITIAL: Final = (
    ("yuyao", "yuyao_chem", "COD", 80),
    ("yuyao", "yuyao_chem", "NH3-N", 8),
    ("yuyao", "yuyao_paper", "COD", 40),
    ("ningbo", "ningbo_textile", "COD", 30),
    ("wenzhou", "wenzhou_leather", "COD", 45),
    ("wenzhou", "wenzhou_leather", "NH3-N", 4),
    ("zhoushan", "zhoushan_seafood", "COD", 60),
)

# Cash paid in before anyone pays a fee, bids or buys (fen): enough for what each one does below.
FUNDING: Final = {
    "yuyao_chem": 250_000_000,
    "yuyao_paper": 120_000_000,
    "yuyao_dye": 20_000_000,
    "yuyao_mould": 20_000_000,
    "ningbo_textile": 80_000_000,
    "ningbo_petro": 60_000_000,
    "wenzhou_leather": 120_000_000,
    "zhoushan_seafood": 150_000_000,
    "zhoushan_ship": 150_000_000,
    "zhoushan_tank": 120_000_000,
    "zhoushan_coating": 80_000_000,
}


def fund(stage: Stage) -> None:
    stage.deposit(FUNDING)


def allocate_rights(stage: Stage, valid_until: date) -> str:
    """Caps into each reserve, then paid initial allocations at the base prices, and Zhoushan's
    reserved quota (预留指标) for the shipyard's major project (it has no permit yet)."""
    for bureau, instrument, tonnes in CAPS:
        stage.call(
            issuance.set_cap,
            actor=stage.p(bureau),
            instrument=instrument,
            quantity_kg=tonnes * KG_PER_T,
            valid_until=valid_until,
            basis="总量控制 (demo)",
        )
    fees = 0
    for bureau, enterprise, instrument, tonnes in INITIAL:
        done = stage.call(
            issuance.allocate_initial,
            actor=stage.p(bureau),
            enterprise=stage.party(enterprise),
            instrument=instrument,
            quantity_kg=tonnes * KG_PER_T,
            valid_until=valid_until,
        )
        fees += done.fee_fen
    major = stage.call(
        reserve.allocate_to_major_project,
        actor=stage.p("zhoushan"),
        enterprise=stage.party("zhoushan_ship"),
        project="绿色修船基地扩建项目（示例）",
        instrument="COD",
        quantity_kg=50 * KG_PER_T,
        valid_until=valid_until,
    )
    fees += major.fee_fen
    return (
        f"caps in 4 cities; {len(INITIAL)} initial allocations + 1 major project, paid use (有偿使用) "
        f"at base prices x 5 years: {fees // 100:,} CNY"
    )


def vocs_pilot(stage: Stage, valid_until: date) -> str:
    """Zhoushan's VOCs pilot: a VOCs cap, paid allocations at the pilot price (6,000 CNY/t·a, Wuyi and
    Yongkang 2021, as in ``issuance.BASE_PRICE_FEN_PER_TONNE_YEAR``), and a trade to the shipyard,
    whose painting docks need VOCs quota."""
    stage.clock.at(-50, 9)
    stage.call(
        issuance.set_cap,
        actor=stage.p("zhoushan"),
        instrument="VOCS",
        quantity_kg=120 * KG_PER_T,
        valid_until=valid_until,
        basis="舟山市VOCs排放权交易试点 (demo)",
    )
    for enterprise, tonnes in (("zhoushan_tank", 30), ("zhoushan_coating", 20)):
        stage.call(
            issuance.allocate_initial,
            actor=stage.p("zhoushan"),
            enterprise=stage.party(enterprise),
            instrument="VOCS",
            quantity_kg=tonnes * KG_PER_T,
            valid_until=valid_until,
        )
    stage.clock.at(-45, 14)
    # Agreed between the two: the pilot's paid-use price for the 5-year term plus a premium.
    price = BASE_PRICE_FEN_PER_TONNE_YEAR["VOCS"] * DEFAULT_TERM_YEARS + 200_000
    done = stage.call(
        trades.trade,
        actor=stage.p("zhoushan_tank"),
        seller=stage.party("zhoushan_tank"),
        buyer=stage.party("zhoushan_ship"),
        instrument="VOCS",
        valid_until=valid_until,
        quantity_kg=5 * KG_PER_T,
        price_fen_per_t=price,
    )
    return (
        "Zhoushan VOCs pilot: cap 120 t/a, 2 allocations at 6,000 CNY/t·a, "
        f"5 t traded to the shipyard for {done.amount_fen // 100:,} CNY (DvP)"
    )


def buy_back(stage: Stage, valid_until: date) -> str:
    """Wenzhou buys 5 t of COD back into its reserve (收储) at the term price, DvP in one record."""
    stage.clock.at(-10, 10)
    stage.call(
        reserve.buy_back,
        actor=stage.p("wenzhou"),
        enterprise=stage.party("wenzhou_leather"),
        instrument="COD",
        quantity_kg=5 * KG_PER_T,
        valid_until=valid_until,
        amount_fen=5 * TERM_PRICE_FEN_PER_T,
        basis="企业关停生产线，政府收储 (demo)",
    )
    return (
        f"Wenzhou buy-back (收储): 5 t COD from the leather maker for {5 * TERM_PRICE_FEN_PER_T // 100:,} CNY"
    )


#: What 余姚示例化工 asks its neighbour: the price the cross-city offers agree on (22,000 CNY/t).
OFFER_PRICE_FEN_PER_T: Final = TERM_PRICE_FEN_PER_T + 200_000


def trade_offered(stage: Stage, valid_until: date) -> str:
    """余姚示例化工 offers 2 t of its free Yuyao COD to 余姚示例印染 (协议转让) and signs; the dyer has not
    accepted yet, so the offer waits on both trade pages and nothing has moved."""
    stage.clock.at(-1, 16)
    offer = stage.call(
        trade_offers.offer_trade,
        actor=stage.p("yuyao_chem"),
        buyer=stage.party("yuyao_dye"),
        instrument="COD",
        valid_until=valid_until,
        quantity_kg=2 * KG_PER_T,
        price_fen_per_t=OFFER_PRICE_FEN_PER_T,
        signed_by=stage.consent("yuyao_chem"),
    )
    return offer.id


def allocation_offered(stage: Stage, valid_until: date) -> str:
    """余姚分局 offers 余姚示例造纸 10 t/a more COD under its permit for the paid-use fee and signs; the
    mill has not consented yet, so the offer waits on its holdings page and nothing has moved."""
    stage.clock.at(-1, 17)
    offer = stage.call(
        allocation_offers.offer_allocation,
        actor=stage.p("yuyao"),
        enterprise=stage.party("yuyao_paper"),
        instrument="COD",
        quantity_kg=10 * KG_PER_T,
        valid_until=valid_until,
        purpose="initial",
        signed_by=stage.consent("yuyao"),
    )
    return (
        f"paid use offered (有偿使用) {offer.id}: 余姚分局 → 余姚示例造纸, 10 t COD, "
        f"fee {offer.fee_fen // 100:,} CNY, awaiting the mill's consent"
    )
