"""A person's path through the console in a real browser: the Yuyao bureau opens an auction, two
enterprises bid, it closes and settles, and a pledge goes through its four steps to a bank; with
screenshots of every step saved as test artifacts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlmodel import Session

from ledger.service import balances
from tests.browser.conftest import Served
from tests.browser.world import VALID_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one world, in order

LOT = f"j=330281;u={VALID_UNTIL.isoformat()}"


class Person:
    """One person in their own browser context (own cookies), logged in with their access key."""

    def __init__(self, browser: Any, served: Served, alias: str, shots: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.base, self.alias, self.shots = served.base, alias, shots
        self.page.goto(f"{self.base}/console/login")
        self.page.fill("input[name=access_key]", served.world.tokens[alias])
        with self.page.expect_navigation():
            self.page.click("form[action='/console/login'] button")

    def go(self, path: str) -> None:
        try:
            self.page.goto(self.base + path)
        except PlaywrightError as exc:
            # An auction page reloads itself when its status changes (static/auction.js); that reload
            # can abort a navigation begun at the same moment (Chromium reports ERR_ABORTED, or the
            # navigation "interrupted by another navigation"). Navigating again is what a user does.
            if "ERR_ABORTED" not in str(exc) and "interrupted by another navigation" not in str(exc):
                raise
            self.page.goto(self.base + path)

    def submit(self, form: str) -> None:
        """Submit the form whose action ends with ``form`` and wait for the next page."""
        with self.page.expect_navigation():  # POST, redirect, GET: wait for the page it ends on
            self.page.locator(f"form[action$='{form}'] button[type=submit]").first.click()

    def flash(self) -> str:
        return str(self.page.locator(".flash").inner_text())

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


def _holding_kg(served: Served, alias: str) -> int:
    with Session(served.world.engine) as s:
        return sum(
            b.total
            for b in balances(s, account=f"{served.world.party(alias)}.holding")
            if b.instrument == "COD" and b.lot == LOT
        )


def test_an_auction_and_a_pledge_run_through_the_console(browser: Any, served: Served, shots: Path) -> None:
    world = served.world
    bureau = Person(browser, served, "yuyao", shots)
    assert "总量与储备" in bureau.page.content()  # Chinese by default
    assert "宁波市生态环境局余姚分局" in bureau.page.inner_text("header")
    bureau.shot("01-bureau-dashboard")

    # The bureau approves both enterprises' project needs, then opens a uniform-price auction of 8 t.
    bureau.go("/console/bureau/needs")
    for alias in ("yuyao_chem", "yuyao_dye"):
        bureau.page.select_option("select[name=enterprise]", world.party(alias))
        bureau.page.fill("input[name=quantity]", "5")
        bureau.page.fill("input[name=project]", f"{alias} 扩建项目")
        bureau.submit("/bureau/needs")
        assert "项目需求已登记" in bureau.flash()
    bureau.shot("02-bureau-needs")
    bureau.go("/console/bureau/auctions/new")
    bureau.page.fill("input[name=auction_id]", "YY-2026-001")
    bureau.page.fill("input[name=quantity]", "8")
    bureau.page.fill("input[name=reserve_price]", "4000")
    bureau.page.select_option("select[name=design]", "uniform_price")
    bureau.shot("03-bureau-open-auction-form")
    bureau.submit("/bureau/auctions")
    assert "竞价 YY-2026-001 已发起" in bureau.flash()
    bureau.shot("04-auction-open")

    # Enterprise A bids 4,500 CNY/t for 5 t; B first bids below the reserve (refused, in the form),
    # then 4,200 CNY/t for 5 t.
    chem = Person(browser, served, "yuyao_chem", shots)
    chem.go("/console/auctions/YY-2026-001")
    chem.page.fill("input[name=price]", "4500")
    chem.page.fill("input[name=quantity]", "5")
    chem.submit("/bids")
    assert "报价已密封提交" in chem.flash()
    chem.shot("05-enterprise-a-bid")
    dye = Person(browser, served, "yuyao_dye", shots)
    dye.go("/console/auctions/YY-2026-001")
    dye.page.fill("input[name=price]", "3000")
    dye.page.fill("input[name=quantity]", "5")
    dye.submit("/bids")
    assert "报价低于底价" in dye.page.inner_text(".error")
    assert "bid_below_reserve" in dye.page.inner_text(".error")
    dye.shot("06-enterprise-b-refused")
    dye.page.fill("input[name=price]", "4200")
    dye.submit("/bids")
    assert "报价已密封提交" in dye.flash()

    # Before the close the bureau sees how many sealed bids came in, never a price or a bidder.
    bureau.go("/console/auctions/YY-2026-001")
    sealed_page = bureau.page.content()
    assert "已收到 2 份密封报价，来自 2 家竞买人" in bureau.page.inner_text("#live")
    for secret in (
        "4,500",
        "4,200",
        "4500",
        "4200",
        world.party("yuyao_chem"),
        "余姚示例化工",
        "余姚示例印染",
    ):
        assert secret not in sealed_page, secret
    assert bureau.page.locator("table").count() == 0  # no bid table at all
    live = bureau.context.request.get(f"{served.base}/console/auctions/YY-2026-001/live.json").json()
    assert (live["bids"], live["standing"], live["next"]) == (2, None, None)
    bureau.shot("06b-bureau-sealed-bids")

    # Bidding time passes; the bureau closes and settles: A gets 5 t and B 3 t at 4,200 CNY/t.
    world.clock.advance(timedelta(hours=2))
    bureau.go("/console/auctions/YY-2026-001")
    assert "4,500" not in bureau.page.content()  # past the close, still sealed until the result
    bureau.submit("/close")
    assert bureau.page.locator("table").filter(has_text="4,500.00").count() == 1  # now the bids show
    assert "结果已记录" in bureau.flash()
    bureau.shot("07-auction-closed")
    bureau.submit("/settle")
    assert "已结算 2 户" in bureau.flash()
    bureau.shot("08-auction-settled")
    assert _holding_kg(served, "yuyao_chem") == 5_000
    assert _holding_kg(served, "yuyao_dye") == 3_000
    chem.go("/console/enterprise")
    assert "5.000 t/a" in chem.page.inner_text("main")
    chem.shot("09-enterprise-a-holdings")
    dye.go("/console/enterprise")
    assert "3.000 t/a" in dye.page.inner_text("main")

    # A pledges 2 t to the Yuyao bank: apply, the bureau approves, the bank records the loan, A confirms.
    bank_party = world.party("bank_yuyao")
    chem.go("/console/enterprise/pledges")
    chem.page.select_option("select[name=bank]", bank_party)
    chem.page.fill("input[name=quantity]", "2")
    chem.submit("/enterprise/pledges")
    assert "抵质押申请" in chem.flash()
    bureau.go("/console/bureau/approvals")
    bureau.shot("10-bureau-approvals")
    bureau.submit("/approve")
    assert "已核准" in bureau.flash()
    bank = Person(browser, served, "bank_yuyao", shots)
    bank.page.fill("input[name=amount]", "5000")
    bank.shot("11-bank-record-loan")
    bank.submit("/loan")
    assert "贷款信息已录入" in bank.flash()
    chem.go("/console/enterprise/pledges")
    chem.submit("/confirm")
    assert "已登记生效" in chem.flash()
    chem.shot("12-enterprise-pledge-registered")
    bank.go("/console/bank")
    registered = bank.page.locator("section.card").filter(has_text="已登记")
    assert "2.000 t/a" in registered.inner_text()
    bank.shot("13-bank-pledge-registered")
    href = bank.page.locator("a[href$='certificate.json']").first.get_attribute("href")
    certificate = bank.context.request.get(served.base + str(href)).text()
    bank.go("/console/bank/certificate")
    bank.page.fill("textarea[name=certificate]", certificate)
    bank.submit("/bank/certificate")
    assert "证书有效" in bank.page.inner_text("main")
    bank.shot("13b-bank-certificate-valid")
    bank.go("/console/bank")
    with Session(world.engine) as s:
        chem_cod = [b for b in balances(s, account=f"{world.party('yuyao_chem')}.holding") if b.lot == LOT]
    assert [(b.total, b.held) for b in chem_cod] == [(5_000, 2_000)]

    # One switch of language: the same page in English, and the choice kept for the next page.
    with bank.page.expect_navigation():
        bank.page.click("a[hreflang=en]")
    assert "registered" in bank.page.inner_text("main")
    assert re.search(r"Log out", bank.page.inner_text("header"))
    bank.go("/console/bank/certificate")
    assert "Check a certificate" in bank.page.inner_text("main")
    bank.shot("14-bank-english")

    # The bureau's overview now charts cap use and the clearing price; the auditor's replay verifies.
    bureau.go("/console/bureau")
    assert bureau.page.locator("svg.chart").count() == 2
    bureau.shot("15-bureau-dashboard-charts")
    auditor = Person(browser, served, "auditor", shots)
    assert "核验通过" in auditor.page.inner_text("main")
    with auditor.page.expect_download() as download:
        auditor.page.click("a[href$='bundle.tar']")
    assert download.value.suggested_filename.endswith(".tar")
    auditor.shot("16-auditor")
    for person in (bureau, chem, dye, bank, auditor):
        person.context.close()


def test_an_ascending_auction_page_follows_the_best_price_live(
    browser: Any, served: Served, shots: Path
) -> None:
    world = served.world
    bureau = Person(browser, served, "yuyao", shots)
    bureau.go("/console/bureau/needs")  # A's need was met by the first auction: a new project
    bureau.page.select_option("select[name=enterprise]", world.party("yuyao_chem"))
    bureau.page.fill("input[name=quantity]", "1")
    bureau.page.fill("input[name=project]", "二期项目")
    bureau.submit("/bureau/needs")
    # B gets its own new need, so this test does not depend on the first one having run before it
    bureau.go("/console/bureau/needs")
    bureau.page.select_option("select[name=enterprise]", world.party("yuyao_dye"))
    bureau.page.fill("input[name=quantity]", "1")
    bureau.page.fill("input[name=project]", "技改项目")
    bureau.submit("/bureau/needs")
    bureau.go("/console/bureau/auctions/new")
    bureau.page.fill("input[name=auction_id]", "YY-ASC-1")
    bureau.page.fill("input[name=quantity]", "1")
    bureau.page.select_option("select[name=design]", "ascending")
    bureau.page.fill("input[name=start_price]", "5000")
    bureau.page.fill("input[name=increment]", "100")
    bureau.submit("/bureau/auctions")
    assert "YY-ASC-1" in bureau.flash()
    chem = Person(browser, served, "yuyao_chem", shots)
    dye = Person(browser, served, "yuyao_dye", shots)
    chem.go("/console/auctions/YY-ASC-1")
    assert "5,000.00 元/t" in chem.page.inner_text("#live-next")
    assert "您的可竞数量：1.000 t/a" in chem.page.inner_text("main")  # 5 t approved were won already
    chem.page.fill("input[name=price]", "5000")
    chem.page.fill("input[name=quantity]", "1")
    chem.submit("/bids")
    assert "报价已提交" in chem.flash()
    dye.go("/console/auctions/YY-ASC-1")
    dye.page.fill("input[name=price]", "5100")
    dye.page.fill("input[name=quantity]", "1")
    dye.submit("/bids")
    assert "报价已提交" in dye.flash()
    # A's page, loaded before B's bid, shows B's price within a few seconds without a reload.
    # a locator wait, not wait_for_function: the page's CSP runs no string as script (no eval)
    chem.page.locator("#live-standing", has_text="5,100.00").wait_for(timeout=8000)
    assert "5,200.00 元/t" in chem.page.inner_text("#live-next")
    assert chem.page.inner_text("#live-bids") == "2"
    chem.shot("17-ascending-live")
    for person in (bureau, chem, dye):
        person.context.close()


def _cash_fen(served: Served, alias: str) -> int:
    with Session(served.world.engine) as s:
        return sum(b.total for b in balances(s, account=f"{served.world.party(alias)}.cash"))


def test_paid_use_and_a_bilateral_trade_run_through_the_console(
    browser: Any, served: Served, shots: Path
) -> None:
    """The bureau offers 2 t for the paid-use fee; the enterprise consents on its holdings page; then
    it offers 1 t to its neighbour, who accepts: each consent signed in custody, each step one record."""
    world = served.world
    units, cash = _holding_kg(served, "yuyao_chem"), _cash_fen(served, "yuyao_chem")
    bureau = Person(browser, served, "yuyao", shots)
    bureau.go("/console/bureau/issue")
    form = "form[action$='/bureau/allocate']"
    bureau.page.select_option(f"{form} select[name=enterprise]", world.party("yuyao_chem"))
    bureau.page.fill(f"{form} input[name=quantity]", "2")
    bureau.page.fill(f"{form} input[name=valid_until]", VALID_UNTIL.isoformat())  # the cap's validity
    bureau.page.select_option("select[name=paid_use]", "paid")
    bureau.submit("/bureau/allocate")
    assert "待企业确认" in bureau.flash()
    assert "40,000.00 元" in bureau.flash()  # 2 t/a x 4,000 CNY per t·a x 5 years
    bureau.shot("20-bureau-paid-use-offered")

    chem = Person(browser, served, "yuyao_chem", shots)
    assert "待您确认的有偿使用" in chem.page.inner_text("main")
    chem.shot("21-enterprise-paid-use-to-consent")
    chem.submit("/accept")
    assert "使用费 40,000.00 元 已支付" in chem.flash()
    assert _holding_kg(served, "yuyao_chem") == units + 2_000
    assert _cash_fen(served, "yuyao_chem") == cash - 4_000_000
    chem.shot("22-enterprise-paid-use-accepted")

    chem.go("/console/enterprise/trades")
    chem.page.select_option("select[name=position]", f"COD@{LOT}")
    chem.page.select_option("select[name=buyer]", world.party("yuyao_dye"))
    chem.page.fill("input[name=quantity]", "1")
    chem.page.fill("input[name=price]", "21000")
    chem.submit("/enterprise/trades")
    assert "已签名发出" in chem.flash()
    chem.shot("23-enterprise-trade-offered")
    dye = Person(browser, served, "yuyao_dye", shots)
    dye_units = _holding_kg(served, "yuyao_dye")
    dye.go("/console/enterprise/trades")
    dye.submit("/accept")
    assert re.search(r"记录 \d+", dye.flash())
    dye.shot("24-enterprise-trade-accepted")
    assert _holding_kg(served, "yuyao_dye") == dye_units + 1_000
    assert _holding_kg(served, "yuyao_chem") == units + 1_000
