"""The console's history, filters, to-do panel, remaining needs and bureau refusals, without a browser,
on SQLite and PostgreSQL: only a participant's own records show, each proof verifies offline, a filter
narrows a list and stays in its page links, a refusal writes its reason and releases what was held."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.cli import main
from ledger.audit import verify_certificate_json
from ledger.crypto import SigningKey, b64e
from ledger.model import Lot
from ledger.service import Registry, balances
from market.auctions import service as auctions
from market.auctions.model import AuctionDesign, AuctionTerms, FixedDeposit
from market.consent import Consent
from market.crosscity import service as crosscity
from market.crosscity.service import TransferStatus
from market.issuance import service as issuance
from market.issuance.offers import offer_allocation
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from tests.api.conftest import HttpWorld, console_login
from tests.browser.world import fund
from tests.conftest import engine_for

pytestmark = pytest.mark.xdist_group("api_console_pages")

UNTIL = date(2030, 12, 31)
YUYAO_LOT = Lot(jurisdiction="330281", valid_until=UNTIL)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def http(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpWorld]:
    """One world per engine for the module: Yuyao's cap of 40 t COD, cash for its enterprises."""
    engine = engine_for(request.param, tmp_path_factory.mktemp("console_pages"))
    world = HttpWorld(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5))
    yuyao = world.who("yuyao")
    with Session(engine) as s:
        issuance.set_cap(
            s,
            registry=world.registry,
            actor=yuyao.participant,
            signed_by=Consent.custody(yuyao.party, yuyao.key),
            instrument="COD",
            quantity_kg=40_000,
            valid_until=UNTIL,
        )
        for alias in ("yuyao_chem", "yuyao_dye", "ningbo_petro"):
            fund(s, world.registry, world.demo, alias, 10_000_000)
        s.commit()
    yield world
    if request.param == "sqlite":
        engine.dispose()


def login(http: HttpWorld, alias: str) -> TestClient:
    client = TestClient(http.client.app, raise_server_exceptions=True, follow_redirects=False)
    assert console_login(client, http.tokens[alias]).status_code == 303
    return client


def allocate(http: HttpWorld, alias: str, kg: int) -> int:
    """Free Yuyao COD from the reserve to ``alias``; the record's number."""
    yuyao = http.who("yuyao")
    with Session(http.engine) as s:
        done = issuance.allocate(
            s,
            registry=http.registry,
            actor=yuyao.participant,
            signed_by=Consent.custody(yuyao.party, yuyao.key),
            enterprise=http.party(alias),
            instrument="COD",
            quantity_kg=kg,
            valid_until=UNTIL,
            purpose="major_project",  # not every demo enterprise holds a permit for an initial one
            project="扩建项目",
            paid_use=False,
        )
        s.commit()
    return done.receipt.seq


def apply_pledge(http: HttpWorld, alias: str, bank: str, kg: int) -> str:
    with Session(http.engine) as s:
        applied = pledge.apply_for_pledge(
            s,
            registry=http.registry,
            actor=http.who(alias).participant,
            bank=http.party(bank),
            instrument_code="COD",
            lot=YUYAO_LOT,
            quantity_kg=kg,
        )
        s.commit()
    return applied.id


def _seqs(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'<tr data-seq="(\d+)">', page)}


# -- history ------------------------------------------------------------------------------------------


def test_the_history_shows_only_the_participants_own_records_each_with_a_proof(
    http: HttpWorld, tmp_path: Path
) -> None:
    mine, theirs = allocate(http, "yuyao_chem", 1_000), allocate(http, "yuyao_dye", 1_000)
    chem = login(http, "yuyao_chem")
    page = chem.get("/console/history")
    assert page.status_code == 200
    assert mine in _seqs(page.text)
    assert theirs not in _seqs(page.text)  # another party's record, though of the same city and day
    assert "重大项目分配" in page.text
    assert "+1.000 t/a" in page.text  # what arrived on its holding, in display units
    proof = chem.get(f"/console/history/{mine}/proof.json")
    assert proof.status_code == 200
    assert f'filename="record-{mine}-proof.json"' in proof.headers["content-disposition"]
    checked = verify_certificate_json(json.loads(proof.text), http.registry.key.public)
    assert checked.ok, checked
    assert checked.seq == mine
    kept = tmp_path / "proof.json"
    kept.write_text(proof.text)  # as downloaded: the command line checks it offline too
    assert main(["audit", "certificate", str(kept), f"--registry-key={b64e(http.registry.key.public)}"]) == 0
    refused = chem.get(f"/console/history/{theirs}/proof.json")
    assert refused.status_code == 403
    assert "无此权限" in refused.text
    dye = login(http, "yuyao_dye").get("/console/history")
    assert theirs in _seqs(dye.text)
    assert mine not in _seqs(dye.text)


