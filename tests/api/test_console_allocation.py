"""Paid-use allocation (有偿使用) through the console: the bureau offers, the enterprise consents on its
holdings page, rights and fee move in one record; a decline or a refusal moves nothing."""

from __future__ import annotations

import re

import pytest

from api.console.web import yuan
from market.issuance.offers import allocation_offers_of
from market.trades.offers import OfferStatus
from tests.api.conftest import HttpWorld
from tests.api.test_console import http, login  # noqa: F401  (the module's world, and a logged-in browser)

pytestmark = pytest.mark.xdist_group("api_console_allocation")  # a world of its own

LOT = "j=330281;u=2030-12-31"


def _total(http: HttpWorld, account: str, instrument: str, lot: str) -> int:  # noqa: F811
    rows = http.get("operator", f"/v1/accounts/{account}/balances").json()
    return sum(r["total"] for r in rows if r["instrument"] == instrument and r["lot"] == lot)


def _pending(http: HttpWorld, alias: str) -> list[str]:  # noqa: F811
    from sqlmodel import Session

    with Session(http.engine) as s:
        return [
            o.id
            for o in allocation_offers_of(s, actor=http.who(alias).participant, status=OfferStatus.PENDING)
        ]


def test_a_paid_allocation_is_offered_then_consented_to_in_the_console(http: HttpWorld) -> None:  # noqa: F811
    bureau, chem = login(http, "yuyao"), login(http, "yuyao_chem")
    party = http.party("yuyao_chem")
    form = {
        "enterprise": party,
        "instrument": "COD",
        "quantity": "0.5",
        "valid_until": "2030-12-31",
        "purpose": "initial",
        "paid_use": "paid",
    }
    before, cash, held = (
        http.head(),
        _total(http, f"{party}.cash", "CNY", ""),
        _total(http, f"{party}.holding", "COD", LOT),
    )
    offered = bureau.post("/console/bureau/allocate", data={**form, "form_token": "alloc-paid-1"})
    assert (offered.status_code, offered.headers["location"]) == (303, "/console/bureau/issue")
    assert http.head() == before  # an offer is no record
    page = bureau.get("/console/bureau/issue").text
    assert "待企业确认" in page  # the flash and the pending list
    fee = 500 * 400_000 * 5 // 1000  # 0.5 t/a x 4,000 CNY per t·a x 5 years
    assert yuan(fee, "zh") in page
    (offer_id,) = [o for o in _pending(http, "yuyao_chem") if o in page]

    holdings = chem.get("/console/enterprise").text
    assert "待您确认的有偿使用" in holdings
    assert f"/console/enterprise/allocation-offers/{offer_id}/accept" in holdings
    done = chem.post(
        f"/console/enterprise/allocation-offers/{offer_id}/accept", data={"form_token": "consent-1"}
    )
    assert done.status_code == 303, done.text
    assert http.head() == before + 1
    assert _total(http, f"{party}.cash", "CNY", "") == cash - fee
    assert _total(http, f"{party}.holding", "COD", LOT) == held + 500
    flash = chem.get("/console/enterprise").text
    assert re.search(r"已确认（记录 \d+）", flash)
    assert offer_id not in _pending(http, "yuyao_chem")


def test_a_declined_offer_and_a_refused_one_move_nothing(http: HttpWorld) -> None:  # noqa: F811
    bureau, chem = login(http, "yuyao"), login(http, "yuyao_chem")
    party = http.party("yuyao_chem")
    form = {
        "enterprise": party,
        "instrument": "COD",
        "quantity": "0.2",
        "valid_until": "2030-12-31",
        "purpose": "initial",
        "paid_use": "paid",
    }
    before = http.head()
    refused = bureau.post(
        "/console/bureau/allocate",
        data={**form, "enterprise": http.party("ningbo_petro"), "form_token": "alloc-x"},
    )
    assert refused.status_code == 403
    assert "permission_denied" in refused.text
    assert bureau.post("/console/bureau/allocate", data={**form, "form_token": "alloc-d"}).status_code == 303
    (offer_id,) = [o for o in _pending(http, "yuyao_chem") if o in bureau.get("/console/bureau/issue").text]
    declined = chem.post(
        f"/console/enterprise/allocation-offers/{offer_id}/decline", data={"form_token": "dec-1"}
    )
    assert declined.status_code == 303
    late = chem.post(
        f"/console/enterprise/allocation-offers/{offer_id}/accept", data={"form_token": "late-1"}
    )
    assert late.status_code == 409
    assert "allocation_offer_not_pending" in late.text
    assert http.head() == before
