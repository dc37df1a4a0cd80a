"""The one to-do list (待办) in a real browser: an enterprise whose key is in the registry's custody
accepts a bureau's buy-back offer (收储) and declines a trade offer alone, from /console/todo; rights
and cash move in one record for the first, nothing for the second. Screenshots saved as artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, balances, new_nonce, replay_database, submit
from market.consent import Consent
from market.reserve.offers import offer_buy_back
from market.trades.offers import offer_trade
from tests.browser.conftest import Served
from tests.browser.world import VALID_UNTIL, fund

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LOT = Lot(jurisdiction="330281", valid_until=VALID_UNTIL)


def _total(served: Served, alias: str, kind: str, instrument: str) -> int:
    with Session(served.world.engine) as s:
        account = f"{served.world.party(alias)}.{kind}"
        return sum(b.total for b in balances(s, account=account) if b.instrument == instrument)


def _offers(served: Served) -> tuple[str, str]:
    """Rights for both enterprises, cash for the bureau; a buy-back offer to yuyao_dye and a trade
    offer from yuyao_chem to it, each signed by its proposer."""
    world = served.world
    yuyao, chem, dye = (world.demo[a] for a in ("yuyao", "yuyao_chem", "yuyao_dye"))
    with Session(world.engine) as s:
        for who in (chem, dye):
            body = TxBody(
                "allocation.initial",
                new_nonce(),
                (
                    Posting(f"{yuyao.party}.reserve", "COD", LOT, -3_000),
                    Posting(f"{who.party}.holding", "COD", LOT, 3_000),
                ),
            )
            submit(s, Instruction.signed(body, (yuyao.party, yuyao.key)), registry=world.registry)
        fund(s, world.registry, world.demo, "yuyao", 5_000_000)
        now = world.registry.clock()
        buy_back = offer_buy_back(
            s,
            actor=yuyao.participant,
            enterprise=dye.party,
            instrument="COD",
            quantity_kg=1_000,
            valid_until=VALID_UNTIL,
            amount_fen=2_000_000,
            signed_by=Consent({yuyao.party: yuyao.key}),
            now=now,
        )
        trade = offer_trade(
            s,
            actor=chem.participant,
            buyer=dye.party,
            instrument="COD",
            valid_until=VALID_UNTIL,
            quantity_kg=500,
            price_fen_per_t=2_000_000,
            signed_by=Consent({chem.party: chem.key}),
            now=now,
        )
        s.commit()
    return buy_back.id, trade.id


def test_a_custody_enterprise_accepts_a_buy_back_and_declines_a_trade_offer_from_its_to_do_list(
    browser: Any, served: Served, shots: Path
) -> None:
    buy_back, trade = _offers(served)
    units, cash = _total(served, "yuyao_dye", "holding", "COD"), _total(served, "yuyao_dye", "cash", "CNY")
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    base = served.base
    page.goto(f"{base}/console/login")
    page.fill("input[name=access_key]", served.world.tokens["yuyao_dye"])
    with page.expect_navigation():
        page.click("form[action='/console/login'] button")
    page.goto(f"{base}/console/todo")
    awaiting = page.inner_text("#awaiting")
    assert "收储要约" in awaiting
    assert "排污权交易报价" in awaiting
    page.screenshot(path=str(shots / "todo-01-awaiting.png"), full_page=True)

    with page.expect_navigation():
        page.click(f"#awaiting tr[data-proposal='{buy_back}'] button[data-step='sign']")
    assert f"已签署事项 {buy_back}" in page.inner_text(".flash")
    assert _total(served, "yuyao_dye", "holding", "COD") == units - 1_000
    assert _total(served, "yuyao_dye", "cash", "CNY") == cash + 2_000_000

    with page.expect_navigation():
        page.click(f"#awaiting tr[data-proposal='{trade}'] button[data-step='reject']")
    assert f"已驳回事项 {trade}" in page.inner_text(".flash")
    assert _total(served, "yuyao_dye", "holding", "COD") == units - 1_000
    assert "暂无事项" in page.inner_text("#awaiting")
    page.screenshot(path=str(shots / "todo-02-done.png"), full_page=True)
    context.close()
    with Session(served.world.engine) as s:
        report, _diff = replay_database(s)
    assert report.ok, report.failure
