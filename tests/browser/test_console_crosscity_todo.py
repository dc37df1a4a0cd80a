"""Cross-city settlements (排污权跨地市交易) on the one to-do list (待办) in a real browser, every
party's key in the registry's custody: the buyer accepts from /console/todo, the Ningbo bureau sees
the request only then, and the Zhoushan bureau's signature settles it in one record; a second request
the buyer turns down there releases the seller's units. Screenshots saved as artifacts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, balances, new_nonce, replay_database, submit_all
from market.consent import Consent
from market.crosscity import service as crosscity
from tests.browser.conftest import Served
from tests.browser.world import VALID_UNTIL, fund

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LOT = Lot(jurisdiction="330900", valid_until=VALID_UNTIL)
PRICE = 2_000_000  # fen per tonne


def _held(served: Served) -> tuple[int, int]:
    """(total, held) of the seller's COD of Zhoushan."""
    with Session(served.world.engine) as s:
        account = f"{served.world.party('zhoushan_ship')}.holding"
        for b in balances(s, account=account):
            if b.instrument == "COD" and b.lot == LOT.key():
                return b.total, b.held
    return 0, 0


def _offered(served: Served, kg: int) -> crosscity.TransferRequest:
    """Rights for the Zhoushan seller, cash and a need for the Ningbo buyer, and the seller's offer."""
    world = served.world
    zs, seller, buyer = (world.demo[a] for a in ("zhoushan", "zhoushan_ship", "ningbo_petro"))
    cap, reserve = f"{zs.party}.cap.COD", f"{zs.party}.reserve"
    with Session(world.engine) as s:
        bodies = (
            TxBody("cap.set", new_nonce(), (Posting(cap, "COD", LOT, -kg), Posting(reserve, "COD", LOT, kg))),
            TxBody(
                "allocation.initial",
                new_nonce(),
                (Posting(reserve, "COD", LOT, -kg), Posting(f"{seller.party}.holding", "COD", LOT, kg)),
            ),
        )
        submit_all(s, [Instruction.signed(b, (zs.party, zs.key)) for b in bodies], registry=world.registry)
        fund(s, world.registry, world.demo, "ningbo_petro", 100_000_000)
        now = world.registry.clock()
        demand = crosscity.post_demand(
            s,
            registry=world.registry,
            actor=buyer.participant,
            instrument_code="COD",
            quantity_kg=kg,
            max_price_fen_per_tonne=PRICE,
            valid_until=(now + timedelta(days=30)).date(),
            project="宁波示例扩建项目",
        )
        opened = crosscity.open_transfer(
            s,
            registry=world.registry,
            actor=seller.participant,
            demand_id=demand.id,
            lot=LOT,
            quantity_kg=kg,
            price_fen_per_tonne=PRICE,
            expires_at=now + timedelta(days=7),
        )
        offered = crosscity.offer_transfer(
            s,
            registry=world.registry,
            actor=seller.participant,
            request_id=opened.id,
            signed_by=Consent({seller.party: seller.key}),
        )
        s.commit()
    assert offered.proposal_id is not None
    return offered


def _status(served: Served, request_id: str) -> crosscity.TransferStatus:
    with Session(served.world.engine) as s:
        actor = served.world.demo["zhoushan_ship"].participant
        return crosscity.get_transfer(s, actor=actor, request_id=request_id).status


def _todo(browser: Any, served: Served, alias: str) -> Any:
    """A page logged in as ``alias`` on its to-do list."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN").new_page()
    page.goto(f"{served.base}/console/login")
    page.fill("input[name=access_key]", served.world.tokens[alias])
    with page.expect_navigation():
        page.click("form[action='/console/login'] button")
    page.goto(f"{served.base}/console/todo")
    return page


def _step(page: Any, proposal_id: str, step: str) -> None:
    with page.expect_navigation():
        page.click(f"#awaiting tr[data-proposal='{proposal_id}'] button[data-step='{step}']")


def test_the_buyer_and_both_bureaus_settle_a_cross_city_request_from_their_to_do_lists(
    browser: Any, served: Served, shots: Path
) -> None:
    req = _offered(served, 2_000)
    pid = req.proposal_id
    assert pid is not None
    ningbo = _todo(browser, served, "ningbo")
    assert pid not in ningbo.inner_text("#awaiting")  # the bureaus approve what the buyer accepted

    buyer = _todo(browser, served, "ningbo_petro")
    assert "排污权跨地市交易结算" in buyer.inner_text(f"#awaiting tr[data-proposal='{pid}']")
    buyer.screenshot(path=str(shots / "xcity-todo-01-buyer.png"), full_page=True)
    _step(buyer, pid, "sign")
    assert f"已签署事项 {pid}" in buyer.inner_text(".flash")
    assert _status(served, req.id) is crosscity.TransferStatus.ACCEPTED

    ningbo.goto(f"{served.base}/console/todo")
    _step(ningbo, pid, "sign")
    assert _status(served, req.id) is crosscity.TransferStatus.ACCEPTED  # one approval settles nothing
    zhoushan = _todo(browser, served, "zhoushan")
    _step(zhoushan, pid, "sign")
    assert f"已签署事项 {pid}" in zhoushan.inner_text(".flash")
    zhoushan.screenshot(path=str(shots / "xcity-todo-02-settled.png"), full_page=True)
    assert _status(served, req.id) is crosscity.TransferStatus.SETTLED
    for page in (ningbo, buyer, zhoushan):
        page.context.close()
    with Session(served.world.engine) as s:
        report, _diff = replay_database(s)
    assert report.ok, report.failure


def test_the_buyer_turns_a_request_down_from_its_to_do_list_and_the_units_are_released(
    browser: Any, served: Served
) -> None:
    total, held = _held(served)
    req = _offered(served, 1_000)
    assert _held(served) == (total + 1_000, held + 1_000)
    buyer = _todo(browser, served, "ningbo_petro")
    assert req.proposal_id is not None
    _step(buyer, req.proposal_id, "reject")
    assert f"已驳回事项 {req.proposal_id}" in buyer.inner_text(".flash")
    assert _status(served, req.id) is crosscity.TransferStatus.REJECTED
    assert _held(served) == (total + 1_000, held)
    buyer.context.close()