def test_a_bank_sees_the_records_of_the_holds_it_controls(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 500)
    pledge_id = apply_pledge(http, "yuyao_chem", "bank_yuyao", 500)
    bank = login(http, "bank_yuyao")
    before = _seqs(bank.get("/console/history").text)
    register_pledge(http, pledge_id, 500)
    after = bank.get("/console/history?action=pledge.register")
    assert len(_seqs(after.text) - before) == 1  # the registration placing the hold it controls
    assert "抵质押登记" in after.text
    assert _seqs(login(http, "bank_ningbo").get("/console/history").text).isdisjoint(_seqs(after.text))


def register_pledge(
    http: HttpWorld, pledge_id: str, kg: int, bank_alias: str = "bank_yuyao", owner_alias: str = "yuyao_chem"
) -> None:
    """Yuyao's bureau approves ``kg``, the bank records a loan and the owner confirms: registered."""
    bureau, bank, owner = http.who("yuyao"), http.who(bank_alias), http.who(owner_alias)
    with Session(http.engine) as s:
        pledge.approve_pledge(
            s,
            registry=http.registry,
            actor=bureau.participant,
            pledge_id=pledge_id,
            approved_kg=kg,
            certificate_no=f"CERT-{pledge_id}",
            signed_by=Consent.custody(bureau.party, bureau.key),
        )
        pledge.record_loan(
            s,
            registry=http.registry,
            actor=bank.participant,
            pledge_id=pledge_id,
            loan_id=f"LN-{pledge_id}",
            amount_fen=100_000,
            rate_bp=385,
            term_months=12,
            signed_by=Consent.custody(bank.party, bank.key),
        )
        pledge.confirm_pledge(
            s,
            registry=http.registry,
            actor=owner.participant,
            pledge_id=pledge_id,
            signed_by=Consent.custody(owner.party, owner.key),
        )
        s.commit()


def test_history_filters_narrow_the_records_and_stay_in_the_page_links(http: HttpWorld) -> None:
    with Session(http.engine) as s:
        for _ in range(22):
            fund(s, http.registry, http.demo, "ningbo_petro", 100)
        s.commit()
    petro = login(http, "ningbo_petro")
    deposits = petro.get("/console/history?action=cash.deposit&instrument=CNY")
    assert len(_seqs(deposits.text)) == 20  # a page
    assert "共 23 条" in deposits.text  # 22 here and the module's first deposit
    assert 'href="?instrument=CNY&amp;action=cash.deposit&amp;page=2"' in deposits.text
    second = petro.get("/console/history?action=cash.deposit&instrument=CNY&page=2")
    assert len(_seqs(second.text)) == 3
    assert _seqs(second.text).isdisjoint(_seqs(deposits.text))
    assert (
        'href="/console/history?action=cash.deposit&amp;instrument=CNY&amp;page=2&amp;lang=en"' in second.text
    )
    assert _seqs(petro.get("/console/history?instrument=COD").text) == set()
    tomorrow = (http.registry.clock() + timedelta(days=2)).date().isoformat()
    assert _seqs(petro.get(f"/console/history?since={tomorrow}").text) == set()
    odd = petro.get("/console/history?since=0001-01-01&until=9999-12-31&page=-3&instrument=XYZ")
    assert odd.status_code == 200  # out-of-range days and unknown values are no filter, not an error
    assert petro.get("/console/history/99999999999999999999/proof.json").status_code == 422


