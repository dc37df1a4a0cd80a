"""/docs in Chromium with every host but the registry's blocked: Swagger UI comes from the packaged copy,
runs under the page's CSP without a violation, and lists the operations with the signing text."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Served

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_docs_list_the_operations_with_the_network_cut_off(browser: Any, served: Served, shots: Path) -> None:
    own = urlsplit(served.base).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    elsewhere: list[str] = []
    problems: list[str] = []

    def only_the_registry(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_registry)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(served.base + "/docs")
    try:
        page.wait_for_selector(".opblock", timeout=20_000)
    except Exception:
        page.screenshot(path=str(shots / "docs-failed.png"))
        raise
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(operations) > 50  # the whole API, not a blank page
    assert any(text.replace("\u200b", "") == "/v1/instructions" for text in operations)
    assert "ecoledger-body-v1" in page.locator(".information-container").inner_text()
    page.screenshot(path=str(shots / "docs-offline.png"), full_page=False)
    assert elsewhere == []  # nothing was even asked of another host
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    assert problems == []
    context.close()
