"""The demo's pledge loans with two banks (排污权抵质押) and Zhoushan–Ningbo cross-city transfers from the
project-demand list (项目需求库), each left at a different step so every role has something to see or do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from api.demo.rights import KG_PER_T, TERM_PRICE_FEN_PER_T
from api.demo.stage import Stage
from ledger.model import Lot
from market.crosscity import service as crosscity
from market.pledges import service as pledge

__all__ = [
    "Pledges",
    "cross_city_awaiting",
    "cross_city_settled",
    "pledge_application",
    "pledges_confirmed",
    "release_part",
]

# Yuyao lent 55 million CNY and Zhoushan about 75 million CNY on pledged rights in a year (DESIGN.md,
# from the bureaus' reports); the demo shows two such loans. No uniform-price auction has cleared a
# price in these cities (网络竞价 has no single one), so the banks appraise at the reference price,
# Shaoxing's about 17,000 CNY/t (market.pledges.valuation), and lend at most 80% of it: 60 t secure at most
# 816,000 CNY, 50 t at most 680,000 CNY.
LPR_BP: Final = 385  # a loan rate in basis points a year (3.85%), the demo's figure


@dataclass(frozen=True, slots=True)
class Pledges:
    active: str
    partly_released: str


def _pledge(stage: Stage, enterprise: str, bank: str, lot: Lot, tonnes: int) -> str:
    applied = stage.call(
        pledge.apply_for_pledge,
        actor=stage.p(enterprise),
        bank=stage.party(bank),
        instrument_code="COD",
        lot=lot,
        quantity_kg=tonnes * KG_PER_T,
    )
    return applied.id


def _through_confirmation(
    stage: Stage,
    pledge_id: str,
    parties: tuple[str, str, str],
    *,
    day: int,
    loan_fen: int,
    cert: str,
    loan_id: str,
) -> None:
    """Steps 2 to 4 on the next days: the bureau approves the quantity on its electronic certificate,
    the bank records the loan (checked against the appraisal), the owner confirms and the hold is placed."""
    owner, bank, bureau = parties
    stage.clock.at(day + 1, 10)
    approved = stage.call(
        pledge.approve_pledge,
        actor=stage.p(bureau),
        pledge_id=pledge_id,
        approved_kg=stage.call(pledge.get_pledge, actor=stage.p(bureau), pledge_id=pledge_id).applied_kg,
        certificate_no=cert,
        signed_by=stage.consent(bureau),
    )
    stage.clock.at(day + 2, 11)
    stage.call(
        pledge.record_loan,
        actor=stage.p(bank),
        pledge_id=approved.id,
        loan_id=loan_id,
        amount_fen=loan_fen,
        rate_bp=LPR_BP,
        term_months=36,
        signed_by=stage.consent(bank),
    )
    stage.clock.at(day + 2, 16)
    stage.call(
        pledge.confirm_pledge, actor=stage.p(owner), pledge_id=pledge_id, signed_by=stage.consent(owner)
    )


def pledges_confirmed(stage: Stage, valid_until: date) -> Pledges:
    """余姚示例化工 pledges 60 t COD to 示例银行余姚支行 for 800,000 CNY; 舟山示例船舶修造 pledges its 50 t
    to 示例银行宁波分行 for 650,000 CNY. Both confirmed: the units are held for the banks."""
    yuyao_lot = Lot(jurisdiction="330281", valid_until=valid_until)
    zhoushan_lot = Lot(jurisdiction="330900", valid_until=valid_until)
    stage.clock.at(-32, 9)
    first = _pledge(stage, "yuyao_chem", "bank_yuyao", yuyao_lot, 60)
    parties = ("yuyao_chem", "bank_yuyao", "yuyao")
    # Certificate numbers as the bureaus write them (余姚/舟山 排污权质押 register numbers): any script.
    _through_confirmation(
        stage,
        first,
        parties,
        day=-32,
        loan_fen=80_000_000,
        cert="余排污质〔2026〕第018号",
        loan_id="YY-LN-2026-018",
    )
    stage.clock.at(-28, 9)
    second = _pledge(stage, "zhoushan_ship", "bank_ningbo", zhoushan_lot, 50)
    parties = ("zhoushan_ship", "bank_ningbo", "zhoushan")
    _through_confirmation(
        stage,
        second,
        parties,
        day=-28,
        loan_fen=65_000_000,
        cert="舟排污质〔2026〕第007号",
        loan_id="NB-LN-2026-007",
    )
    return Pledges(first, second)


def release_part(stage: Stage, pledges: Pledges) -> None:
    """The shipyard repays part of its loan; the bank releases 20 t (部分解押)."""
    stage.clock.at(-8, 10)
    stage.call(
        pledge.release_pledge,
        actor=stage.p("bank_ningbo"),
        pledge_id=pledges.partly_released,
        signed_by=stage.consent("bank_ningbo"),
        quantity_kg=20 * KG_PER_T,
    )


def pledge_application(stage: Stage, valid_until: date) -> str:
    """余姚示例造纸 applies to pledge 30 t to 示例银行宁波分行: waiting for the Yuyao bureau's approval."""
    stage.clock.at(-2, 15)
    return _pledge(
        stage, "yuyao_paper", "bank_ningbo", Lot(jurisdiction="330281", valid_until=valid_until), 30
    )