def test_a_filter_narrows_the_holdings_and_the_auction_list(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 700)
    chem = login(http, "yuyao_chem")
    everything = chem.get("/console/enterprise").text
    assert "<tr><td>COD</td>" in everything
    assert "<tr><td>CNY</td>" in everything
    cash_only = chem.get("/console/enterprise?instrument=CNY").text
    assert "<tr><td>COD</td>" not in cash_only  # the balance rows of rights are filtered out
    assert "<tr><td>CNY</td>" in cash_only
    assert "<tr><td>COD</td>" in chem.get("/console/enterprise?q=330281").text
    _open_auction(http, "YY-FILTER-OB", AuctionDesign.ONLINE_BIDDING)
    _open_auction(http, "YY-FILTER-UP", AuctionDesign.UNIFORM_PRICE)
    listed = chem.get("/console/auctions?design=uniform_price").text
    assert "YY-FILTER-UP" in listed
    assert "YY-FILTER-OB" not in listed
    searched = chem.get("/console/auctions?q=filter-ob").text
    assert "YY-FILTER-OB" in searched
    assert "YY-FILTER-UP" not in searched


def _open_auction(http: HttpWorld, auction_id: str, design: AuctionDesign) -> None:
    yuyao = http.who("yuyao")
    now = http.registry.clock()
    terms = AuctionTerms(
        auction_id=auction_id,
        instrument="COD",
        jurisdiction="330281",
        quantity_kg=1_000,
        reserve_price_fen_per_t=2_000_000,
        design=design,
        opens_at=now,
        closes_at=now + timedelta(days=1),
        deposit_rule=FixedDeposit(100_000),
        max_bids_per_bidder=10,
    )
    with Session(http.engine) as s:
        auctions.open_auction(
            s,
            registry=http.registry,
            actor=yuyao.participant,
            signed_by=Consent.custody(yuyao.party, yuyao.key),
            terms=terms,
            valid_until=UNTIL,
            now=now,
        )
        s.commit()


# -- to-do, needs --------------------------------------------------------------------------------------


def _todo(page: str) -> dict[str, int]:
    return {
        k: int(n) for k, n in re.findall(r'<li data-todo="([\w.]+)"><span class="count">(\d+)</span>', page)
    }


def test_the_to_do_panel_counts_what_waits_for_each_role_and_links_to_its_form(http: HttpWorld) -> None:
    allocate(http, "yuyao_dye", 900)
    bureau = login(http, "yuyao")
    before = _todo(bureau.get("/console/bureau").text).get("todo.pledges_to_approve", 0)
    pledge_id = apply_pledge(http, "yuyao_dye", "bank_ningbo", 300)
    home = bureau.get("/console/bureau").text
    assert _todo(home)["todo.pledges_to_approve"] == before + 1
    assert "抵质押申请待核准" in home
    assert 'href="/console/bureau/approvals"' in home
    bank = login(http, "bank_ningbo")
    assert "todo.loans_to_record" not in _todo(bank.get("/console/bank").text)
    with Session(http.engine) as s:
        pledge.approve_pledge(
            s,
            registry=http.registry,
            actor=http.who("yuyao").participant,
            pledge_id=pledge_id,
            approved_kg=300,
            certificate_no="CERT-TODO",
            signed_by=Consent.custody(http.party("yuyao"), http.who("yuyao").key),
        )
        offer_allocation(
            s,
            actor=http.who("yuyao").participant,
            enterprise=http.party("yuyao_dye"),
            instrument="COD",
            quantity_kg=100,
            valid_until=UNTIL,
            purpose="major_project",
            project="扩建项目",
            signed_by=Consent.custody(http.party("yuyao"), http.who("yuyao").key),
            now=http.registry.clock(),
        )
        s.commit()
    assert _todo(bank.get("/console/bank").text)["todo.loans_to_record"] == 1
    dye = login(http, "yuyao_dye").get("/console/enterprise").text
    assert _todo(dye)["todo.paid_use_offers"] == 1
    assert "有偿使用要约待您确认" in dye
    english = login(http, "yuyao_dye").get("/console/enterprise?lang=en").text
    assert "paid-use offers await your consent" in english


