"""The bureau's end of a default in the console, without a browser, on SQLite and PostgreSQL: once the
bank has enforced a pledge, the bureau starts its forced auction (拍卖处置) under any design, the ascending
one too; before enforcement, or for another role, it is refused and nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from api.console.web import CST
from market.auctions.model import AuctionDesign
from market.auctions.state import get_auction
from market.consent import Consent
from market.pledges import service as pledge
from market.pledges.service import PledgeStatus
from tests.api.conftest import HttpWorld
from tests.api.test_console_pages import _register, allocate, apply_pledge, http, login

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
    _register(http, pledge_id, 600)
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