def _offer(
    stage: Stage, *, day: int, tonnes: int, project: str, valid_until: date
) -> crosscity.TransferRequest:
    """宁波示例石化 posts a need on the demand list (ceiling 25,000 CNY/t); the next day 舟山示例水产加工
    offers rights against it at 22,000 CNY/t (a little above the term price) and signs, and the day
    after the buyer accepts. The corridor is 1:1 with no fee: the demo assumes no published ratio."""
    stage.clock.at(day, 9)
    demand = stage.call(
        crosscity.post_demand,
        actor=stage.p("ningbo_petro"),
        instrument_code="COD",
        quantity_kg=tonnes * KG_PER_T,
        max_price_fen_per_tonne=TERM_PRICE_FEN_PER_T * 5 // 4,
        valid_until=stage.clock.date_at(day + 60),
        project=project,
    )
    stage.clock.at(day + 1, 10)
    opened = stage.call(
        crosscity.open_transfer,
        actor=stage.p("zhoushan_seafood"),
        demand_id=demand.id,
        lot=Lot(jurisdiction="330900", valid_until=valid_until),
        quantity_kg=tonnes * KG_PER_T,
        price_fen_per_tonne=TERM_PRICE_FEN_PER_T + 200_000,
        expires_at=stage.clock() + timedelta(days=30),
    )
    seller, buyer = stage.p("zhoushan_seafood"), stage.p("ningbo_petro")
    stage.call(
        crosscity.offer_transfer,
        actor=seller,
        request_id=opened.id,
        signed_by=stage.consent("zhoushan_seafood"),
    )
    stage.clock.at(day + 2, 10)
    return stage.call(
        crosscity.accept_transfer, actor=buyer, request_id=opened.id, signed_by=stage.consent("ningbo_petro")
    )


def _approve(stage: Stage, bureau: str, request_id: str) -> crosscity.TransferRequest:
    return stage.call(
        crosscity.approve_transfer,
        actor=stage.p(bureau),
        request_id=request_id,
        signed_by=stage.consent(bureau),
    )


def cross_city_settled(stage: Stage, valid_until: date) -> str:
    """10 t of COD from Zhoushan to Ningbo: both bureaus approve and it settles in one record
    (Zhoushan's cap shrinks, Ningbo's grows, the buyer pays)."""
    req = _offer(stage, day=-17, tonnes=10, project="烯烃扩建项目（示例）", valid_until=valid_until)
    stage.clock.at(-14, 10)
    _approve(stage, "zhoushan", req.id)
    stage.clock.at(-13, 15)
    settled = _approve(stage, "ningbo", req.id)
    assert settled.status is crosscity.TransferStatus.SETTLED
    return settled.id


def cross_city_awaiting(stage: Stage, valid_until: date) -> str:
    """A second 6 t for the project's second phase: Zhoushan approved, Ningbo's approval pending."""
    req = _offer(stage, day=-6, tonnes=6, project="烯烃扩建项目二期（示例）", valid_until=valid_until)
    stage.clock.at(-2, 10)
    return _approve(stage, "zhoushan", req.id).id