def test_the_needs_pages_show_what_remains_of_a_need(http: HttpWorld) -> None:
    yuyao, chem = http.who("yuyao"), http.who("yuyao_chem")
    with Session(http.engine) as s:
        auctions.register_need(
            s,
            actor=yuyao.participant,
            enterprise=chem.party,
            instrument="COD",
            approved_kg=5_000,
            project="余姚示例扩建",
            now=http.registry.clock(),
        )
        s.commit()
    _open_auction(http, "YY-NEED-1", AuctionDesign.ONLINE_BIDDING)
    with Session(http.engine) as s:
        auctions.place_bid(
            s,
            registry=http.registry,
            actor=chem.participant,
            signed_by=Consent.custody(chem.party, chem.key),
            auction_id="YY-NEED-1",
            price_fen_per_t=2_100_000,
            quantity_kg=1_000,
            now=http.registry.clock(),
        )
        s.commit()
    row = re.compile(r'data-need="' + re.escape(chem.party) + r'\|COD">(.*?)</tr>', re.S)
    for client, path in (
        (login(http, "yuyao"), "/console/bureau/needs"),
        (login(http, "yuyao_chem"), "/console/enterprise"),
    ):
        cells = re.findall(
            r'<td class="num[^"]*">(?:<strong>)?([^<]+)', row.findall(client.get(path).text)[0]
        )
        assert cells == ["5.000 t/a", "0.000 t/a", "1.000 t/a", "4.000 t/a"], path  # approved, won, bid, left


# -- refusals ---------------------------------------------------------------------------------------------


