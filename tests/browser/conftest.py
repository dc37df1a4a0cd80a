"""Browser fixtures: the app served by uvicorn on a free loopback port over a temporary SQLite registry,
and headless Debian Chromium driven by Playwright; skipped with a reason when either is missing."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from ledger.db import create_schema, make_engine
from tests.browser.world import ConsoleWorld, build_world

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("ECOLEDGER_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts" / "browser"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    world: ConsoleWorld
    base: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The console over a fresh registry, served in a background thread for the module's tests."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'ledger.db'}")
    create_schema(engine)
    world = build_world(engine)
    port = _free_port()
    config = uvicorn.Config(
        create_app(engine, world.registry, world.vault),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start")
        time.sleep(0.05)
    yield Served(world, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright's sync API."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    """Where screenshots go: $ECOLEDGER_ARTIFACTS, else test-artifacts/browser/ in the repository."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def log_in(browser: Any, served: Served, alias: str) -> tuple[Any, Any]:
    """A new browser context (Chinese, 1280 wide) logged in as ``alias`` with its access key: the
    context (close it when done) and its page."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{served.base}/console/login")
    page.fill("input[name=access_key]", served.world.tokens[alias])
    with page.expect_navigation():
        page.click("form[action='/console/login'] button")
    return context, page
