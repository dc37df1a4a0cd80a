"""The bureau's end of a default in the console, without a browser, on SQLite and PostgreSQL: once the
bank has enforced a pledge, the bureau starts its forced auction (拍卖处置) under any design, the ascending
one too; before enforcement, or for another role, it is refused and nothing is written. And the
enterprise's pledge and cross-city lists narrow by status and by a search, like the other long lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from api.console.web import CST
from market.auctions.model import AuctionDesign
from market.auctions.state import get_auction
from market.consent import Consent
from market.crosscity import service as crosscity
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from tests.api.conftest import HttpWorld
from tests.api.test_console_pages import (
    UNTIL,
    YUYAO_LOT,
    allocate,
    apply_pledge,
    http,
    login,
    register_pledge,
)

__all__ = ["http"]  # the module's world, one per engine

pytestmark = pytest.mark.xdist_group("api_console_defaults")


def _enforce(http: HttpWorld, pledge_id: str) -> None:
    bank = http.who("bank_yuyao")
    with Session(http.engine) as s:
        pledge.enforce_pledge(
            s,
            registry=http.registry,
            actor=bank.participant,
            pledge_id=pledge_id,
            signed_by=Consent.custody(bank.party, bank.key),
        )
        s.commit()


def _form(http: HttpWorld, token: str, auction_id: str, **extra: str) -> dict[str, str]:
    closes = (http.registry.clock() + timedelta(hours=2)).astimezone(CST).strftime("%Y-%m-%dT%H:%M")
    return {
        "form_token": token,
        "auction_id": auction_id,
        "quantity": "0.600",
        "reserve_price": "8000",
        "design": "online_bidding",
        "closes_at": closes,
        "deposit": "1000",
        "reason": "贷款逾期未还",
        **extra,
    }


def test_the_bureau_starts_the_forced_auction_the_bank_enforced_under_the_ascending_design(
    http: HttpWorld,
) -> None:
    allocate(http, "yuyao_chem", 600)
    pledge_id = apply_pledge(http, "yuyao_chem", "bank_yuyao", 600)
    register_pledge(http, pledge_id, 600)
    bureau = login(http, "yuyao")
    assert pledge_id not in bureau.get("/console/bureau/defaults").text  # active: no default yet
    head = http.head()
    early = bureau.post(
        f"/console/bureau/pledges/{pledge_id}/forced-auction",
        data=_form(http, "fa1", f"FS-A-{pledge_id[3:9]}"),
    )
    assert early.status_code == 409
    assert "强制执行" in early.text  # why, in Chinese
    assert http.head() == head

    _enforce(http, pledge_id)
    listed = bureau.get("/console/bureau/defaults")
    assert listed.status_code == 200
    assert f"/console/bureau/pledges/{pledge_id}/forced-auction" in listed.text
    assert "违约处置" in listed.text
    form = bureau.get(f"/console/bureau/pledges/{pledge_id}/forced-auction")
    assert form.status_code == 200
    assert 'value="ascending"' in form.text
    assert "1,000.00" in form.text  # the claim's principal, 100,000 fen, paid first
    assert (
        login(http, "yuyao_chem").get(f"/console/bureau/pledges/{pledge_id}/forced-auction").status_code
        == 403
    )

    auction_id = f"FS-B-{pledge_id[3:9]}"
    ascending = {"design": "ascending", "start_price": "8000", "increment": "100", "extension_min": "4"}
    done = bureau.post(
        f"/console/bureau/pledges/{pledge_id}/forced-auction",
        data=_form(http, "fa2", auction_id, **ascending),
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/console/auctions/{auction_id}")
    with Session(http.engine) as s:
        opened = get_auction(s, auction_id=auction_id)
        after = pledge.get_pledge(s, actor=http.who("yuyao").participant, pledge_id=pledge_id)
    assert (opened.terms.design, opened.terms.quantity_kg, opened.pledge) == (
        AuctionDesign.ASCENDING,
        600,
        pledge_id,
    )
    assert (after.status, after.closed_by) == (PledgeStatus.FORCED_AUCTION, http.party("yuyao"))
    page = bureau.get(f"/console/auctions/{auction_id}")
    assert "拍卖处置" in page.text
    assert auction_id in bureau.get("/console/bureau/defaults").text


# -- filters on the enterprise's pledge and cross-city lists ----------------------------------------


def _rows(page: str, ids: list[str]) -> set[str]:
    """Which of ``ids`` the page's list shows."""
    return {i for i in ids if f">{i}<" in page or f">{i}<br>" in page}


def test_the_enterprises_pledge_list_narrows_by_status_and_by_search(http: HttpWorld) -> None:
    allocate(http, "yuyao_dye", 900)
    applied = apply_pledge(http, "yuyao_dye", "bank_yuyao", 300)
    active = apply_pledge(http, "yuyao_dye", "bank_ningbo", 300)
    register_pledge(http, active, 300, "bank_ningbo", "yuyao_dye")
    dye = login(http, "yuyao_dye")
    ids = [applied, active]
    everything = dye.get("/console/enterprise/pledges")
    assert everything.status_code == 200
    assert _rows(everything.text, ids) == {applied, active}
    assert 'name="status"' in everything.text  # the status filter, like the other long lists
    only_applied = dye.get("/console/enterprise/pledges?status=applied")
    assert _rows(only_applied.text, ids) == {applied}
    by_text = dye.get(f"/console/enterprise/pledges?q={active}")
    assert _rows(by_text.text, ids) == {active}
    assert _rows(dye.get("/console/enterprise/pledges?q=no-such-pledge").text, ids) == set()


def test_the_enterprises_cross_city_list_narrows_by_status_and_by_search(http: HttpWorld) -> None:
    allocate(http, "yuyao_chem", 2_000)
    seller, buyer = http.who("yuyao_chem"), http.who("ningbo_petro")
    with Session(http.engine) as s:
        demand = crosscity.post_demand(
            s,
            registry=http.registry,
            actor=buyer.participant,
            instrument_code="COD",
            quantity_kg=2_000,
            max_price_fen_per_tonne=3_000_000,
            valid_until=UNTIL,
            project="宁波扩建二期",
        )
        made = [
            crosscity.open_transfer(
                s,
                registry=http.registry,
                actor=seller.participant,
                demand_id=demand.id,
                lot=YUYAO_LOT,
                quantity_kg=500,
                price_fen_per_tonne=2_500_000,
                expires_at=http.registry.clock() + timedelta(days=5),
            )
            for _ in range(2)
        ]
        crosscity.offer_transfer(
            s,
            registry=http.registry,
            actor=seller.participant,
            request_id=made[1].id,
            signed_by=Consent.custody(seller.party, seller.key),
        )
        s.commit()
    draft, offered = made[0].id, made[1].id
    ids = [draft, offered]
    chem = login(http, "yuyao_chem")
    everything = chem.get("/console/enterprise/transfers")
    assert everything.status_code == 200
    assert _rows(everything.text, ids) == {draft, offered}
    assert _rows(chem.get("/console/enterprise/transfers?status=offered").text, ids) == {offered}
    assert _rows(chem.get(f"/console/enterprise/transfers?q={draft}").text, ids) == {draft}
    assert _rows(chem.get("/console/enterprise/transfers?status=settled").text, ids) == set()
