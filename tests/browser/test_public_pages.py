"""The public registry in Chromium, in Chinese, over the demo scenario and without a login: from the
login page's link to caps per city (charts per unit), blue carbon by serial range and auction results."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from accounts.custody import Vault
from api import demo
from api.app import create_app
from ledger.crypto import SigningKey
from ledger.db import create_schema, make_engine
from ledger.service import Registry
from tests.browser.conftest import _free_port

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, demo.DemoFacts]]:
    """The demo scenario served on a free loopback port."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('public') / 'ledger.db'}")
    create_schema(engine)
    registry = Registry(SigningKey.from_seed(bytes(range(32))))
    facts = demo.load(engine, registry, Vault.generate())
    port = _free_port()
    config = uvicorn.Config(
        create_app(engine, registry, None),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="public-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", facts
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_a_visitor_reads_the_public_registry_in_chinese_without_logging_in(
    browser: Any, demo_site: tuple[str, demo.DemoFacts], shots: Path
) -> None:
    base, facts = demo_site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 and "favicon" not in r.url else 0)
    page.goto(base + "/console/login")
    with page.expect_navigation():
        page.click("#public-link")
    assert page.url.startswith(base + "/public")
    assert page.locator("h1").inner_text() == "公开信息"
    assert "余姚市" in page.locator("#caps").inner_text()
    charts = page.locator("svg.chart")
    assert charts.count() >= 1
    assert "总量使用（吨/年）" in charts.first.inner_html()
    page.screenshot(path=str(shots / "public-caps-zh.png"), full_page=True)

    page.click('nav.tabs a[href^="/public/bluecarbon"]')
    page.wait_for_selector("#issuances")
    assert "嵊泗贻贝养殖碳汇项目（示例）" in page.locator("#projects").inner_text()
    retired = page.locator("#retirements tbody tr")
    assert retired.count() == 1
    assert "抵消储运作业排放（示例）" in retired.first.inner_text()
    page.screenshot(path=str(shots / "public-bluecarbon-zh.png"), full_page=True)

    page.click('nav.tabs a[href^="/public/auctions"]')
    page.wait_for_selector(".auction-result")
    results = page.locator(".auction-result")
    assert results.count() == 1
    assert facts.settled_auction in results.first.inner_text()
    # three winners of four bidders (top 70%); the dyer's two bids filled at two prices: two lines
    assert page.locator(".winners tbody tr").count() == 4
    assert len(set(page.locator(".winners tbody tr td:first-child").all_inner_texts())) == 3
    assert facts.live_auction not in page.content()
    page.screenshot(path=str(shots / "public-auctions-zh.png"), full_page=True)
    assert violations == []
    assert failed == []
    context.close()


def test_a_bureau_downloads_a_console_table_as_excel_in_chinese(
    browser: Any, demo_site: tuple[str, demo.DemoFacts], shots: Path, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    base, facts = demo_site
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    page.goto(base + "/console/login")
    page.fill("input[name=access_key]", next(x.token for x in facts.logins if x.alias == "yuyao"))
    with page.expect_navigation():
        page.click("form[action='/console/login'] button")
    links = page.locator("p.export-xlsx a")
    assert links.count() == page.locator("main table").count() >= 2
    page.screenshot(path=str(shots / "console-excel-links-zh.png"), full_page=True)
    with page.expect_download() as download:
        links.first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "bureau-1.xlsx"
    rows = list(load_workbook(saved).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("指标", "批次", "总量 (t/a)")
    assert {r[0] for r in rows[1:]} == {"COD", "NH3-N"}
    context.close()
