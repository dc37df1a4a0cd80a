"""Refusing a pledge step alone in a real browser, in Chinese, keys in custody: the Yuyao bank declines
to record the loan on a pledge the bureau approved, and an enterprise declines the loan a bank recorded
before it confirms. Each pledge ends cancelled with the reason both sides read; nothing was ever held,
and the journal is untouched by either refusal. Screenshots saved as artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from accounts.service import get_participant
from ledger.service import head_size, replay_database
from market.consent import Consent
from market.pledges import service as pledges
from market.pledges.model import PledgeStatus
from tests.browser.conftest import Served, log_in
from tests.browser.world import grant

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _pledges(served: Served) -> tuple[str, str]:
    """4 t of COD allocated to the chemical works; two applications to the Yuyao bank, both approved by the
    bureau, and a loan recorded on the second (through the services)."""
    world = served.world
    demo, reg = world.demo, world.registry
    keys = Consent(keys={d.party: d.key for d in demo.values()})
    with Session(world.engine) as s:
        who = {alias: get_participant(s, party=demo[alias].party) for alias in demo}
        lot = grant(s, reg, demo, "yuyao_chem", 4_000)
        ids = []
        for n in (1, 2):
            p = pledges.apply_for_pledge(
                s,
                registry=reg,
                actor=who["yuyao_chem"],
                bank=demo["bank_yuyao"].party,
                instrument_code="COD",
                lot=lot,
                quantity_kg=2_000,
            )
            pledges.approve_pledge(
                s,
                registry=reg,
                actor=who["yuyao"],
                pledge_id=p.id,
                approved_kg=2_000,
                certificate_no=f"余排污质〔2026〕第05{n}号",
                signed_by=keys,
            )
            ids.append(p.id)
        pledges.record_loan(
            s,
            registry=reg,
            actor=who["bank_yuyao"],
            pledge_id=ids[1],
            loan_id="LN-052",
            amount_fen=2_000_000,
            rate_bp=385,
            term_months=12,
            signed_by=keys,
        )
        s.commit()
    return ids[0], ids[1]


def _status(served: Served, pledge_id: str) -> tuple[PledgeStatus, str | None, str | None]:
    with Session(served.world.engine) as s:
        bank = get_participant(s, party=served.world.party("bank_yuyao"))
        p = pledges.get_pledge(s, actor=bank, pledge_id=pledge_id)
    return p.status, p.closed_by, p.reason


def _head(served: Served) -> int:
    with Session(served.world.engine) as s:
        return head_size(s)


def test_a_bank_declines_a_loan_and_an_enterprise_declines_a_recorded_loan_alone_in_the_console(
    browser: Any, served: Served, shots: Path
) -> None:
    approved, recorded = _pledges(served)
    head = _head(served)

    context, page = log_in(browser, served, "bank_yuyao")
    page.goto(f"{served.base}/console/bank")
    form = page.locator(f"form[data-decline='{approved}']")
    assert "拒绝放贷" in form.inner_text()
    # an empty reason is refused by the service, naming the field, and nothing changes
    form.locator("input[name=reason]").evaluate("e => e.removeAttribute('required')")
    with page.expect_navigation():
        form.locator("button").click()
    assert _status(served, approved)[0] is PledgeStatus.APPROVED
    page.screenshot(path=str(shots / "decline-01-bank-empty-reason.png"), full_page=True)
    form = page.locator(f"form[data-decline='{approved}']")
    form.locator("input[name=reason]").fill("授信额度不足，暂不放贷")
    with page.expect_navigation():
        form.locator("button").click()
    assert f"抵质押 {approved} 已终止" in page.inner_text(".flash")
    assert "授信额度不足，暂不放贷" in page.inner_text("main")
    page.screenshot(path=str(shots / "decline-02-bank-declined.png"), full_page=True)
    context.close()
    bank = served.world.party("bank_yuyao")
    assert _status(served, approved) == (PledgeStatus.CANCELLED, bank, "授信额度不足，暂不放贷")

    context, page = log_in(browser, served, "yuyao_chem")
    page.goto(f"{served.base}/console/todo")  # the recorded loan waits there too, the bank's signature in
    assert "抵质押登记（确认贷款）" in page.inner_text("#awaiting")
    page.screenshot(path=str(shots / "decline-03-enterprise-todo.png"), full_page=True)
    page.goto(f"{served.base}/console/enterprise/pledges")
    assert page.locator(f"form[data-decline='{approved}']").count() == 0  # ended: nothing left to refuse
    form = page.locator(f"form[data-decline='{recorded}']")
    form.locator("input[name=reason]").fill("利率过高，不接受")
    with page.expect_navigation():
        form.locator("button").click()
    assert f"抵质押 {recorded} 已终止" in page.inner_text(".flash")
    page.screenshot(path=str(shots / "decline-04-enterprise-declined.png"), full_page=True)
    context.close()
    chem = served.world.party("yuyao_chem")
    assert _status(served, recorded) == (PledgeStatus.CANCELLED, chem, "利率过高，不接受")

    assert _head(served) == head  # nothing was held before confirmation: no record to write
    with Session(served.world.engine) as s:
        report, _diff = replay_database(s)
    assert report.ok, report.failure
