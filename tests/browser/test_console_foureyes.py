"""Four-eyes approval and the trusted-account list in a real browser: the enterprise's administrator
creates a clerk and an approver; a transfer above the threshold waits for the approver, who cannot be
the clerk; a newly trusted account receives nothing until the delay has passed (the registry's clock
moved on), and a removal takes effect at once. Screenshots saved as test artifacts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, balances, new_nonce, replay_database, submit
from tests.browser.conftest import Served
from tests.browser.world import VALID_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LOT = Lot(jurisdiction="330281", valid_until=VALID_UNTIL)


class Person:
    """One person in their own browser context, logged in with an access key."""

    def __init__(self, browser: Any, served: Served, token: str, shots: Path, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
        self.page = self.context.new_page()
        self.base, self.shots, self.name = served.base, shots, name
        self.page.goto(f"{self.base}/console/login")
        self.page.fill("input[name=access_key]", token)
        with self.page.expect_navigation():
            self.page.click("form[action='/console/login'] button")
        self.page.goto(f"{self.base}/console/controls")

    def submit(self, action: str) -> None:
        with self.page.expect_navigation():
            self.page.locator(f"form[action$='{action}'] button[type=submit]").first.click()

    def text(self) -> str:
        return str(self.page.inner_text("main"))

    def shot(self, step: str) -> None:
        self.page.screenshot(path=str(self.shots / f"fe-{step}-{self.name}.png"), full_page=True)


def _held(served: Served, alias: str) -> int:
    with Session(served.world.engine) as s:
        account = f"{served.world.party(alias)}.holding"
        return sum(b.total for b in balances(s, account=account) if b.instrument == "COD")


def _allocate(served: Served, kg: int) -> None:
    world = served.world
    yuyao, chem = world.demo["yuyao"], world.demo["yuyao_chem"]
    body = TxBody(
        "allocation.initial",
        new_nonce(),
        (
            Posting(f"{yuyao.party}.reserve", "COD", LOT, -kg),
            Posting(f"{chem.party}.holding", "COD", LOT, kg),
        ),
    )
    with Session(world.engine) as s:
        submit(s, Instruction.signed(body, (yuyao.party, yuyao.key)), registry=world.registry)
        s.commit()


def test_four_eyes_and_the_trusted_list_through_the_console(
    browser: Any, served: Served, shots: Path
) -> None:
    world = served.world
    _allocate(served, 15_000)
    dye = f"{world.party('yuyao_dye')}.holding"

    admin = Person(browser, served, world.tokens["yuyao_chem"], shots, "admin")
    tokens = {}
    for user, role in (("alice", "clerk"), ("bob", "approver")):
        admin.page.fill("input[name=user_id]", user)
        admin.page.fill("input[name=name]", user.title())
        admin.page.select_option("select[name=role]", role)
        admin.submit("/controls/users")
        tokens[user] = admin.page.inner_text("code.token")
    admin.page.fill("input[name=transfer_threshold]", "5")
    admin.page.check("input[name=trusted_list]")
    admin.submit("/controls/thresholds")
    assert "已设置" in admin.page.inner_text(".flash")
    admin.shot("01")

    alice = Person(browser, served, tokens["alice"], shots, "alice")
    assert "alice（经办人）" in alice.text()
    alice.page.select_option("form[action$='/controls/trust'] select[name=account]", dye)
    alice.submit("/controls/trust")
    assert "等待复核人批准" in alice.page.inner_text(".flash")

    bob = Person(browser, served, tokens["bob"], shots, "bob")
    assert "加入信任名单" in bob.page.inner_text("#todo")
    bob.submit("/approve")
    assert "已批准" in bob.page.inner_text(".flash")
    assert "等待期中" in bob.page.inner_text("#trusted")
    bob.shot("02-trusted-in-delay")

    # Above the threshold: a proposal, which the clerk cannot approve herself.
    alice.page.reload()
    alice.page.select_option("form[action$='/controls/transfer'] select[name=to]", dye)
    alice.page.fill("form[action$='/controls/transfer'] input[name=quantity]", "8")
    alice.submit("/controls/transfer")
    assert "等待复核人批准" in alice.page.inner_text(".flash")
    alice.submit("/approve")  # her own proposal, in "my proposals"
    assert "four_eyes_required" in alice.page.inner_text(".error")
    alice.shot("03-second-user-cannot-be-first")
    assert _held(served, "yuyao_dye") == 0

    # The approver approves, but the account is still in its delay: refused, the proposal waits.
    bob.page.reload()
    bob.submit("/approve")
    assert "account_not_trusted" in bob.page.inner_text(".error")
    assert _held(served, "yuyao_dye") == 0
    # 4 working days are at most 6 calendar days; a proposal lapses after 7
    world.clock.advance(timedelta(days=6, hours=1))
    bob.page.goto(f"{served.base}/console/controls")
    assert "已生效" in bob.page.inner_text("#trusted")
    bob.submit("/approve")
    assert "已批准" in bob.page.inner_text(".flash")
    assert _held(served, "yuyao_dye") == 8_000
    bob.shot("04-approved")

    # A removal takes effect at once: even a transfer under the threshold is refused.
    alice.page.reload()
    alice.submit("/controls/trust/remove")
    assert "即时生效" in alice.page.inner_text(".flash")
    alice.page.select_option("form[action$='/controls/transfer'] select[name=to]", dye)
    alice.page.fill("form[action$='/controls/transfer'] input[name=quantity]", "1")
    alice.submit("/controls/transfer")
    assert "account_not_trusted" in alice.page.inner_text(".error")
    alice.shot("05-removed")
    assert _held(served, "yuyao_dye") == 8_000

    # Loosening the controls in force is four-eyes too: the clerk proposes, the approver applies.
    alice.page.fill("form[action$='/controls/thresholds'] input[name=transfer_threshold]", "10")
    alice.submit("/controls/thresholds")
    assert "等待复核人批准" in alice.page.inner_text(".flash")
    assert "超过 5.000 t/a 的转让" in alice.page.inner_text("#transfer"), "unchanged until approved"
    bob.page.reload()
    assert "内控设置变更" in bob.page.inner_text("#todo")
    bob.shot("06-change-of-controls-awaits")
    bob.submit("/approve")
    assert "已批准" in bob.page.inner_text(".flash")
    assert "超过 10.000 t/a 的转让" in bob.page.inner_text("#transfer")
    with Session(world.engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
