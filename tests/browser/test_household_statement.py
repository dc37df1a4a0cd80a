"""The demo's Shengsi cooperative (518 households, 22,000 mu) in the console: its roster, and one member's
statement opened in Chinese, its area, attributed tonnes and money received checked against the journal."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session

from accounts.custody import Vault
from api import demo
from api.app import create_app
from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.households import distribution_meta
from ledger.service import Registry, balances, find_attribution, find_roster, make_checkpoint
from market.households.service import member_account
from tests.browser.conftest import _free_port

MEMBER = "SS0001"


@dataclass
class DemoServed:
    base: str
    facts: demo.DemoFacts
    engine: Any


@pytest.fixture(scope="module")
def demo_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServed]:
    """The ``make demo`` scenario with a checkpoint over it (as ``make demo`` signs), served."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('households') / 'ledger.db'}")
    create_schema(engine)
    registry, vault = Registry(SigningKey.generate()), Vault.generate()
    facts = demo.load(engine, registry, vault)
    with Session(engine) as s:
        make_checkpoint(s, registry=registry)
        s.commit()
    config = uvicorn.Config(
        create_app(engine, registry, vault),
        host="127.0.0.1",
        port=_free_port(),
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="households-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start")
        time.sleep(0.05)
    yield DemoServed(f"http://127.0.0.1:{config.port}", facts, engine)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def _expected(served: DemoServed, coop: str) -> tuple[int, int, int, int]:
    """From the ledger's own state: the member's area (hundredths of a mu), attributed kg, fen paid by
    the one sale (3,000 t at 100 CNY/t, recomputed by the rule), and its account's CNY balance."""
    with Session(served.engine) as s:
        (batch,) = {
            b.lot.split("b=")[1].split(";")[0]
            for b in balances(s, account=f"{coop}.holding")
            if b.instrument == "BC"
        }
        attribution = find_attribution(s, batch=batch)
        assert attribution is not None
        roster = find_roster(s, roster=attribution.roster)
        assert roster is not None
        member = roster.member(MEMBER)
        assert member is not None
        split = distribution_meta(roster, attribution, 3_000 * 10_000)
        fen = next(x["fen"] for x in split["shares"] if x["member"] == MEMBER)
        balance = sum(b.total for b in balances(s, account=member_account(coop, MEMBER)))
        assert len(roster.members) == 518
        assert sum(m.area_cmu for m in roster.members) == 2_200_000
        return member.area_cmu, dict(attribution.shares)[MEMBER], fen, balance


def _kg_text(kg: int) -> str:
    return f"{kg // 1000:,}.{kg % 1000:03d}"


def _fen_text(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def test_a_member_of_the_shengsi_cooperative_reads_its_statement_in_chinese(
    browser: Any, demo_served: DemoServed, shots: Path
) -> None:
    login = next(x for x in demo_served.facts.logins if x.alias == "shengsi_coop")
    area_cmu, kg, fen, balance = _expected(demo_served, login.party)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{demo_served.base}/console/login")
    page.fill("input[name=access_key]", login.token)
    with page.expect_navigation():
        page.click("form[action='/console/login'] button")
    page.goto(f"{demo_served.base}/console/households")
    assert page.locator("#members tbody tr").count() == 518
    assert "已确认上链" in page.locator("#rosters").inner_text()
    with page.expect_navigation():
        page.locator("#members tbody tr").first.locator("a").click()
    assert page.locator("h1").inner_text() == "社员碳汇收益对账单"
    assert page.locator("#member").inner_text() == MEMBER
    assert _kg_text(kg) in page.locator("#attributed").inner_text()
    assert page.locator("#received").inner_text() == f"{_fen_text(fen)} 元"
    assert page.locator("#balance").inner_text() == f"{_fen_text(balance)} 元"
    assert balance == fen  # the one sale is all this household has received
    assert page.locator("tr.line-roster .area").inner_text() == f"{area_cmu // 100}.{area_cmu % 100:02d}"
    assert page.locator("tr.line-sale .fen").inner_text() == f"{_fen_text(fen)} 元"
    proofs = page.locator("#lines tbody tr td:last-child").all_inner_texts()
    assert len(proofs) == 3
    assert all(p.startswith("✔ 检查点") for p in proofs), proofs  # every record comes with its proof
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()  # the printed statement drops the console's frame
    page.screenshot(path=str(shots / "household-statement.png"), full_page=True)
    context.close()
