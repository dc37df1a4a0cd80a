"""A mussel blue-carbon project from registration to retirement in a real browser, in Chinese: the
Shengsi cooperative registers its farm and submits a monitoring report, sees the computation step by
step with its sources, the Zhoushan bureau issues, and the cooperative transfers and retires by serial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.service import balances
from tests.browser.conftest import Served
from tests.browser.test_console_flow import Person

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _bc_kg(served: Served, account: str) -> int:
    with Session(served.world.engine) as s:
        return sum(b.total for b in balances(s, account=account) if b.instrument == "BC")


def test_a_blue_carbon_project_runs_from_registration_to_retirement(
    browser: Any, served: Served, shots: Path
) -> None:
    world = served.world
    coop = Person(browser, served, "shengsi_coop", shots)
    coop.go("/console/bluecarbon")
    assert "登记蓝碳项目" in coop.page.inner_text("main")
    coop.page.fill("form[action$='/bluecarbon/projects'] input[name=project]", "SS-MUSSEL-T1")
    coop.page.fill("form[action$='/bluecarbon/projects'] input[name=name]", "嵊泗贻贝养殖碳汇（测试）")
    coop.page.fill("form[action$='/bluecarbon/projects'] input[name=location]", "嵊泗列岛海域")
    coop.page.fill("form[action$='/bluecarbon/projects'] input[name=area_mu]", "1000")
    coop.page.fill("form[action$='/bluecarbon/projects'] input[name=households]", "24")
    coop.submit("/bluecarbon/projects")
    assert "SS-MUSSEL-T1 已登记" in coop.flash()
    coop.shot("bc01-project-registered")

    form = "form[action$='/projects/SS-MUSSEL-T1/reports']"
    coop.page.fill(f"{form} input[name=monitoring_start]", "2025-01-01")
    coop.page.fill(f"{form} input[name=monitoring_end]", "2025-12-31")
    coop.page.fill(f"{form} input[name=harvested_wet_kg]", "1000000")  # 1,000 t fresh mussel
    coop.submit("/projects/SS-MUSSEL-T1/reports")
    assert "计算过程" in coop.flash()
    steps = coop.page.inner_text("#steps")
    assert "干重" in steps
    assert "harvested_wet_kg x dry_wet_ratio" in steps
    assert "752800" in steps  # 1,000,000 kg x 0.7528
    assert "Sun Kang et al. 2020" in coop.page.inner_text("#parameters")
    assert "400.917" in coop.page.inner_text("#sink")  # 1 t fresh -> ~0.401 tCO2e
    coop.shot("bc02-report-computation")

    bureau = Person(browser, served, "zhoushan", shots)
    bureau.go("/console/bluecarbon")
    assert "SS-MUSSEL-T1" in bureau.page.inner_text("main")
    bureau.submit("/issue")
    assert "已签发" in bureau.flash()
    bureau.shot("bc03-bureau-issued")

    coop.go("/console/bluecarbon")
    held = coop.page.inner_text("#held")
    assert "嵊泗贻贝养殖碳汇（测试）" in held
    assert "2025" in held
    coop.shot("bc04-serial-ranges")
    holding = f"{world.party('shengsi_coop')}.holding"
    before = _bc_kg(served, holding)
    coop.page.fill("#transfer input[name=tonnes]", "10")
    coop.page.fill("#transfer input[name=to]", world.party("zhoushan_ship"))
    coop.submit("/bluecarbon/transfer")
    assert "已转让 10 吨" in coop.flash()
    assert _bc_kg(served, holding) == before - 10_000
    coop.page.fill("#retire input[name=tonnes]", "5")
    coop.page.fill("#retire input[name=beneficiary]", "舟山示例船舶公司 2025 年度碳中和")
    coop.page.fill("#retire input[name=reason]", "自愿抵消")
    coop.submit("/bluecarbon/retire")
    assert "已注销 5 吨" in coop.flash()
    assert _bc_kg(served, holding) == before - 15_000
    retired = coop.page.inner_text("#retired")
    assert "5 tCO2e" in retired
    retirement = coop.page.inner_text("#retirements")  # each retirement with whom it was for, and why
    assert "舟山示例船舶公司 2025 年度碳中和" in retirement
    assert "自愿抵消" in retirement
    coop.shot("bc05-retired")
    for person in (coop, bureau):
        person.context.close()
