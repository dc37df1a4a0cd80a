"""The console's one to-do list (待办, /console/todo): a custody user signs, rejects or withdraws any
proposal awaiting it alone; an enterprise accepts a buy-back offer (收储) there, which it could not
from any page before, and declines a trade offer; the proposer withdraws its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from accounts.users import add_user, set_controls
from ledger.crypto import SigningKey
from ledger.journal import parse_line
from ledger.service import Registry, journal_lines
from market.consent import Consent
from market.issuance import service as issuance
from market.reserve.offers import buy_back_offers_of, offer_buy_back
from market.trades.offers import OfferStatus, offer_trade, offers_of
from tests.api.conftest import HttpWorld, console_login
from tests.api.test_console_pages import UNTIL, allocate, http, login
from tests.browser.world import fund
from tests.conftest import engine_for

__all__ = ["http"]  # the module's world: Yuyao's cap, cash for its enterprises

TODO = "/console/todo"


def _buy_back(http: HttpWorld, kg: int) -> str:
    yuyao = http.who("yuyao")
    with Session(http.engine) as s:
        fund(s, http.registry, http.demo, "yuyao", 5_000_000)
        made = offer_buy_back(
            s,
            actor=yuyao.participant,
            enterprise=http.party("yuyao_dye"),
            instrument="COD",
            quantity_kg=kg,
            valid_until=UNTIL,
            amount_fen=2_000_000,
            signed_by=Consent.custody(yuyao.party, yuyao.key),
            now=http.registry.clock(),
        )
        s.commit()
    return made.id


def _trade_offer(http: HttpWorld, kg: int) -> str:
    chem = http.who("yuyao_chem")
    with Session(http.engine) as s:
        made = offer_trade(
            s,
            actor=chem.participant,
            buyer=http.party("yuyao_dye"),
            instrument="COD",
            valid_until=UNTIL,
            quantity_kg=kg,
            price_fen_per_t=1_000_000,
            signed_by=Consent.custody(chem.party, chem.key),
            now=http.registry.clock(),
        )
        s.commit()
    return made.id


def _awaiting(page: str) -> list[str]:
    section = page.split('id="awaiting"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<tr data-proposal="(\w+)">', section)


def test_an_enterprise_accepts_a_buy_back_and_declines_a_trade_offer_from_its_to_do_list(
    http: HttpWorld,
) -> None:
    allocate(http, "yuyao_dye", 2_000)
    allocate(http, "yuyao_chem", 1_000)
    buy_back, trade = _buy_back(http, 1_000), _trade_offer(http, 500)
    dye, chem = login(http, "yuyao_dye"), login(http, "yuyao_chem")
    page = dye.get(TODO).text
    assert {buy_back, trade} <= set(_awaiting(page))
    assert "收储要约" in page
    assert trade not in _awaiting(chem.get(TODO).text)  # the seller signed when it offered
    head = http.head()
    signed = dye.post(f"{TODO}/{buy_back}/sign", data={"form_token": "td1"})
    assert (signed.status_code, signed.headers["location"]) == (303, TODO), signed.text
    assert http.head() == head + 1
    again = dye.post(f"{TODO}/{buy_back}/sign", data={"form_token": "td1"})  # a double submit
    assert again.status_code == 303
    assert http.head() == head + 1
    with Session(http.engine) as s:
        (done,) = [o for o in buy_back_offers_of(s, actor=http.who("yuyao").participant) if o.id == buy_back]
    assert (done.status, done.buy_back_seq) == (OfferStatus.ACCEPTED, head)
    late = dye.post(f"{TODO}/{buy_back}/reject", data={"form_token": "td2"})
    assert (late.status_code, "proposal_closed" in late.text) == (409, True)
    rejected = dye.post(f"{TODO}/{trade}/reject", data={"form_token": "td3"})
    assert rejected.status_code == 303
    assert http.head() == head + 1
    with Session(http.engine) as s:
        (offer,) = [o for o in offers_of(s, actor=http.who("yuyao_chem").participant) if o.id == trade]
    assert offer.status is OfferStatus.WITHDRAWN
    assert {buy_back, trade}.isdisjoint(_awaiting(dye.get(TODO).text))


def test_the_proposer_withdraws_from_its_to_do_page_and_nobody_else_can(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 500)
    trade = _trade_offer(http, 300)
    chem, dye = login(http, "yuyao_chem"), login(http, "yuyao_dye")
    mine = chem.get(TODO).text.split('id="mine"', 1)[1].split("</section>", 1)[0]
    assert f'<tr data-proposal="{trade}">' in mine
    refused = dye.post(f"{TODO}/{trade}/withdraw", data={"form_token": "tw1"})
    assert refused.status_code == 422
    outsider = login(http, "ningbo_petro").post(f"{TODO}/{trade}/sign", data={"form_token": "tw2"})
    assert (outsider.status_code, "unknown_proposal" in outsider.text) == (404, True)
    withdrawn = chem.post(f"{TODO}/{trade}/withdraw", data={"form_token": "tw3"})
    assert withdrawn.status_code == 303
    assert "已撤回事项" in chem.get(TODO).text


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bureau_users(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[HttpWorld, dict[str, str]]]:
    """A world of its own whose Yuyao bureau has a clerk and an approver and a four-eyes threshold of
    1 t for major-project allocations; the users' access keys."""
    engine = engine_for(request.param, tmp_path)
    world = HttpWorld(engine, Registry(SigningKey.from_seed(bytes(range(32))), checkpoint_every=5))
    yuyao = world.who("yuyao")
    tokens = {}
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
        for user, role in (("wang", "clerk"), ("li", "approver")):
            _, issued = add_user(
                s,
                registry=world.registry,
                vault=world.vault,
                actor=yuyao.participant,
                acting_user=None,
                user_id=user,
                name=user,
                role=role,
            )
            tokens[user] = issued.token
        limits = {"allocation.major_project": 1_000}
        set_controls(
            s, registry=world.registry, vault=world.vault, actor=yuyao.participant, four_eyes_kg=limits
        )
        s.commit()
    yield world, tokens
    if request.param == "sqlite":
        engine.dispose()


