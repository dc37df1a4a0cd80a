"""The generic proposal routes (/v1/proposals): a trade offer made on its own route is listed as
awaiting the buyer, signed, rejected or withdrawn through the generic steps, each through the one
write seam (Idempotency-Key), with the generic error codes."""

from __future__ import annotations

from tests.api.conftest import HttpWorld, error_of
from tests.api.test_api_issuance import LOT, total
from tests.api.test_api_trades import PRICE, _offer, market

__all__ = ["market"]  # the fixture: yuyao_chem holds rights, yuyao_dye has cash


def test_the_buyer_finds_the_offer_awaiting_it_and_its_signature_applies_it(market: HttpWorld) -> None:
    http = market
    dye = http.party("yuyao_dye")
    offer = _offer(http, 1_000).json()
    awaiting = http.get("yuyao_dye", "/v1/proposals", params={"awaiting": "true"}).json()
    assert [p["id"] for p in awaiting["items"]] == [offer["id"]]
    (listed,) = awaiting["items"]
    assert (listed["kind"], listed["status"], [s["signed"] for s in listed["signers"]]) == (
        "trade_offer",
        "pending",
        [True, False],
    )
    assert listed["draft"] == offer["draft"]
    assert http.get("yuyao_chem", "/v1/proposals", params={"awaiting": "true"}).json()["total"] == 0
    hidden = http.get("ningbo_petro", f"/v1/proposals/{offer['id']}")
    assert (hidden.status_code, error_of(hidden)["code"]) == (404, "unknown_proposal")
    before = http.head()
    signed = http.post("yuyao_dye", f"/v1/proposals/{offer['id']}/sign", {}, key="sign-1")
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["record_seq"]) == ("applied", before)
    again = http.post("yuyao_dye", f"/v1/proposals/{offer['id']}/sign", {}, key="sign-1")
    assert again.json() == signed.json()  # the same answer, not a second trade
    assert http.head() == before + 1
    assert total(http, f"{dye}.holding", "COD", LOT) == 1_000
    assert total(http, f"{http.party('yuyao_chem')}.cash") == 1_000 * PRICE // 1000
    shown = http.get("yuyao_chem", f"/v1/trade-offers/{offer['id']}").json()
    assert (shown["status"], shown["trade_seq"]) == ("accepted", before)
    closed = http.post("yuyao_dye", f"/v1/proposals/{offer['id']}/reject")
    assert (closed.status_code, error_of(closed)["code"]) == (409, "proposal_closed")


def test_the_buyer_rejects_and_the_seller_withdraws_through_the_generic_routes(market: HttpWorld) -> None:
    http = market
    first, second = _offer(http, 1_000).json(), _offer(http, 1_000).json()
    assert http.post("yuyao_chem", f"/v1/proposals/{first['id']}/reject").status_code == 403  # it signed
    rejected = http.post("yuyao_dye", f"/v1/proposals/{first['id']}/reject")
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert rejected.json()["decided_party"] == http.party("yuyao_dye")
    assert http.post("yuyao_dye", f"/v1/proposals/{second['id']}/withdraw").status_code == 422
    withdrawn = http.post("yuyao_chem", f"/v1/proposals/{second['id']}/withdraw")
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "withdrawn")
    statuses = {p["id"]: p["status"] for p in http.get("yuyao_chem", "/v1/proposals").json()["items"]}
    assert statuses == {first["id"]: "rejected", second["id"]: "withdrawn"}
    assert http.get("yuyao_dye", f"/v1/trade-offers/{first['id']}").json()["status"] == "withdrawn"
    kinds = http.get("yuyao_chem", "/v1/proposals", params={"kind": "transfer"}).json()
    assert kinds["total"] == 0
