"""A winner pays its award (支付成交价款) alone in a real browser: the bureau closed the auction and signed
each payment proposal then; one winner, its key in custody, pays from the auction page, the other from its
to-do list (/console/todo), and each click settles in one record, delivery versus payment (钱货两清).
Screenshots saved as artifacts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from ledger.auction_designs import AuctionDesign, FixedDeposit
from ledger.service import balances, replay_database
from market.auctions import service as auctions
from market.auctions.model import AuctionTerms
from market.auctions.settlement import close_auction
from market.auctions.state import AwardStatus
from market.consent import Consent
from tests.browser.conftest import Served, log_in
from tests.browser.world import VALID_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PRICE_FEN_PER_T = 600_000  # 6,000 CNY/t
DEPOSIT_FEN = 100_000


def _total(served: Served, alias: str, kind: str, instrument: str) -> int:
    with Session(served.world.engine) as s:
        account = f"{served.world.party(alias)}.{kind}"
        return sum(b.total for b in balances(s, account=account) if b.instrument == instrument)


def _closed_auction(served: Served) -> None:
    """Yuyao auctions 2 t of COD; each enterprise bids for 1 t at the reserve; the bureau closes."""
    world = served.world
    yuyao = world.demo["yuyao"]
    keys = Consent({p.party: p.key for p in world.demo.values()})
    now = world.registry.clock()
    with Session(world.engine) as s:
        for alias in ("yuyao_chem", "yuyao_dye"):
            auctions.register_need(
                s,
                actor=yuyao.participant,
                enterprise=world.party(alias),
                instrument="COD",
                approved_kg=1_000,
                project="新建项目",
                now=now,
            )
        terms = AuctionTerms(
            auction_id="PAY-01",
            instrument="COD",
            jurisdiction="330281",
            quantity_kg=2_000,
            reserve_price_fen_per_t=PRICE_FEN_PER_T,
            design=AuctionDesign.UNIFORM_PRICE,
            opens_at=now,
            closes_at=now + timedelta(minutes=30),
            deposit_rule=FixedDeposit(DEPOSIT_FEN),
        )
        auctions.open_auction(
            s,
            registry=world.registry,
            actor=yuyao.participant,
            signed_by=keys,
            terms=terms,
            valid_until=VALID_UNTIL,
            now=now,
        )
        for alias in ("yuyao_chem", "yuyao_dye"):
            auctions.place_bid(
                s,
                registry=world.registry,
                actor=world.demo[alias].participant,
                signed_by=keys,
                auction_id="PAY-01",
                price_fen_per_t=PRICE_FEN_PER_T,
                quantity_kg=1_000,
                now=now,
            )
        s.commit()
    world.clock.advance(timedelta(minutes=31))
    with Session(world.engine) as s:
        close_auction(
            s,
            registry=world.registry,
            actor=yuyao.participant,
            signed_by=Consent({yuyao.party: yuyao.key}),  # the bureau's key only: it consents to payment now
            auction_id="PAY-01",
            now=world.registry.clock(),
        )
        s.commit()


def _award(served: Served, alias: str) -> Any:
    with Session(served.world.engine) as s:
        auction = auctions.get_auction(s, auction_id="PAY-01")
    assert auction.result is not None
    return auction.result.award(served.world.party(alias))


def test_a_winner_pays_its_award_alone_from_the_auction_page_and_another_from_its_to_do_list(
    browser: Any, served: Served, shots: Path
) -> None:
    _closed_auction(served)
    amount = 1_000 * PRICE_FEN_PER_T // 1_000
    chem_cash = _total(served, "yuyao_chem", "cash", "CNY")

    # 余姚化工 pays from the auction page: one click, its custody key signs, the record settles.
    context, page = log_in(browser, served, "yuyao_chem")
    page.goto(f"{served.base}/console/auctions/PAY-01")
    card = page.inner_text("#pay-award")
    assert "支付成交价款" in card
    assert "6,000.00" in page.inner_text("#pay-amount")
    page.screenshot(path=str(shots / "pay-01-auction-page.png"), full_page=True)
    with page.expect_navigation():
        page.click("#pay-award button[data-step='pay']")
    assert "已支付成交价款" in page.inner_text(".flash")
    assert page.locator("#pay-award").count() == 0
    page.screenshot(path=str(shots / "pay-02-paid.png"), full_page=True)
    context.close()
    assert _award(served, "yuyao_chem").status is AwardStatus.SETTLED
    assert _total(served, "yuyao_chem", "holding", "COD") == 1_000
    assert _total(served, "yuyao_chem", "cash", "CNY") == chem_cash - amount

    # 余姚印染 pays from its to-do list, where the payment waits beside any offers.
    dye = _award(served, "yuyao_dye")
    assert dye.status is AwardStatus.PENDING
    assert dye.payment_proposal is not None
    context, page = log_in(browser, served, "yuyao_dye")
    page.goto(f"{served.base}/console/todo")
    row = page.locator(f"#awaiting tr[data-proposal='{dye.payment_proposal}']")
    assert "支付成交价款" in row.inner_text()
    assert row.locator("button[data-step='reject']").count() == 0  # a winner that does not pay forfeits
    page.screenshot(path=str(shots / "pay-03-todo.png"), full_page=True)
    with page.expect_navigation():
        row.locator("button[data-step='sign']").click()
    assert f"已签署事项 {dye.payment_proposal}" in page.inner_text(".flash")
    page.screenshot(path=str(shots / "pay-04-todo-done.png"), full_page=True)
    context.close()
    assert _award(served, "yuyao_dye").status is AwardStatus.SETTLED
    with Session(served.world.engine) as s:
        assert auctions.get_auction(s, auction_id="PAY-01").status.value == "settled"
        report, _diff = replay_database(s)
    assert report.ok, report.failure
