"""Issue #19 in a real browser (Chromium): pages of an attacker on another port of the same host post a
form to the console, log the victim in as the attacker, and frame a console page; each fails. Logging
out and revoking the access key end the session at once, even for a copy of the cookie."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from accounts.credentials import issue_credential, revoke_credential
from market.trades.offers import offers_of
from tests.browser.conftest import Served
from tests.browser.world import VALID_UNTIL

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_security")]

TRADES = "/console/enterprise/trades"


class Attacker:
    """Another origin on the same host (127.0.0.1, another port: the same *site* for cookies)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "not here").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def attacker() -> Iterator[Attacker]:
    site = Attacker()
    yield site
    site.close()


def _auto_post(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return (
        f'<html><body><form id="f" method="post" action="{action}">{inputs}</form>'
        '<script>document.getElementById("f").submit();</script></body></html>'
    )


def _login(browser: Any, served: Served, token: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{served.base}/console/login")
    page.fill("input[name=access_key]", token)
    with page.expect_navigation():
        page.click("form[action='/console/login'] button")
    assert "/console/login" not in page.url, page.content()
    return page


def _offers(served: Served, alias: str) -> int:
    with Session(served.world.engine) as s:
        return len(offers_of(s, actor=served.world.demo[alias].participant))


def test_a_cross_origin_form_post_is_refused(
    browser: Any, served: Served, attacker: Attacker, shots: Path
) -> None:
    world = served.world
    victim = _login(browser, served, world.tokens["yuyao_chem"])
    before = _offers(served, "yuyao_chem")
    attacker.pages["/offer.html"] = _auto_post(
        served.base + TRADES,
        {
            "form_token": "forged-1",
            "position": f"COD@j=330281;u={VALID_UNTIL.isoformat()}",
            "buyer": world.party("yuyao_dye"),
            "quantity": "1",
            "price": "1",
        },
    )
    with victim.expect_navigation(url=f"{served.base}{TRADES}"):
        victim.goto(attacker.base + "/offer.html")
    victim.screenshot(path=str(shots / "security-01-cross-origin-post.png"), full_page=True)
    assert "cross_origin_refused" in victim.content()
    assert _offers(served, "yuyao_chem") == before
    victim.context.close()


def test_a_forged_login_does_not_switch_the_victims_console(
    browser: Any, served: Served, attacker: Attacker, shots: Path
) -> None:
    world = served.world
    victim = _login(browser, served, world.tokens["yuyao_dye"])
    attacker.pages["/login.html"] = _auto_post(
        served.base + "/console/login", {"access_key": world.tokens["yuyao_chem"]}
    )
    with victim.expect_navigation(url=f"{served.base}/console/login"):
        victim.goto(attacker.base + "/login.html")
    victim.screenshot(path=str(shots / "security-02-forged-login.png"), full_page=True)
    content = victim.content()
    assert "cross_origin_refused" in content or "csrf_refused" in content
    victim.goto(f"{served.base}/console/enterprise")
    header = victim.inner_text("header")
    assert world.demo["yuyao_dye"].participant.name in header
    assert world.demo["yuyao_chem"].participant.name not in header
    victim.context.close()


def test_a_console_page_is_not_shown_in_another_sites_frame(
    browser: Any, served: Served, attacker: Attacker, shots: Path
) -> None:
    victim = _login(browser, served, served.world.tokens["yuyao_chem"])
    attacker.pages["/frame.html"] = (
        f'<html><body><h1>win a prize</h1><iframe id="x" src="{served.base}{TRADES}" width="900" '
        'height="600"></iframe></body></html>'
    )
    victim.goto(attacker.base + "/frame.html")
    victim.wait_for_timeout(1000)
    victim.screenshot(path=str(shots / "security-03-framed.png"), full_page=True)
    framed = [f for f in victim.frames if f is not victim.main_frame]
    assert len(framed) == 1
    try:
        inside = framed[0].content()
    except Exception:  # a frame the browser blocked may refuse to be read at all
        inside = ""
    # Chromium shows its own "refused to connect" page in the frame: no trades page, no buttons to
    # trick a click onto
    assert framed[0].url != f"{served.base}{TRADES}" or 'action="/console/' not in inside
    assert 'action="/console/' not in inside
    assert served.world.demo["yuyao_chem"].participant.name not in inside
    victim.context.close()


def test_logout_ends_the_session_even_for_a_copied_cookie(browser: Any, served: Served) -> None:
    page = _login(browser, served, served.world.tokens["yuyao"])
    cookies = page.context.cookies()
    with page.expect_navigation():
        page.click("form[action='/console/logout'] button")
    assert page.url.endswith("/console/login")
    thief = browser.new_context()
    thief.add_cookies(cookies)
    stolen = thief.new_page()
    stolen.goto(f"{served.base}/console/bureau")
    assert stolen.url.endswith("/console/login")
    thief.close()
    page.context.close()


def test_revoking_the_access_key_ends_the_session_at_once(browser: Any, served: Served, shots: Path) -> None:
    world = served.world
    with Session(world.engine) as s:
        issued = issue_credential(s, party=world.party("bank_yuyao"), label="browser")
        s.commit()
    page = _login(browser, served, issued.token)
    page.goto(f"{served.base}/console/bank")
    assert page.url.endswith("/console/bank")
    with Session(world.engine) as s:
        revoke_credential(s, credential_id=issued.credential.id)
        s.commit()
    page.goto(f"{served.base}/console/bank")
    page.screenshot(path=str(shots / "security-04-revoked.png"), full_page=True)
    assert page.url.endswith("/console/login")
    page.context.close()
