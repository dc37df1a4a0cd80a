"""The end of a default in a real browser, in Chinese: the bank enforces a pledge with the console's
button, puts the rights up for a forced auction (拍卖处置), an enterprise bids, the bureau closes and
settles, and the bank's holdings page shows its claim paid first and the rest gone to the enterprise.
Then a bank that enforced but does not sell: the bureau starts the forced auction from its defaults
page, and that page shows the split of the proceeds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from accounts.service import get_participant
from ledger.service import balances
from market.auctions import service as auctions
from market.consent import Consent
from market.pledges import service as pledges
from tests.browser.conftest import Served
from tests.browser.test_console_flow import Person
from tests.browser.world import VALID_UNTIL, grant

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LOT = f"j=330281;u={VALID_UNTIL.isoformat()}"


def _cash_fen(served: Served, alias: str) -> int:
    with Session(served.world.engine) as s:
        return sum(b.total for b in balances(s, account=f"{served.world.party(alias)}.cash"))


def _kg(served: Served, alias: str) -> tuple[int, int]:
    with Session(served.world.engine) as s:
        rows = [b for b in balances(s, account=f"{served.world.party(alias)}.holding") if b.lot == LOT]
        return sum(b.total for b in rows), sum(b.held for b in rows)


def _pledged(served: Served, loan_id: str = "LN-031", amount_fen: int = 3_000_000) -> str:
    """3 t of COD allocated to the chemical works and pledged to the Yuyao bank for 30,000 CNY at
    3.85% (through the services: the four steps have their own browser test)."""
    world = served.world
    demo, reg = world.demo, world.registry
    keys = Consent(keys={d.party: d.key for d in demo.values()})
    with Session(world.engine) as s:
        who = {alias: get_participant(s, party=demo[alias].party) for alias in demo}
        lot = grant(s, reg, demo, "yuyao_chem", 3_000)
        p = pledges.apply_for_pledge(
            s,
            registry=reg,
            actor=who["yuyao_chem"],
            bank=demo["bank_yuyao"].party,
            instrument_code="COD",
            lot=lot,
            quantity_kg=3_000,
        )
        pledges.approve_pledge(
            s,
            registry=reg,
            actor=who["yuyao"],
            pledge_id=p.id,
            approved_kg=3_000,
            certificate_no="余排污质〔2026〕第031号",
            signed_by=keys,
        )
        pledges.record_loan(
            s,
            registry=reg,
            actor=who["bank_yuyao"],
            pledge_id=p.id,
            loan_id=loan_id,
            amount_fen=amount_fen,
            rate_bp=385,
            term_months=12,
            signed_by=keys,
        )
        pledges.confirm_pledge(s, registry=reg, actor=who["yuyao_chem"], pledge_id=p.id, signed_by=keys)
        auctions.register_need(
            s,
            actor=who["yuyao"],
            enterprise=demo["yuyao_dye"].party,
            instrument="COD",
            approved_kg=3_000,
            project="印染二期",
            now=reg.clock(),
        )
        s.commit()
    return p.id


def test_the_bank_enforces_and_sells_by_forced_auction_and_is_paid_first(
    browser: Any, served: Served, shots: Path
) -> None:
    world = served.world
    pledge_id = _pledged(served)
    world.clock.advance(timedelta(days=73))  # 3,000,000 fen x 3.85% x 73/365 = 23,100 fen of interest
    bank = Person(browser, served, "bank_yuyao", shots)
    bank.go("/console/bank")
    bank.shot("d01-bank-active-pledge")
    bank.submit(f"/bank/pledges/{pledge_id}/enforce")
    assert "已强制执行" in bank.flash()
    assert _kg(served, "bank_yuyao") == (3_000, 0)
    assert "3.000" in bank.page.inner_text("#bank-holding")
    bank.shot("d02-bank-holdings-enforced")
    bank.page.locator(f"a[href$='/bank/pledges/{pledge_id}/forced-auction']").first.click()
    bank.page.wait_for_load_state()
    assert "30,000.00" in bank.page.inner_text("#claim-principal")
    assert "231.00" in bank.page.inner_text("#claim-interest")
    assert "30,231.00" in bank.page.inner_text("#claim-total")
    bank.page.fill("input[name=auction_id]", "FS-YY-031")
    bank.page.fill("input[name=reserve_price]", "8000")
    bank.page.select_option("select[name=design]", "pay_as_bid")
    bank.shot("d03-bank-forced-auction-form")
    bank.submit(f"/bank/pledges/{pledge_id}/forced-auction")
    assert "处置拍卖 FS-YY-031 已发起" in bank.flash()
    assert "拍卖处置" in bank.page.inner_text("#forced")
    bank.shot("d04-forced-auction-open")

    dye = Person(browser, served, "yuyao_dye", shots)
    dye.go("/console/auctions/FS-YY-031")
    dye.page.fill("input[name=price]", "12000")  # 3 t x 12,000 = 36,000 CNY
    dye.page.fill("input[name=quantity]", "3")
    dye.submit("/bids")
    assert "报价已密封提交" in dye.flash()
    world.clock.advance(timedelta(hours=3))
    bureau = Person(browser, served, "yuyao", shots)
    bureau.go("/console/auctions/FS-YY-031")
    bureau.submit("/close")
    assert "结果已记录" in bureau.flash()
    bank_before, chem_before = _cash_fen(served, "bank_yuyao"), _cash_fen(served, "yuyao_chem")
    bureau.submit("/settle")
    assert "已结算 1 户" in bureau.flash()
    bureau.shot("d05-forced-auction-settled")
    assert _cash_fen(served, "bank_yuyao") - bank_before == 3_023_100  # principal and interest first
    assert _cash_fen(served, "yuyao_chem") - chem_before == 3_600_000 - 3_023_100
    assert _kg(served, "yuyao_dye")[0] >= 3_000
    bank.go("/console/bank/holdings")
    defaults = bank.page.inner_text("#defaults")
    assert "30,231.00" in defaults
    assert "FS-YY-031" in defaults
    bank.shot("d06-bank-holdings-recovered")
    for person in (bank, dye, bureau):
        person.context.close()


def test_the_bureau_starts_the_forced_auction_of_rights_the_bank_enforced_and_sees_the_split(
    browser: Any, served: Served, shots: Path
) -> None:
    world = served.world
    # 25,000 CNY: the first test's sale at 12,000 CNY/t priced the 3 t at 36,000, so 80% is 28,800
    pledge_id = _pledged(served, loan_id="LN-047", amount_fen=2_500_000)
    world.clock.advance(timedelta(days=73))  # 2,500,000 fen x 3.85% x 73/365 = 19,250 fen of interest
    bank = Person(browser, served, "bank_yuyao", shots)
    bank.go("/console/bank")
    bank.submit(f"/bank/pledges/{pledge_id}/enforce")
    assert "已强制执行" in bank.flash()

    bureau = Person(browser, served, "yuyao", shots)
    bureau.go("/console/bureau/defaults")
    row = bureau.page.locator(f"tr[data-pledge='{pledge_id}']")
    assert (
        row.locator("td.num").first.inner_text(),
        row.locator(".status").inner_text(),
    ) == ("3.000 t/a", "已强制执行")
    bureau.shot("d07-bureau-defaults-enforced")
    row.locator("a.start-forced").click()
    bureau.page.wait_for_load_state()
    assert "25,192.50" in bureau.page.inner_text("#claim-total")
    bureau.page.fill("input[name=auction_id]", "FS-YY-047")
    bureau.page.fill("input[name=reserve_price]", "8000")
    bureau.page.select_option("select[name=design]", "online_bidding")
    bureau.shot("d08-bureau-forced-auction-form")
    bureau.submit(f"/bureau/pledges/{pledge_id}/forced-auction")
    assert "处置拍卖 FS-YY-047 已发起" in bureau.flash()
    assert "拍卖处置" in bureau.page.inner_text("#forced")

    dye = Person(browser, served, "yuyao_dye", shots)
    dye.go("/console/auctions/FS-YY-047")
    dye.page.fill("input[name=price]", "11000")  # 3 t x 11,000 = 33,000 CNY
    dye.page.fill("input[name=quantity]", "3")
    dye.submit("/bids")
    assert "报价" in dye.flash()
    world.clock.advance(timedelta(hours=3))
    bureau.go("/console/auctions/FS-YY-047")
    bureau.submit("/close")
    assert "结果已记录" in bureau.flash()
    bank_before, chem_before = _cash_fen(served, "bank_yuyao"), _cash_fen(served, "yuyao_chem")
    bureau.submit("/settle")
    assert "已结算 1 户" in bureau.flash()
    assert _cash_fen(served, "bank_yuyao") - bank_before == 2_519_250  # principal and interest first
    assert _cash_fen(served, "yuyao_chem") - chem_before == 3_300_000 - 2_519_250
    bureau.go("/console/bureau/defaults")
    row = bureau.page.locator(f"tr[data-pledge='{pledge_id}']")
    assert "25,192.50" in row.locator("td.recovered").inner_text()  # the bank, paid first
    assert "7,807.50" in row.locator("td.to-enterprise").inner_text()  # the rest, to the enterprise
    assert "FS-YY-047" in row.inner_text()
    assert row.locator("a.start-forced").count() == 0  # all 3 t sold: nothing left to offer
    assert row.locator(".status").last.inner_text() == "处置完毕"
    bureau.shot("d09-bureau-defaults-split")
    for person in (bank, dye, bureau):
        person.context.close()