def _as(http: HttpWorld, token: str) -> TestClient:
    client = TestClient(http.client.app, raise_server_exceptions=True, follow_redirects=False)
    assert console_login(client, token).status_code == 303
    return client


def test_a_clerks_allocation_above_the_threshold_waits_in_the_approvers_to_do_list(
    bureau_users: tuple[HttpWorld, dict[str, str]],
) -> None:
    http, tokens = bureau_users
    clerk, approver = _as(http, tokens["wang"]), _as(http, tokens["li"])
    form = {
        "instrument": "COD",
        "purpose": "major_project",
        "project": "扩建项目",
        "enterprise": http.party("yuyao_dye"),
        "quantity": "2.5",
        "valid_until": UNTIL.isoformat(),
        "paid_use": "free",
    }
    head = http.head()
    made = clerk.post("/console/bureau/allocate", data={**form, "form_token": "fa1"})
    assert (made.status_code, made.headers["location"]) == (303, TODO), made.text
    assert http.head() == head  # a proposal, not a record (and not a refusal)
    assert _awaiting(clerk.get(TODO).text) == []  # the clerk cannot approve its own
    (proposal,) = _awaiting(approver.get(TODO).text)
    signed = approver.post(f"{TODO}/{proposal}/sign", data={"form_token": "fa2"})
    assert signed.status_code == 303, signed.text
    assert http.head() == head + 1
    with Session(http.engine) as s:
        (line,) = journal_lines(s, start=head, stop=head + 1)
    record = parse_line(line)
    assert record.body["meta"]["approved_by"] == {http.party("yuyao"): ["wang", "li"]}
