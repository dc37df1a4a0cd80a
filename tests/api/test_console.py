"""The web console without a browser: login by cookie, every role's pages in Chinese and English,
refusals shown in the form with their code and field, one action per form token, 403 pages."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.console.i18n import LANGS, TEXT, translate
from api.console.svg import Bar, Point, bars, line
from ledger.crypto import SigningKey
from ledger.service import Registry, balances
from market.consent import Consent
from market.issuance import service as issuance
from market.trades.offers import OfferStatus, offers_of
from tests.api.conftest import HttpWorld, console_login
from tests.browser.world import fund
from tests.conftest import engine_for

pytestmark = pytest.mark.xdist_group("api_console")  # one world per engine for the module

TEMPLATES = Path(__file__).parents[2] / "api" / "console" / "templates"
CONSOLE = Path(__file__).parents[2] / "api" / "console"

PAGES = {
    "yuyao": [
        "/console/bureau",
        "/console/bureau/issue",
        "/console/bureau/needs",
        "/console/bureau/auctions/new",
        "/console/bureau/approvals",
        "/console/auctions",
    ],
    "yuyao_chem": [
        "/console/enterprise",
        "/console/enterprise/pledges",
        "/console/enterprise/transfers",
        "/console/enterprise/trades",
    ],
    "bank_yuyao": ["/console/bank", "/console/bank/certificate"],
    "auditor": ["/console/auditor"],
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def http(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpWorld]:
    """One world for the module (registering everyone costs seconds): tests use their own form
    tokens and auction ids, and compare the journal before and after themselves."""
    engine = engine_for(request.param, tmp_path_factory.mktemp("console"))
    world = HttpWorld(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5))
    yuyao = world.who("yuyao")
    with Session(engine) as s:
        issuance.set_cap(
            s,
            registry=world.registry,
            actor=yuyao.participant,
            signed_by=Consent({yuyao.party: yuyao.key}),
            instrument="COD",
            quantity_kg=10_000,
            valid_until=date(2030, 12, 31),
        )
        for alias in ("yuyao_chem", "ningbo_petro"):
            fund(s, world.registry, world.demo, alias, 10_000_000)
        s.commit()
    yield world
    if request.param == "sqlite":
        engine.dispose()


def login(http: HttpWorld, alias: str) -> TestClient:
    """A browser of its own (its own cookie jar), logged in as ``alias``."""
    client = TestClient(http.client.app, raise_server_exceptions=True, follow_redirects=False)
    response = console_login(client, http.tokens[alias])
    assert response.status_code == 303, response.text
    return client


def test_login_sets_an_httponly_strict_cookie_and_logout_forgets_it(http: HttpWorld) -> None:
    client = TestClient(http.client.app, follow_redirects=False)
    assert client.get("/").headers["location"] == "/console"
    assert client.get("/console/bureau").headers["location"] == "/console/login"
    response = console_login(client, http.tokens["yuyao"])
    assert (response.status_code, response.headers["location"]) == (303, "/console/bureau")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ecoledger_console="))
    assert http.tokens["yuyao"] not in cookie  # a session id, never the access key
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    page = client.get("/console/bureau")
    assert page.status_code == 200
    assert "宁波市生态环境局余姚分局" in page.text
    assert client.get("/console").headers["location"] == "/console/bureau"
    assert client.post("/console/logout").status_code == 303
    assert client.get("/console/bureau").headers["location"] == "/console/login"


def test_a_wrong_access_key_is_refused_in_the_login_form(http: HttpWorld) -> None:
    client = TestClient(http.client.app, follow_redirects=False)
    response = console_login(client, "ek_nothing_here")
    assert response.status_code == 401
    assert "invalid_credentials" in response.text
    assert "访问密钥无效或已撤销" in response.text
    assert not any(c.startswith("ecoledger_console=") for c in response.headers.get_list("set-cookie"))


@pytest.mark.parametrize("alias", sorted(PAGES))
def test_each_roles_pages_render_in_chinese_and_english(http: HttpWorld, alias: str) -> None:
    client = login(http, alias)
    for path in PAGES[alias]:
        for lang in LANGS:
            response = client.get(f"{path}?lang={lang}")
            assert response.status_code == 200, (path, lang, response.text[:500])
            assert translate(lang, "nav.auctions") in response.text
            assert translate(lang, "nav.logout") in response.text
        assert translate("en", "nav.logout") in client.get(path).text  # the choice is kept in a cookie


def test_a_role_cannot_open_another_roles_page(http: HttpWorld) -> None:
    for alias, path in [
        ("yuyao_chem", "/console/bureau"),
        ("yuyao_chem", "/console/bank"),
        ("bank_yuyao", "/console/auditor"),
        ("auditor", "/console/enterprise"),
        ("yuyao", "/console/enterprise/pledges"),
        ("bank_yuyao", "/console/enterprise/trades"),
    ]:
        response = login(http, alias).get(path)
        assert response.status_code == 403, (alias, path)
        assert "此页面不属于您的角色" in response.text


def test_a_refused_form_names_the_field_and_the_code_and_changes_nothing(http: HttpWorld) -> None:
    client = login(http, "yuyao")
    before = http.head()
    response = client.post(
        "/console/bureau/needs",
        data={
            "form_token": "t1",
            "enterprise": http.party("yuyao_chem"),
            "instrument": "COD",
            "quantity": "1.2345",
            "project": "扩建",
        },
    )
    assert response.status_code == 422
    assert "invalid_quantity" in response.text
    assert "数量（吨/年）" in response.text  # the field, as the form labels it
    assert 'name="quantity" type="text" value="1.2345"' in response.text  # what was typed stays
    assert 'aria-invalid="true"' in response.text
    english = client.post(
        "/console/bureau/cap?lang=en",
        data={"form_token": "t2", "instrument": "COD", "quantity": "-1", "valid_until": "2030-12-31"},
    )
    assert english.status_code == 422
    assert "Invalid quantity" in english.text
    assert "Quantity (t/a)" in english.text
    assert http.head() == before


def test_an_auction_larger_than_the_free_reserve_is_refused_in_the_form(http: HttpWorld) -> None:
    client = login(http, "yuyao")
    before = http.head()
    response = client.post(
        "/console/bureau/auctions",
        data={
            "form_token": "t3",
            "auction_id": "A-1",
            "lot": "COD@j=330281;u=2030-12-31",
            "quantity": "200",
            "reserve_price": "4000",
            "design": "uniform_price",
            "closes_at": "2099-01-01T10:00",
            "deposit": "1000",
        },
    )
    assert response.status_code == 409
    assert "insufficient_balance" in response.text
    assert "余额不足" in response.text
    assert http.head() == before


def test_a_double_submit_of_one_form_acts_once(http: HttpWorld) -> None:
    client = login(http, "yuyao")
    form = {"form_token": "same", "instrument": "COD", "quantity": "1.5", "valid_until": "2030-12-31"}
    before = http.head()
    first = client.post("/console/bureau/cap", data=form)
    second = client.post("/console/bureau/cap", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"] == "/console/bureau"
    assert http.head() == before + 1
    page = client.get("/console/bureau")
    assert "总量已核定" in page.text  # the flash message, once
    assert "1.500 t/a" in page.text
    assert "总量已核定" not in client.get("/console/bureau").text
    reused = client.post("/console/bureau/cap", data={**form, "quantity": "2"})
    assert reused.status_code == 409
    assert "idempotency_key_reused" in reused.text
    assert http.head() == before + 1


def test_the_auditor_downloads_the_bundle_and_sees_the_replay_verified(http: HttpWorld) -> None:
    client = login(http, "auditor")
    page = client.get("/console/auditor")
    assert "核验通过" in page.text
    bundle = client.get("/console/auditor/bundle.tar")
    assert bundle.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(bundle.content)) as tar:
        names = tar.getnames()
    assert "manifest.json" in names
    assert any(n.startswith("journal") for n in names)
    assert login(http, "yuyao_chem").get("/console/auditor/bundle.tar").status_code == 403


def test_the_live_state_of_a_sealed_auction_reveals_no_price(http: HttpWorld) -> None:
    bureau = login(http, "yuyao")
    opened = bureau.post(
        "/console/bureau/auctions",
        data={
            "form_token": "t4",
            "auction_id": "A-2",
            "lot": "COD@j=330281;u=2030-12-31",
            "quantity": "2",
            "reserve_price": "4000",
            "design": "ascending",
            "closes_at": "2099-01-01T10:00",
            "deposit": "1000",
            "start_price": "4000",
            "increment": "100",
            "extension_min": "4",
        },
    )
    assert opened.headers["location"] == "/console/auctions/A-2"
    live = login(http, "yuyao_chem").get("/console/auctions/A-2/live.json").json()
    assert live["status"] == "open"
    assert live["next"] == "4,000.00 元/t"
    assert live["bids"] == 0


def test_every_text_exists_in_both_languages() -> None:
    for key, entry in TEXT.items():
        assert set(entry) == set(LANGS), key
        assert all(entry[lang].strip() for lang in LANGS), key
        assert re.findall(r"{\w+}", entry["zh"]) == re.findall(r"{\w+}", entry["en"]) or sorted(
            re.findall(r"{\w+}", entry["zh"])
        ) == sorted(re.findall(r"{\w+}", entry["en"])), key


def test_every_key_the_console_uses_is_in_the_table() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_]+\.[a-z_.]+)'", path.read_text()))
    for path in CONSOLE.glob("*.py"):
        used |= set(re.findall(r'"((?:flash|chart|unit|err)\.[a-z_]+)"', path.read_text()))
    used |= {f"flash.transfer_{step}" for step in ("offer", "accept")}
    assert sorted(used - set(TEXT)) == []


def test_the_charts_are_inline_svg_with_labels_and_exact_ticks() -> None:
    svg = bars("cap", [Bar("COD 2030", ((12_000, "allocated"), (3_000, "held")))], unit="t/a", scale=1000)
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "COD 2030" in svg
    assert ">20<" in svg
    assert "<script" not in svg
    assert "4,500.00" in line("prices", [Point("A-1", 450_000)], unit="CNY/t", scale=100)
    assert bars("empty", [], unit="t") == ""


def _token(page: str) -> str:
    return re.findall(r'name="form_token" value="([^"]+)"', page)[0]


def test_a_cross_city_transfer_runs_through_the_console(http: HttpWorld) -> None:
    bureau, seller, buyer = login(http, "yuyao"), login(http, "yuyao_chem"), login(http, "ningbo_petro")
    allocated = bureau.post(
        "/console/bureau/allocate",
        data={
            "form_token": "x1",
            "enterprise": http.party("yuyao_chem"),
            "instrument": "COD",
            "quantity": "2",
            "valid_until": "2030-12-31",
            "purpose": "initial",
        },
    )
    assert allocated.status_code == 303, allocated.text
    posted = buyer.post(
        "/console/enterprise/demands",
        data={
            "form_token": "x2",
            "instrument": "COD",
            "quantity": "1",
            "max_price": "6000",
            "valid_until": "2030-01-01",
            "project": "宁波扩建",
        },
    )
    assert posted.status_code == 303, posted.text
    demand = re.findall(
        r"/console/enterprise/demands/([\w-]+)/offer", seller.get("/console/enterprise/transfers").text
    )
    assert len(demand) == 1
    drafted = seller.post(
        f"/console/enterprise/demands/{demand[0]}/offer",
        data={
            "form_token": "x3",
            "position": "COD@j=330281;u=2030-12-31",
            "quantity": "1",
            "price": "5500",
            "days": "7",
        },
    )
    assert drafted.status_code == 303, drafted.text
    (request_id,) = re.findall(
        r"/console/enterprise/transfers/([\w-]+)/offer", seller.get("/console/enterprise/transfers").text
    )
    assert (
        seller.post(
            f"/console/enterprise/transfers/{request_id}/offer", data={"form_token": "x4"}
        ).status_code
        == 303
    )
    assert (
        buyer.post(
            f"/console/enterprise/transfers/{request_id}/accept", data={"form_token": "x5"}
        ).status_code
        == 303
    )
    assert request_id in bureau.get("/console/bureau/approvals").text
    assert (
        bureau.post(f"/console/bureau/transfers/{request_id}/approve", data={"form_token": "x6"}).status_code
        == 303
    )
    ningbo = login(http, "ningbo")
    settled = ningbo.post(f"/console/bureau/transfers/{request_id}/approve", data={"form_token": "x7"})
    assert settled.status_code == 303, re.findall(r"<code>(\w+)</code>[^<]*", settled.text)
    page = buyer.get("/console/enterprise")
    assert "1.000 t/a" in page.text  # delivered into the buyer's holding, under Ningbo's cap
    assert "已交割" in buyer.get("/console/enterprise/transfers").text


# -- bilateral trade offers (协议转让) ---------------------------------------------------------------

TRADES = "/console/enterprise/trades"
YUYAO_COD = "j=330281;u=2030-12-31"


def _total(http: HttpWorld, alias: str, kind: str, instrument: str = "CNY", lot: str = "") -> int:
    with Session(http.engine) as s:
        rows = balances(s, account=f"{http.party(alias)}.{kind}")
    return sum(b.total for b in rows if b.instrument == instrument and b.lot == lot)


def _offer(http: HttpWorld, seller: TestClient, token: str, quantity: str, price: str = "21000") -> str:
    """Offer Yuyao COD to 余姚示例印染 through the form; the offer's id, from the flash message."""
    made = seller.post(
        TRADES,
        data={
            "form_token": token,
            "position": f"COD@{YUYAO_COD}",
            "buyer": http.party("yuyao_dye"),
            "quantity": quantity,
            "price": price,
        },
    )
    assert (made.status_code, made.headers["location"]) == (303, TRADES), made.text
    (offer_id,) = re.findall(r"报价 (\w+) 已签名发出", seller.get(TRADES).text)
    return str(offer_id)