def test_the_bureau_refuses_a_pledge_application_with_a_reason(http: HttpWorld) -> None:
    allocate(http, "yuyao_dye", 400)
    pledge_id = apply_pledge(http, "yuyao_dye", "bank_yuyao", 400)
    bureau = login(http, "yuyao")
    assert f"/console/bureau/pledges/{pledge_id}/reject" in bureau.get("/console/bureau/approvals").text
    head = http.head()
    empty = bureau.post(
        f"/console/bureau/pledges/{pledge_id}/reject", data={"form_token": "rj1", "reason": " "}
    )
    assert empty.status_code == 422
    assert "驳回理由" in empty.text  # the field, as the form labels it
    done = bureau.post(
        f"/console/bureau/pledges/{pledge_id}/reject", data={"form_token": "rj2", "reason": "核定量不足"}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/console/bureau/approvals")
    with Session(http.engine) as s:
        refused = pledge.get_pledge(s, actor=http.who("yuyao").participant, pledge_id=pledge_id)
    assert (refused.status, refused.closed_by, refused.reason) == (
        PledgeStatus.CANCELLED,
        http.party("yuyao"),
        "核定量不足",
    )
    assert http.head() == head  # nothing was held, nothing is written
    assert f"/console/bureau/pledges/{pledge_id}/reject" not in bureau.get("/console/bureau/approvals").text
    other = login(http, "ningbo").post(
        f"/console/bureau/pledges/{pledge_id}/reject", data={"form_token": "rj3", "reason": "x"}
    )
    assert other.status_code in (403, 409)


def test_the_bureau_refuses_a_cross_city_request_and_the_held_units_return(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 2_000)
    seller, buyer = http.who("yuyao_chem"), http.who("ningbo_petro")
    holding = f"{seller.party}.holding"
    with Session(http.engine) as s:
        held_before = sum(b.held for b in balances(s, account=holding))
        demand = crosscity.post_demand(
            s,
            registry=http.registry,
            actor=buyer.participant,
            instrument_code="COD",
            quantity_kg=1_000,
            max_price_fen_per_tonne=3_000_000,
            valid_until=UNTIL,
            project="宁波扩建",
        )
        req = crosscity.open_transfer(
            s,
            registry=http.registry,
            actor=seller.participant,
            demand_id=demand.id,
            lot=YUYAO_LOT,
            quantity_kg=1_000,
            price_fen_per_tonne=2_500_000,
            expires_at=http.registry.clock() + timedelta(days=5),
        )
        crosscity.offer_transfer(
            s,
            registry=http.registry,
            actor=seller.participant,
            request_id=req.id,
            signed_by=Consent.custody(seller.party, seller.key),
        )
        crosscity.accept_transfer(
            s,
            registry=http.registry,
            actor=buyer.participant,
            request_id=req.id,
            signed_by=Consent.custody(buyer.party, buyer.key),
        )
        s.commit()
        assert sum(b.held for b in balances(s, account=holding)) == held_before + 1_000
    bureau = login(http, "yuyao")
    done = bureau.post(
        f"/console/bureau/transfers/{req.id}/reject", data={"form_token": "rt1", "reason": "项目未通过环评"}
    )
    assert done.status_code == 303, done.text
    assert "已驳回跨地市交易申请" in bureau.get("/console/bureau/approvals").text
    with Session(http.engine) as s:
        after = crosscity.get_transfer(s, actor=http.who("yuyao").participant, request_id=req.id)
        assert (after.status, after.reason) == (TransferStatus.REJECTED, "项目未通过环评")
        assert sum(b.held for b in balances(s, account=holding)) == held_before  # released in one record


def test_a_refused_allocation_reads_in_chinese_with_tonnes_per_year(http: HttpWorld) -> None:
    bureau = login(http, "yuyao")
    head = http.head()
    refused = bureau.post(
        "/console/bureau/allocate",
        data={
            "form_token": "cap1",
            "enterprise": http.party("yuyao_chem"),
            "instrument": "COD",
            "quantity": "500",
            "valid_until": "2030-12-31",
            "purpose": "initial",
        },
    )
    assert refused.status_code == 409
    text = refused.text
    assert "超出总量控制" in text
    assert re.search(r"分配 500\.000 t/a 超过总量上限 40\.000 t/a", text)
    assert "kg" not in re.sub(r"<[^>]+>", "", text)  # no raw kilograms anywhere on the page
    assert "allocating" not in text
    english = bureau.post(
        "/console/bureau/allocate?lang=en",
        data={
            "form_token": "cap2",
            "enterprise": http.party("yuyao_chem"),
            "instrument": "COD",
            "quantity": "500",
            "valid_until": "2030-12-31",
            "purpose": "initial",
        },
    )
    assert "allocating 500.000 t/a exceeds the cap of 40.000 t/a" in english.text
    assert http.head() == head


# -- buy-back and expiry ------------------------------------------------------------------------------


def test_the_bureau_offers_a_buy_back_and_lists_the_offers_by_state(http: HttpWorld) -> None:
    allocate(http, "yuyao_dye", 1_500)
    bureau = login(http, "yuyao")
    form = bureau.get("/console/bureau/buy-back").text
    position = f"{http.party('yuyao_dye')}|COD@j=330281;u=2030-12-31"
    assert f'value="{position}"' in form
    head = http.head()
    too_much = bureau.post(
        "/console/bureau/buy-back",
        data={"form_token": "bb0", "position": position, "quantity": "999", "amount": "1000"},
    )
    assert too_much.status_code == 409
    assert "余额不足" in too_much.text
    assert "t/a" in too_much.text  # what is free, in display units
    made = bureau.post(
        "/console/bureau/buy-back",
        data={
            "form_token": "bb1",
            "position": position,
            "quantity": "1",
            "amount": "20000",
            "basis": "收储 1 号",
        },
    )
    assert (made.status_code, made.headers["location"]) == (303, "/console/bureau/buy-back")
    assert http.head() == head  # an offer writes no record until the enterprise consents
    page = bureau.get("/console/bureau/buy-back").text
    assert "收储要约" in page
    assert "待企业确认" in page
    assert "20,000.00 元" in page
    (offer_id,) = re.findall(r'<tr data-offer="(\w+)">', page)
    assert offer_id in bureau.get("/console/bureau/buy-back?status=pending").text
    assert offer_id not in bureau.get("/console/bureau/buy-back?status=accepted").text
    home = login(http, "yuyao_dye").get("/console/enterprise").text
    assert _todo(home)["todo.buy_back_offers"] == 1  # the enterprise sees the offer waiting for it
    assert f'<tr data-buyback="{offer_id}">' in home
    withdrawn = bureau.post(f"/console/bureau/buy-back/{offer_id}/withdraw", data={"form_token": "bb2"})
    assert withdrawn.status_code == 303
    assert offer_id in bureau.get("/console/bureau/buy-back?status=withdrawn").text
    assert "todo.buy_back_offers" not in _todo(login(http, "yuyao_dye").get("/console/enterprise").text)


def test_the_expiry_page_lists_rights_by_city_with_the_days_left(http: HttpWorld) -> None:
    bureau = login(http, "yuyao")
    page = bureau.get("/console/bureau/expiry?days=3650").text
    assert 'data-city="330281"' in page
    assert "剩余" in page
    assert 'data-state="expiring"' in page
    near = bureau.get("/console/bureau/expiry?days=30").text
    assert 'data-state="expiring"' not in near  # Yuyao's rights here run to 2030
    assert "没有即将到期或已过期的排污权" in near
    assert login(http, "yuyao_chem").get("/console/bureau/expiry").status_code == 403
