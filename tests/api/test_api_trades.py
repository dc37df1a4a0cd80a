"""Bilateral trades through HTTP: a trade both parties signed (client-gathered signatures over the
draft), and trade offers (seller signs in custody, buyer accepts in custody), DvP, with refusals."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.service import new_nonce
from tests.api.conftest import HttpWorld, error_of
from tests.api.test_api_issuance import LOT, VALID_UNTIL, allocate_free, fund, set_cap, signed_by, total

PRICE = 1_700_000  # 17,000 CNY per tonne: what Shaoxing's banks valued a tonne of rights at


@pytest.fixture
def market(http: HttpWorld) -> HttpWorld:
    """yuyao_chem holds 5 t/a of Yuyao COD; yuyao_dye has 10,000 CNY... times a thousand."""
    set_cap(http, 10_000)
    allocate_free(http, "yuyao_chem", 5_000)
    fund(http, "yuyao_dye", 10_000_000)
    return http


def _terms(http: HttpWorld, kg: int = 2_000, **overrides: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "seller": http.party("yuyao_chem"),
        "buyer": http.party("yuyao_dye"),
        "instrument": "COD",
        "valid_until": VALID_UNTIL,
        "quantity_kg": kg,
        "price_fen_per_t": PRICE,
    }
    terms.update(overrides)
    return terms


def _offer(http: HttpWorld, kg: int = 2_000, key: str | None = None, **overrides: Any) -> Any:
    terms = _terms(http, kg, **overrides)
    del terms["seller"]
    return http.post("yuyao_chem", "/v1/trade-offers", terms, key=key)


def test_a_trade_with_the_counterpartys_signature_over_the_draft_is_dvp(market: HttpWorld) -> None:
    http = market
    chem, dye = http.party("yuyao_chem"), http.party("yuyao_dye")
    nonce = new_nonce()
    draft = http.get("yuyao_dye", "/v1/trades/draft", params={**_terms(http), "nonce": nonce})
    assert draft.status_code == 200, draft.text
    assert draft.json()["signers"] == [chem, dye]
    sig = signed_by(http, "yuyao_dye", draft.json()["body"])
    before = http.head()
    unsigned = http.post("yuyao_chem", "/v1/trades", {**_terms(http), "nonce": nonce})
    assert (unsigned.status_code, error_of(unsigned)["code"]) == (422, "missing_signature")
    assert http.head() == before
    payload = {**_terms(http), "nonce": nonce, "signatures": [sig]}
    r = http.post("yuyao_chem", "/v1/trades", payload, key="t1")  # the seller signs in custody
    assert r.status_code == 200, r.text
    done = r.json()
    amount = 2_000 * PRICE // 1000
    assert (done["seq"], done["amount_fen"], done["lot"]) == (before, amount, LOT)
    assert total(http, f"{chem}.holding", "COD", LOT) == 3_000
    assert total(http, f"{dye}.holding", "COD", LOT) == 2_000
    assert total(http, f"{chem}.cash") == amount
    assert total(http, f"{dye}.cash") == 10_000_000 - amount
    assert http.post("yuyao_chem", "/v1/trades", payload, key="t1").json() == done
    assert http.head() == before + 1
    reused = http.post("yuyao_chem", "/v1/trades", {**payload, "quantity_kg": 1}, key="t1")
    assert error_of(reused)["code"] == "idempotency_key_reused"
    again = http.post("yuyao_chem", "/v1/trades", payload, key="t2")
    assert error_of(again)["code"] == "duplicate_instruction"
    assert http.head() == before + 1


def test_a_self_custody_client_may_submit_both_signatures(market: HttpWorld) -> None:
    http = market
    nonce = new_nonce()
    body = http.get("yuyao_chem", "/v1/trades/draft", params={**_terms(http, 500), "nonce": nonce}).json()[
        "body"
    ]
    sigs = [signed_by(http, "yuyao_chem", body), signed_by(http, "yuyao_dye", body)]
    r = http.post("yuyao_dye", "/v1/trades", {**_terms(http, 500), "nonce": nonce, "signatures": sigs})
    assert r.status_code == 200, r.text
    assert total(http, f"{http.party('yuyao_dye')}.holding", "COD", LOT) == 500


def test_trade_refusals_name_the_rule_and_write_nothing(market: HttpWorld) -> None:
    http = market
    before = http.head()
    nonce = new_nonce()
    outsider = http.post(
        "yuyao_dye",
        "/v1/trades",
        {**_terms(http, seller=http.party("yuyao_dye"), buyer=http.party("yuyao_chem")), "nonce": nonce},
    )
    assert error_of(outsider)["code"] in ("missing_signature", "insufficient_balance")
    third = http.post("ningbo_petro", "/v1/trades", {**_terms(http), "nonce": nonce})
    assert third.status_code == 403
    assert error_of(third)["details"]["rule"] == "own_units_only"
    across = http.get(
        "yuyao_chem",
        "/v1/trades/draft",
        params={**_terms(http, buyer=http.party("ningbo_petro")), "nonce": nonce},
    )
    assert (across.status_code, error_of(across)["code"]) == (409, "cross_jurisdiction_trade")
    carbon = http.post("yuyao_chem", "/v1/trades", {**_terms(http, instrument="BC"), "nonce": nonce})
    assert error_of(carbon)["code"] == "invalid_trade"
    assert http.post("yuyao_chem", "/v1/trades", {**_terms(http), "nonce": "short"}).status_code == 422
    assert http.client.post("/v1/trades", json={**_terms(http), "nonce": nonce}).status_code == 401
    assert http.head() == before


def test_an_offer_signed_in_custody_is_accepted_by_the_buyer_in_custody(market: HttpWorld) -> None:
    http = market
    chem, dye = http.party("yuyao_chem"), http.party("yuyao_dye")
    before = http.head()
    r = _offer(http, key="o1")
    assert r.status_code == 200, r.text
    offer = r.json()
    assert (offer["status"], offer["seller"], offer["buyer"]) == ("pending", chem, dye)
    assert offer["draft"]["signers"] == [chem, dye]
    assert _offer(http, key="o1").json() == offer
    assert http.head() == before  # an offer is a consent kept aside, not a record
    assert [o["id"] for o in http.get("yuyao_dye", "/v1/trade-offers").json()["items"]] == [offer["id"]]
    assert http.get("yuyao_dye", "/v1/trade-offers", params={"status": "accepted"}).json()["total"] == 0
    hidden = http.get("ningbo_petro", f"/v1/trade-offers/{offer['id']}")
    assert (hidden.status_code, error_of(hidden)["code"]) == (404, "unknown_trade_offer")
    assert http.post("yuyao_chem", f"/v1/trade-offers/{offer['id']}/accept", {}).status_code == 403
    accepted = http.post("yuyao_dye", f"/v1/trade-offers/{offer['id']}/accept", {}, key="acc-1")
    assert accepted.status_code == 200, accepted.text
    amount = 2_000 * PRICE // 1000
    assert accepted.json()["amount_fen"] == amount
    assert accepted.json()["seq"] == before
    assert (
        http.post("yuyao_dye", f"/v1/trade-offers/{offer['id']}/accept", {}, key="acc-1").json()
        == accepted.json()
    )
    assert http.head() == before + 1
    assert total(http, f"{dye}.holding", "COD", LOT) == 2_000
    assert total(http, f"{chem}.cash") == amount
    shown = http.get("yuyao_chem", f"/v1/trade-offers/{offer['id']}").json()
    assert (shown["status"], shown["trade_seq"]) == ("accepted", before)
    twice = http.post("yuyao_dye", f"/v1/trade-offers/{offer['id']}/accept", {})
    assert (twice.status_code, error_of(twice)["code"]) == (409, "trade_offer_not_pending")


def test_an_offer_can_be_accepted_with_the_buyers_own_signature_or_withdrawn(market: HttpWorld) -> None:
    http = market
    offer = _offer(http, 1_000).json()
    sig = signed_by(http, "yuyao_dye", offer["draft"]["body"])
    r = http.post("yuyao_dye", f"/v1/trade-offers/{offer['id']}/accept", {"signatures": [sig]})
    assert r.status_code == 200, r.text
    bad = _offer(http, 1_000).json()
    wrong = signed_by(http, "yuyao_dye", offer["draft"]["body"])  # over another offer's body
    refused = http.post("yuyao_dye", f"/v1/trade-offers/{bad['id']}/accept", {"signatures": [wrong]})
    assert (refused.status_code, error_of(refused)["code"]) == (422, "bad_signature")
    withdrawn = http.post("yuyao_chem", f"/v1/trade-offers/{bad['id']}/withdraw")
    assert withdrawn.json()["status"] == "withdrawn"
    late = http.post("yuyao_dye", f"/v1/trade-offers/{bad['id']}/accept", {})
    assert error_of(late)["code"] == "trade_offer_not_pending"
    free = total(http, f"{http.party('yuyao_chem')}.holding", "COD", LOT)
    too_much = _offer(http, 1_000, quantity_kg=free + 1)  # more than the seller holds: refused now
    assert (too_much.status_code, error_of(too_much)["code"]) == (409, "insufficient_balance")
    assert error_of(too_much)["details"]["field"] == "quantity_kg"
    # an offer reserves nothing: two offers of all of it, the second acceptance finds too little
    first, second = _offer(http, 1_000, quantity_kg=free).json(), _offer(http, 1_000, quantity_kg=free).json()
    assert http.post("yuyao_dye", f"/v1/trade-offers/{first['id']}/accept", {}).status_code == 200
    short = http.post("yuyao_dye", f"/v1/trade-offers/{second['id']}/accept", {})
    assert (short.status_code, error_of(short)["code"]) == (409, "insufficient_balance")
    assert http.get("yuyao_dye", f"/v1/trade-offers/{second['id']}").json()["status"] == "pending"
    assert total(http, f"{http.party('yuyao_dye')}.holding", "COD", LOT) == 1_000 + free


def test_offer_refusals(market: HttpWorld) -> None:
    http = market
    assert _offer(http, buyer=http.party("ningbo_petro")).status_code == 409
    assert error_of(_offer(http, buyer=http.party("bank_yuyao")))["code"] == "invalid_trade"
    assert (
        http.post(
            "yuyao", "/v1/trade-offers", {k: v for k, v in _terms(http).items() if k != "seller"}
        ).status_code
        == 422
    )
    assert http.get("yuyao_chem", "/v1/trade-offers").json()["total"] == 0