def _allocate(http: HttpWorld, alias: str, kg: int) -> None:
    """Free Yuyao COD from the reserve, through the API (the console's allocation form is not the subject)."""
    payload = {
        "enterprise": http.party(alias),
        "instrument": "COD",
        "quantity_kg": kg,
        "valid_until": "2030-12-31",
        "paid_use": False,
    }
    allocated = http.post("yuyao", "/v1/allocations", payload)
    assert allocated.status_code == 200, allocated.text


def test_a_trade_offer_made_in_the_console_is_accepted_by_the_buyer_dvp(http: HttpWorld) -> None:
    seller, buyer = login(http, "yuyao_chem"), login(http, "yuyao_dye")
    _allocate(http, "yuyao_chem", 3_000)
    with Session(http.engine) as s:
        fund(s, http.registry, http.demo, "yuyao_dye", 5_000_000)
        s.commit()
    form = seller.get(TRADES).text
    assert f'<option value="{http.party("yuyao_dye")}"' in form
    assert http.party("ningbo_petro") not in form  # another city: a cross-city transfer, not a trade
    units = {alias: _total(http, alias, "holding", "COD", YUYAO_COD) for alias in ("yuyao_chem", "yuyao_dye")}
    cash = {alias: _total(http, alias, "cash") for alias in ("yuyao_chem", "yuyao_dye")}
    before = http.head()
    offer_id = _offer(http, seller, "tr2", "1.5")
    assert http.head() == before  # an offer is a consent kept aside, not a record
    incoming = buyer.get(TRADES).text
    assert f"{TRADES}/{offer_id}/accept" in incoming
    assert "31,500.00 元" in incoming  # 1.5 t at 21,000 CNY/t
    accepted = buyer.post(f"{TRADES}/{offer_id}/accept", data={"form_token": "tr3"})
    assert (accepted.status_code, accepted.headers["location"]) == (303, TRADES), accepted.text
    assert http.head() == before + 1
    assert f"已接受报价 {offer_id}，交易已交割（记录 {before}）" in buyer.get(TRADES).text
    assert _total(http, "yuyao_chem", "holding", "COD", YUYAO_COD) == units["yuyao_chem"] - 1_500
    assert _total(http, "yuyao_dye", "holding", "COD", YUYAO_COD) == units["yuyao_dye"] + 1_500
    assert _total(http, "yuyao_chem", "cash") == cash["yuyao_chem"] + 3_150_000
    assert _total(http, "yuyao_dye", "cash") == cash["yuyao_dye"] - 3_150_000
    assert "已成交" in seller.get(TRADES).text
    again = buyer.post(f"{TRADES}/{offer_id}/accept", data={"form_token": "tr3b"})
    assert (again.status_code, "trade_offer_not_pending" in again.text) == (409, True)
    assert http.head() == before + 1


