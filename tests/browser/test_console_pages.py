"""The console's history, filters, to-do panel, refusals and reserve pages in a real browser, in Chinese:
a refusal reads in t/a, an enterprise downloads the proof of its own record and it verifies offline, a
filter narrows its history, the bureau's to-do panel leads to the approval it refuses with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.audit import verify_certificate_json
from ledger.model import Lot
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from tests.browser.conftest import Served
from tests.browser.test_console_flow import Person
from tests.browser.world import VALID_UNTIL

# One world per module, but each test makes what it needs: under xdist another module's tests may run
# between two of these, and the module's world is then built afresh.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_pages")]


def _allocate(bureau: Person, served: Served, alias: str, tonnes: str) -> None:
    bureau.go("/console/bureau/issue")
    form = bureau.page.locator("form[action$='/bureau/allocate']")
    form.locator("select[name=enterprise]").select_option(served.world.party(alias))
    form.locator("input[name=quantity]").fill(tonnes)
    form.locator("input[name=valid_until]").fill(VALID_UNTIL.isoformat())  # the lot the world's cap is in
    form.locator("select[name=purpose]").select_option("major_project")
    form.locator("input[name=project]").fill("扩建项目")
    bureau.submit("/bureau/allocate")


def test_a_refusal_reads_in_chinese_with_tonnes_per_year(browser: Any, served: Served, shots: Path) -> None:
    bureau = Person(browser, served, "yuyao", shots)
    _allocate(bureau, served, "yuyao_chem", "500")
    alert = bureau.page.locator("[role=alert]").inner_text()
    assert "超出总量控制" in alert
    assert "分配 500.000 t/a 超过总量上限 20.000 t/a" in alert
    assert "kg" not in bureau.page.inner_text("main")
    assert "allocating" not in bureau.page.content()
    bureau.shot("p01-bureau-refusal-in-chinese")
    bureau.context.close()


def test_an_enterprise_downloads_the_proof_of_its_own_record(
    browser: Any, served: Served, shots: Path
) -> None:
    bureau = Person(browser, served, "yuyao", shots)
    _allocate(bureau, served, "yuyao_chem", "3")
    _allocate(bureau, served, "yuyao_dye", "2")
    chem = Person(browser, served, "yuyao_chem", shots)
    chem.go("/console/history")
    rows = chem.page.locator("table.history tbody tr")
    assert "重大项目分配" in rows.first.inner_text()
    assert "+3.000 t/a" in rows.first.inner_text()
    assert "+2.000 t/a" not in chem.page.inner_text("main")  # the dye works' allocation is not its own
    seq = int(str(rows.first.get_attribute("data-seq")))
    chem.shot("p02-enterprise-history")
    with chem.page.expect_download() as download:
        rows.first.locator("a.proof").click()
    assert download.value.suggested_filename == f"record-{seq}-proof.json"
    proof = json.loads(Path(download.value.path()).read_text())
    checked = verify_certificate_json(proof, served.world.registry.key.public)
    assert checked.ok, checked
    assert checked.seq == seq
    for person in (bureau, chem):
        person.context.close()


def test_a_filter_narrows_the_history_and_survives_the_next_page(
    browser: Any, served: Served, shots: Path
) -> None:
    bureau = Person(browser, served, "yuyao", shots)
    _allocate(bureau, served, "yuyao_chem", "1")  # a record besides the world's deposit, whatever ran before
    bureau.context.close()
    chem = Person(browser, served, "yuyao_chem", shots)
    chem.go("/console/history")
    everything = chem.page.locator("table.history tbody tr").count()
    chem.page.select_option("select[name=action]", "cash.deposit")
    with chem.page.expect_navigation():
        chem.page.click("form.list-filter button[type=submit]")
    assert "action=cash.deposit" in chem.page.url
    rows = chem.page.locator("table.history tbody tr")
    assert 0 < rows.count() < everything
    assert all("资金入账" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert chem.page.locator("select[name=action]").input_value() == "cash.deposit"  # the form keeps it
    chem.shot("p03-enterprise-history-filtered")
    with chem.page.expect_navigation():
        chem.page.click("a[hreflang=en]")
    assert "action=cash.deposit" in chem.page.url  # the language switch keeps the filter
    assert "Cash deposit" in chem.page.inner_text("main")
    chem.go("/console/history?lang=zh")
    chem.context.close()


def test_the_to_do_panel_leads_the_bureau_to_a_refusal_with_a_reason(
    browser: Any, served: Served, shots: Path
) -> None:
    world = served.world
    bureau = Person(browser, served, "yuyao", shots)
    _allocate(bureau, served, "yuyao_chem", "1")  # its own free rights to pledge, whatever ran before
    with Session(world.engine) as s:
        applied = pledge.apply_for_pledge(
            s,
            registry=world.registry,
            actor=world.demo["yuyao_chem"].participant,
            bank=world.party("bank_yuyao"),
            instrument_code="COD",
            lot=Lot(jurisdiction="330281", valid_until=VALID_UNTIL),
            quantity_kg=1_000,
        )
        s.commit()
    bureau.go("/console/bureau")
    panel = bureau.page.locator("#todo")
    assert "待办事项" in panel.inner_text()
    item = panel.locator("li[data-todo='todo.pledges_to_approve']")
    assert item.locator(".count").inner_text() == "1"
    assert "抵质押申请待核准" in item.inner_text()
    bureau.shot("p04-bureau-todo-panel")
    with bureau.page.expect_navigation():
        item.locator("a").click()
    assert bureau.page.url.endswith("/console/bureau/approvals")
    reject = bureau.page.locator(f"form[data-reject='{applied.id}']")
    reject.locator("input[name=reason]").fill("申请数量超出企业可抵押额度")
    bureau.shot("p04b-bureau-approvals-refuse-form")
    with bureau.page.expect_navigation():
        reject.locator("button[type=submit]").click()
    assert f"已驳回抵质押申请 {applied.id}" in bureau.flash()
    assert bureau.page.locator(f"form[data-reject='{applied.id}']").count() == 0  # no longer waiting
    bureau.shot("p05-bureau-refused-a-pledge")
    with Session(world.engine) as s:
        refused = pledge.get_pledge(s, actor=world.demo["yuyao"].participant, pledge_id=applied.id)
    assert (refused.status, refused.reason) == (PledgeStatus.CANCELLED, "申请数量超出企业可抵押额度")
    bureau.go("/console/bureau")
    assert bureau.page.locator("li[data-todo='todo.pledges_to_approve']").count() == 0
    bureau.context.close()


def test_the_reserve_pages_render_for_the_bureau(browser: Any, served: Served, shots: Path) -> None:
    bureau = Person(browser, served, "yuyao", shots)
    _allocate(bureau, served, "yuyao_dye", "1")  # a position to offer for, whatever ran before
    bureau.go("/console/bureau/buy-back")
    form = bureau.page.locator("form[action$='/bureau/buy-back']")
    form.locator("select[name=position]").select_option(index=0)
    form.locator("input[name=quantity]").fill("1")
    form.locator("input[name=amount]").fill("20000")
    form.locator("input[name=basis]").fill("余环收储〔2026〕1号")
    bureau.submit("/bureau/buy-back")
    assert "收储要约" in bureau.flash()
    assert "待企业确认" in bureau.page.inner_text("main")
    bureau.shot("p06-bureau-buy-back")
    bureau.go("/console/bureau/expiry?days=3650")
    assert "剩余" in bureau.page.inner_text("main")
    bureau.shot("p07-bureau-expiry")
    bureau.go("/console/bureau/needs")
    bureau.shot("p08-bureau-needs")
    bank = Person(browser, served, "bank_yuyao", shots)
    assert "待办事项" in bank.page.inner_text("main")
    bank.shot("p09-bank-home")
    bank.go("/console/auctions?status=open")
    bank.shot("p10-auctions-filtered")
    for person in (bureau, bank):
        person.context.close()
