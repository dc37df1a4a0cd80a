"""Yuyao's online bidding (网络竞价) of new-project rights in the demo: needs approved, one auction bid,
closed, its signed result and DvP settlement; a second one left open for a person to bid in live.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from api.demo.rights import KG_PER_T, TERM_PRICE_FEN_PER_T
from api.demo.stage import BEIJING, Stage
from market.auctions import service as auctions
from market.auctions import settlement as auction_settlement
from market.auctions.model import QUZHOU_DEPOSIT, AuctionDesign, AuctionTerms
from market.issuance.service import BASE_PRICE_FEN_PER_TONNE_YEAR

__all__ = ["LIVE_AUCTION", "SETTLED_AUCTION", "live_auction", "settled_auction"]

SETTLED_AUCTION: Final = "YY-COD-001"
LIVE_AUCTION: Final = "YY-COD-002"

# Yuyao ran 138 new-project trades by online bidding for about 2.7 million CNY in a year (DESIGN.md,
# from the bureau's report): about 19,600 CNY a trade, i.e. about a tonne at the term price. The
# demo's lots are that size, with the reserve (底价) at the term price.
NEEDS: Final = (  # (enterprise, kg, project)
    ("yuyao_chem", 1_200, "年产5000吨助剂扩建项目（示例）"),
    ("yuyao_dye", 1_500, "新建数码印花生产线（示例）"),
    ("yuyao_mould", 1_000, "精密模具新厂区项目（示例）"),
    ("yuyao_paper", 1_000, "包装纸技改项目（示例）"),
)
BIDS: Final = (  # (enterprise, fen per tonne, kg, minutes after the window opens)
    ("yuyao_dye", 2_180_000, 1_500, 5),
    ("yuyao_chem", 2_350_000, 1_200, 12),
    ("yuyao_paper", 2_040_000, 1_000, 20),
    ("yuyao_mould", 2_160_000, 1_000, 31),
    ("yuyao_dye", 2_280_000, 1_000, 47),  # a second, higher bid: up to 10 each
)


def _terms(auction_id: str, kg: int, opens_at: datetime, closes_at: datetime) -> AuctionTerms:
    return AuctionTerms(
        auction_id=auction_id,
        instrument="COD",
        jurisdiction="330281",
        quantity_kg=kg,
        reserve_price_fen_per_t=TERM_PRICE_FEN_PER_T,
        design=AuctionDesign.ONLINE_BIDDING,
        opens_at=opens_at,
        closes_at=closes_at,
        deposit_rule=QUZHOU_DEPOSIT,  # 10% x base price x quantity x 5 years
        base_price_fen_per_t=BASE_PRICE_FEN_PER_TONNE_YEAR["COD"],
    )


def settled_auction(stage: Stage, valid_until: date) -> str:
    """Needs approved (项目需求), the auction opened from the reserve, bids with deposits (保证金), the
    close with its signed result (top 70% of bidders win, each at its own bids), then DvP."""
    yuyao = stage.p("yuyao")
    stage.clock.at(-42, 10)
    for enterprise, kg, project in NEEDS:
        stage.call(
            auctions.register_need,
            actor=yuyao,
            enterprise=stage.party(enterprise),
            instrument="COD",
            approved_kg=kg,
            project=project,
        )
    stage.clock.at(-38, 9)
    opens, closes = stage.clock.moment(-35, 9), stage.clock.moment(-35, 11)
    terms = _terms(SETTLED_AUCTION, 3_500, opens, closes)
    stage.call(auctions.open_auction, actor=yuyao, terms=terms, valid_until=valid_until)
    for enterprise, price, kg, minutes in BIDS:
        stage.clock.at(-35, 9, minutes)
        stage.call(
            auctions.place_bid,
            actor=stage.p(enterprise),
            auction_id=SETTLED_AUCTION,
            price_fen_per_t=price,
            quantity_kg=kg,
        )
    stage.clock.at(-35, 11, 5)
    closed = stage.call(auction_settlement.close_auction, actor=yuyao, auction_id=SETTLED_AUCTION)
    stage.clock.at(-33, 15)
    settled = stage.call(auction_settlement.settle_auction, actor=yuyao, auction_id=SETTLED_AUCTION)
    failed = [bidder for bidder, out in settled.items() if isinstance(out, Exception)]
    if failed:
        raise RuntimeError(f"demo auction settlement refused for {failed}")
    result = closed.result
    assert result is not None
    return (
        f"Yuyao 网络竞价 {SETTLED_AUCTION}: {result.sold_kg / KG_PER_T:.1f} t COD, 4 bidders, "
        f"{len(settled)} won (top 70%), settled DvP for {result.revenue_fen // 100:,} CNY"
    )


def live_auction(stage: Stage, valid_until: date) -> str:
    """A second auction opened yesterday and closing two days from the real start: two bids are in,
    and 余姚示例化工 has an approved need and no bid yet, so a person can bid as it in the console."""
    yuyao = stage.p("yuyao")
    stage.clock.at(-1, 9)
    stage.call(
        auctions.register_need,
        actor=yuyao,
        enterprise=stage.party("yuyao_chem"),
        instrument="COD",
        approved_kg=1_000,
        project="助剂项目二期（示例）",
    )
    # two days after the demo starts, on the next full hour: real time, so the console takes bids
    closes = (stage.clock.start + timedelta(days=2, hours=1)).replace(minute=0, second=0, microsecond=0)
    terms = _terms(LIVE_AUCTION, 2_000, stage.clock.moment(-1, 10), closes)
    stage.call(auctions.open_auction, actor=yuyao, terms=terms, valid_until=valid_until)
    for enterprise, price, kg, (hour, minute) in (
        ("yuyao_paper", 2_100_000, 1_000, (14, 0)),
        ("yuyao_mould", 2_060_000, 200, (15, 30)),
    ):
        stage.clock.at(-1, hour, minute)
        stage.call(
            auctions.place_bid,
            actor=stage.p(enterprise),
            auction_id=LIVE_AUCTION,
            price_fen_per_t=price,
            quantity_kg=kg,
        )
    local = terms.closes_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    return (
        f"Yuyao 网络竞价 {LIVE_AUCTION}: 2 t COD OPEN until {local} Beijing, 2 bids in; "
        "bid live as 余姚示例化工 (need 1 t)"
    )