def test_a_refused_trade_offer_names_the_field_and_the_code_and_writes_nothing(http: HttpWorld) -> None:
    seller = login(http, "yuyao_chem")
    _allocate(http, "yuyao_chem", 1_000)  # a position to offer from, whatever ran before
    before = http.head()
    with Session(http.engine) as s:
        offers_before = len(offers_of(s, actor=http.who("yuyao_chem").participant))
    across = seller.post(
        TRADES,
        data={
            "form_token": "tr4",
            "position": f"COD@{YUYAO_COD}",
            "buyer": http.party("ningbo_petro"),
            "quantity": "1",
            "price": "21000",
        },
    )
    assert across.status_code == 409
    assert "cross_jurisdiction_trade" in across.text
    assert "字段: 买方" in across.text  # the field, as the form labels it
    assert '<select name="buyer" aria-invalid="true">' in across.text
    assert 'name="quantity" type="text" value="1"' in across.text  # what was typed stays
    with Session(http.engine) as s:
        assert len(offers_of(s, actor=http.who("yuyao_chem").participant)) == offers_before
    held = _total(http, "yuyao_chem", "holding", "COD", YUYAO_COD)
    too_much = seller.post(  # more than the seller holds: refused when offered, not at acceptance
        TRADES,
        data={
            "form_token": "tr5",
            "position": f"COD@{YUYAO_COD}",
            "buyer": http.party("yuyao_dye"),
            "quantity": str(held // 1000 + 1),
            "price": "21000",
        },
    )
    assert too_much.status_code == 409
    assert "insufficient_balance" in too_much.text
    assert "余额不足" in too_much.text
    with Session(http.engine) as s:
        assert len(offers_of(s, actor=http.who("yuyao_chem").participant)) == offers_before
    assert http.head() == before


def test_the_seller_withdraws_and_the_buyer_declines_pending_trade_offers(http: HttpWorld) -> None:
    seller, buyer = login(http, "yuyao_chem"), login(http, "yuyao_dye")
    _allocate(http, "yuyao_chem", 1_000)
    before = http.head()
    withdrawn = _offer(http, seller, "tr7", "0.5", price="20000")
    assert seller.post(f"{TRADES}/{withdrawn}/withdraw", data={"form_token": "tr8"}).status_code == 303
    assert f"报价 {withdrawn} 已撤回" in seller.get(TRADES).text
    late = buyer.post(f"{TRADES}/{withdrawn}/accept", data={"form_token": "tr9"})
    assert late.status_code == 409
    assert "trade_offer_not_pending" in late.text
    outsider = login(http, "ningbo_petro").post(f"{TRADES}/{withdrawn}/withdraw", data={"form_token": "tr10"})
    assert outsider.status_code == 404
    assert "unknown_trade_offer" in outsider.text
    declined = _offer(http, seller, "tr11", "0.5", price="20000")
    assert buyer.post(f"{TRADES}/{declined}/withdraw", data={"form_token": "tr12"}).status_code == 303
    assert f"已拒绝报价 {declined}" in buyer.get(TRADES).text
    with Session(http.engine) as s:
        statuses = {o.id: o.status for o in offers_of(s, actor=http.who("yuyao_chem").participant)}
    assert statuses[withdrawn] is statuses[declined] is OfferStatus.WITHDRAWN
    assert http.head() == before
