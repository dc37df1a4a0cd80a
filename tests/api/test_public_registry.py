"""The public registry over the demo scenario, on SQLite and PostgreSQL: projects, issuances and
retirements by serial range, auction results only after close and winners by name only, caps per city;
no login, nothing private (party ids, credit codes, pledges, losing bidders); ETag, 304 and the 429."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from accounts.custody import Vault
from accounts.demo import register_demo
from accounts.model import Role
from accounts.service import participants
from api import demo
from api.app import create_app
from api.limits import Limits
from api.public.cache import PublicCache
from ledger.service import Registry, init_ledger
from market.auctions.state import get_auction
from market.auctions.tables import AuctionBidRow
from market.bluecarbon.service import ProjectSpec, get_batch, register_project
from market.issuance.service import cap_position
from market.pledges.tables import PledgeRow
from market.public.service import public_auctions

JSON_KINDS = ("projects", "issuances", "retirements", "auctions", "caps")
PAGES = ("/public", "/public/bluecarbon", "/public/auctions")


def test_the_public_registry_publishes_the_demo_without_a_login_and_nothing_private(
    engine: Engine, registry: Registry
) -> None:
    facts = demo.load(engine, registry, Vault.generate())
    client = TestClient(create_app(engine, registry, None), raise_server_exceptions=False)
    data = {kind: client.get(f"/v1/public/{kind}") for kind in JSON_KINDS}
    assert {kind: r.status_code for kind, r in data.items()} == dict.fromkeys(JSON_KINDS, 200)
    pages = {(path, lang): client.get(path, params={"lang": lang}) for path in PAGES for lang in ("zh", "en")}
    assert {key: r.status_code for key, r in pages.items()} == dict.fromkeys(pages, 200)
    with Session(engine) as s:
        _projects_issuances_and_retirements_match_the_registry(s, facts, data)
        _only_the_closed_auction_is_published_with_its_winners(s, facts, data, pages)
        _caps_are_the_bureaus_positions_by_city(s, data, pages)
        _nothing_private_is_in_any_answer(s, data, pages)


def _projects_issuances_and_retirements_match_the_registry(
    s: Session, facts: demo.DemoFacts, data: dict
) -> None:
    (project,) = data["projects"].json()
    assert project["project"] == facts.blue_carbon_project
    assert project["households"] == 518
    assert project["owner_name"] == "嵊泗示例贻贝养殖专业合作社"
    (batch,) = data["issuances"].json()
    row = get_batch(s, batch=batch["batch"])
    assert (batch["serial_start"], batch["serial_end"]) == (row.serial_start, row.serial_end)
    assert (batch["issued_kg"], batch["buffer_kg"]) == (row.issued_kg, row.buffer_kg)
    (retired,) = data["retirements"].json()
    assert retired["batch"] == row.batch
    assert retired["tonnes"] == 1_000
    assert sum(end - start + 1 for start, end in retired["serials"]) == 1_000
    assert all(row.serial_start <= start <= end <= row.serial_end for start, end in retired["serials"])
    assert retired["reason"] == "抵消储运作业排放（示例）"
    assert retired["beneficiary"]


def _only_the_closed_auction_is_published_with_its_winners(
    s: Session, facts: demo.DemoFacts, data: dict, pages: dict
) -> None:
    published = {a["auction_id"]: a for a in data["auctions"].json()}
    assert set(published) == {facts.settled_auction}  # the live one is still taking bids
    result = get_auction(s, auction_id=facts.settled_auction).result
    assert result is not None
    shown = published[facts.settled_auction]
    assert shown["sold_kg"] == result.sold_kg
    assert shown["revenue_fen"] == result.revenue_fen == sum(w["amount_fen"] for w in shown["winners"])
    names = {p.party: p.name for p in participants(s)}
    assert sorted(w["name"] for w in shown["winners"]) == sorted(names[a.bidder] for a in result.allocations)
    html = pages[("/public/auctions", "zh")].text
    assert "竞价成交公示" in html
    assert "余姚示例化工有限公司" in html
    assert facts.live_auction not in html
    # the bidder who lost (the lowest of four: top 70% win) is named nowhere
    losers = {names[p] for p in _bidders(s, facts.settled_auction)} - {w["name"] for w in shown["winners"]}
    assert losers
    for loser in losers:
        assert loser not in data["auctions"].text
        assert loser not in html
    # never before the close, whatever the cache holds: the read model itself filters on ``now``
    assert public_auctions(s, now=result.closed_at - timedelta(seconds=1)) == []


def _bidders(s: Session, auction_id: str) -> set[str]:
    return {r.bidder for r in s.exec(select(AuctionBidRow).where(AuctionBidRow.auction_id == auction_id))}


def _caps_are_the_bureaus_positions_by_city(s: Session, data: dict, pages: dict) -> None:
    caps = data["caps"].json()
    yuyao = [c for c in caps if c["jurisdiction"] == "330281" and c["instrument"] == "COD"]
    assert yuyao
    for c in yuyao:
        until = date.fromisoformat(c["valid_until"])
        p = cap_position(s, jurisdiction="330281", instrument="COD", valid_until=until)
        assert (c["cap_kg"], c["allocated_kg"], c["reserve_kg"]) == (p.cap_kg, p.allocated_kg, p.reserve_kg)
        assert (c["city"], c["city_zh"]) == ("Yuyao", "余姚市")
    zh = pages[("/public", "zh")].text
    assert "余姚市" in zh
    assert "总量使用（吨/年）" in zh  # the chart, in Chinese, in one unit
    assert "Cap use (t/a)" in pages[("/public", "en")].text


def _nothing_private_is_in_any_answer(s: Session, data: dict, pages: dict) -> None:
    texts = [r.text for r in data.values()] + [r.text for r in pages.values()]
    private = [
        p for p in participants(s) if p.role in (Role.ENTERPRISE, Role.BANK, Role.COOPERATIVE, Role.OPERATOR)
    ]
    for p in private:
        code = p.party.split(":", 1)[1]
        for text in texts:
            assert p.party not in text
            assert code not in text  # no credit code either
    banks = [p.name for p in private if p.role is Role.BANK]
    pledges = s.exec(select(PledgeRow)).all()
    assert pledges
    for text in texts:
        assert ".holding" not in text
        assert ".cash" not in text
        for name in banks:
            assert name not in text
        for pledge in pledges:
            assert f'"{pledge.id}"' not in text


def _empty_app(engine: Engine, registry: Registry, limits: Limits | None = None) -> TestClient:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="public test")
        s.commit()
    return TestClient(create_app(engine, registry, None, limits), raise_server_exceptions=False)


def test_public_answers_carry_an_etag_and_a_repeat_gets_304(
    sqlite_engine: Engine, registry: Registry
) -> None:
    client = _empty_app(sqlite_engine, registry)
    first = client.get("/v1/public/caps")
    assert first.status_code == 200
    assert first.json() == []
    assert first.headers["cache-control"] == "public, max-age=30"
    etag = first.headers["etag"]
    again = client.get("/v1/public/caps", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    page = client.get("/public/auctions")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert client.get("/public/auctions", headers={"If-None-Match": page.headers["etag"]}).status_code == 304


def test_the_cache_holds_an_answer_for_its_ttl_then_reads_again(
    sqlite_engine: Engine, registry: Registry
) -> None:
    client = _empty_app(sqlite_engine, registry)
    now = [0.0]
    client.app.state.public_cache = PublicCache(ttl_s=30, clock=lambda: now[0])  # type: ignore[attr-defined]
    assert client.get("/v1/public/projects").json() == []
    with Session(sqlite_engine) as s:  # a project registered behind the cache's back
        coop = register_demo(s, registry=registry)["shengsi_coop"]
        spec = ProjectSpec(project="P-1", name="测试项目", location="嵊泗", area_mu=Decimal(10), households=3)
        register_project(s, actor=coop.participant, spec=spec)
        s.commit()
    now[0] = 29.0
    assert client.get("/v1/public/projects").json() == []  # still the cached answer
    now[0] = 31.0
    assert [p["project"] for p in client.get("/v1/public/projects").json()] == ["P-1"]


def test_anonymous_reads_past_the_per_address_rate_get_429_with_retry_after(
    sqlite_engine: Engine, registry: Registry
) -> None:
    client = _empty_app(sqlite_engine, registry, Limits(public_per_s_address=0.5, public_burst_address=3))
    codes = [client.get("/v1/public/auctions").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    refused = client.get("/v1/public/auctions")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    page = client.get("/public")
    assert page.status_code == 429
    assert page.headers["retry-after"]
    assert "text/html" in page.headers["content-type"]


def test_the_login_page_links_to_the_public_registry(sqlite_engine: Engine, registry: Registry) -> None:
    client = _empty_app(sqlite_engine, registry)
    login = client.get("/console/login", params={"lang": "zh"})
    assert 'href="/public?lang=zh"' in login.text
    assert "公开信息（无需登录）" in login.text
    assert (
        "security" not in json.loads(client.get("/openapi.json").text)["paths"]["/v1/public/auctions"]["get"]
    )
