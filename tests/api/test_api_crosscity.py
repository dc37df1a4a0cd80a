"""Cross-city transfers (排污权跨地市交易) through HTTP: the demand list (项目需求库), a request from
opening to the settlement both bureaus sign, rejection, a client signing its own bodies, the city
report; every refusal with its code and an unchanged journal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from ledger.model import Lot, parse_body
from ledger.service import sign_body
from tests.api.conftest import HttpWorld, error_of
from tests.api.module_world import fund, grant, module_http, position

# One worker runs the whole module in a row (xdist loadgroup): its world would not survive another
# module truncating the same PostgreSQL schema in between.
pytestmark = pytest.mark.xdist_group("api_crosscity")
http = module_http  # one demo world per engine for this module: each test trades its own lot and need
_days = count(1)
PRICE = 2_000_000  # fen per tonne: 20,000 CNY/t
XFER = "/v1/cross-city-transfers"


def _until() -> date:
    return date(2030, 3, next(_days))


def _expiry(hours: int = 48) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def _need(http: HttpWorld, kg: int, *, buyer: str = "ningbo_petro", ceiling: int = PRICE) -> dict[str, Any]:
    fund(http, buyer, 100_000_000)
    need = {
        "instrument": "COD",
        "quantity_kg": kg,
        "max_price_fen_per_tonne": ceiling,
        "valid_until": "2029-12-31",
        "project": "宁波示例石化扩建项目",
    }
    r = http.post(buyer, "/v1/demands", need)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _open(http: HttpWorld, demand: str, until: date, kg: int, **extra: Any) -> dict[str, Any]:
    body = {
        "demand_id": demand,
        "lot": {"jurisdiction": "330900", "valid_until": until.isoformat()},
        "quantity_kg": kg,
        "price_fen_per_tonne": PRICE,
        "expires_at": _expiry(),
        **extra,
    }
    r = http.post("zhoushan_ship", XFER, body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _cash(http: HttpWorld, alias: str) -> int:
    return position(http, f"{http.party(alias)}.cash", "CNY", Lot())[0]


def test_enterprises_post_needs_and_everyone_reads_the_open_list(http: HttpWorld) -> None:
    size = http.head()
    need = {
        "instrument": "COD",
        "quantity_kg": 5_000,
        "max_price_fen_per_tonne": PRICE,
        "valid_until": "2029-12-31",
        "project": "宁波示例石化扩建项目",
    }
    assert http.client.post("/v1/demands", json=need).status_code == 401
    r = http.post("bank_ningbo", "/v1/demands", need)
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "action_not_granted_to_role")
    for change, field in (
        ({"valid_until": "2020-01-01"}, "valid_until"),
        ({"valid_until": "31/12/2029"}, "valid_until"),
        ({"instrument": "CNY"}, "instrument_code"),
        ({"quantity_kg": 0}, "quantity_kg"),
    ):
        r = http.post("ningbo_petro", "/v1/demands", {**need, **change})
        assert (r.status_code, error_of(r)["details"]["field"]) == (422, field), change
    assert http.post("ningbo_petro", "/v1/demands", {**need, "quantity_kg": 5.5}).status_code == 422
    d = http.post("ningbo_petro", "/v1/demands", need, key="need-1").json()
    assert (d["buyer"], d["jurisdiction"], d["remaining_kg"], d["status"]) == (
        http.party("ningbo_petro"),
        "330200",
        5_000,
        "open",
    )
    assert http.post("ningbo_petro", "/v1/demands", need, key="need-1").json() == d
    reused = http.post("ningbo_petro", "/v1/demands", {**need, "quantity_kg": 1}, key="need-1")
    assert error_of(reused)["code"] == "idempotency_key_reused"
    assert http.head() == size  # the list is the registry's, not the journal's

    listed = http.get("zhoushan_ship", "/v1/demands", params={"jurisdiction": "330200", "limit": 500}).json()
    assert d in listed["items"]
    assert listed["total"] == len(listed["items"])
    assert http.get("zhoushan_ship", "/v1/demands", params={"jurisdiction": "330900"}).json()["total"] == 0
    assert http.get("auditor", "/v1/demands", params={"instrument": "SO2"}).json()["items"] == []
    page = http.get("zhoushan_ship", "/v1/demands", params={"limit": 1}).json()
    assert (page["limit"], len(page["items"])) == (1, 1)
    assert http.client.get("/v1/demands").status_code == 401


def test_a_request_settles_in_one_record_when_both_bureaus_have_approved(http: HttpWorld) -> None:
    until = _until()
    grant(http, "zhoushan", "zhoushan_ship", 10_000, until=until)
    need = _need(http, 5_000)
    src = Lot(jurisdiction="330900", valid_until=until)
    dst = Lot(jurisdiction="330200", valid_until=until)
    seller, buyer = f"{http.party('zhoushan_ship')}.holding", f"{http.party('ningbo_petro')}.holding"
    cash_before = (_cash(http, "zhoushan_ship"), _cash(http, "ningbo_petro"), _cash(http, "zhoushan"))
    report_before = http.get("zhoushan", "/v1/cities/330900/report").json()
    size = http.head()

    base = {
        "demand_id": need["id"],
        "lot": {"jurisdiction": "330900", "valid_until": until.isoformat()},
        "quantity_kg": 4_000,
        "price_fen_per_tonne": PRICE,
        "expires_at": _expiry(),
    }
    for change, status, code in (
        ({"price_fen_per_tonne": PRICE + 1}, 409, "demand_not_met"),
        ({"quantity_kg": 5_001}, 409, "demand_not_met"),
        ({"expires_at": "2030-01-01T00:00:00"}, 422, "invalid_input"),
        (
            {"lot": {"jurisdiction": "330200", "valid_until": until.isoformat()}},
            422,
            "invalid_transfer_terms",
        ),
        ({"demand_id": "dm-missing"}, 404, "unknown_demand"),
        ({"policy": {"ratio_bp": 10_001}}, 422, "invalid_transfer_terms"),
    ):
        r = http.post("zhoushan_ship", XFER, {**base, **change})
        assert (r.status_code, error_of(r)["code"]) == (status, code), change
    terms = {**base, "policy": {"ratio_bp": 9_000, "fee_bp": 100}}
    req = http.post("zhoushan_ship", XFER, terms, key="open-1").json()
    assert (req["status"], req["quantity_kg"], req["delivered_kg"]) == ("draft", 4_000, 3_600)
    assert (req["price_fen"], req["fee_fen"]) == (7_200_000, 72_000)  # 3.6 t x 20,000 CNY; 1% fee
    assert http.post("zhoushan_ship", XFER, terms, key="open-1").json() == req
    rid = req["id"]
    path = f"{XFER}/{rid}"

    r = http.post("zhoushan", f"{path}/approve", {})
    assert (r.status_code, error_of(r)["code"]) == (409, "transfer_state_conflict")
    r = http.post("zhoushan_ship", f"{path}/offer", {})
    assert (r.status_code, r.json()["status"]) == (200, "offered")
    assert position(http, seller, "COD", src) == (10_000, 4_000)  # held for the request
    r = http.post("yuyao_chem", f"{path}/accept", {})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "own_units_only")
    r = http.post("ningbo_petro", f"{path}/accept", {})
    assert r.json()["status"] == "accepted"
    r = http.post("wenzhou", f"{path}/approve", {})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "bureau_party_to_cross_city")
    r = http.post("zhoushan", f"{path}/approve", {}, key="approve-zs")
    assert (r.json()["status"], r.json()["signed_by"]) == (
        "accepted",
        sorted([http.party("zhoushan_ship"), http.party("ningbo_petro"), "bureau:330900"]),
    )
    assert http.post("zhoushan", f"{path}/approve", {}, key="approve-zs").json() == r.json()
    twice = http.post("zhoushan", f"{path}/approve", {})
    assert (twice.status_code, error_of(twice)["code"]) == (409, "transfer_state_conflict")
    assert http.head() == size + 1  # only the hold so far
    r = http.post("ningbo", f"{path}/approve", {})
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["settled_seq"]) == ("settled", size + 1)
    assert http.head() == size + 2

    assert position(http, seller, "COD", src) == (6_000, 0)
    assert position(http, buyer, "COD", dst) == (3_600, 0)
    assert (_cash(http, "zhoushan_ship"), _cash(http, "ningbo_petro"), _cash(http, "zhoushan")) == (
        cash_before[0] + 7_200_000,
        cash_before[1] - 7_272_000,
        cash_before[2] + 72_000,
    )
    report = http.get("ningbo", "/v1/cities/330200/report").json()
    assert report["transferred_in_kg"] >= 3_600
    after = http.get("zhoushan", "/v1/cities/330900/report").json()
    assert after["transferred_out_kg"] == report_before["transferred_out_kg"] + 4_000
    assert after["cap_kg"] == report_before["cap_kg"] - 4_000  # the source city's cap shrinks
    r = http.get("zhoushan_ship", "/v1/cities/330900/report")
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "account_visibility")
    assert http.get("province", "/v1/cities/330900/report").status_code == 200  # supervises the city
    assert http.get("zhoushan", "/v1/cities/339999/report").status_code == 404
    assert http.get("zhoushan", "/v1/cities/330900/report", params={"instrument": "XYZ"}).status_code == 422


def test_a_rejection_releases_the_held_units_in_one_record(http: HttpWorld) -> None:
    until = _until()
    grant(http, "zhoushan", "zhoushan_ship", 3_000, until=until)
    need = _need(http, 2_000)
    req = _open(http, need["id"], until, 2_000)
    path = f"{XFER}/{req['id']}"
    assert http.post("zhoushan_ship", f"{path}/offer", {}).status_code == 200
    src = Lot(jurisdiction="330900", valid_until=until)
    seller = f"{http.party('zhoushan_ship')}.holding"
    assert position(http, seller, "COD", src) == (3_000, 2_000)
    size = http.head()
    r = http.post("yuyao_chem", f"{path}/reject", {"reason": "not mine"})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "transfer_parties_only")
    r = http.post("wenzhou", f"{path}/reject", {"reason": "not our corridor"})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "transfer_parties_only")
    assert http.post("ningbo", f"{path}/reject", {"reason": ""}).status_code == 422
    assert http.head() == size
    r = http.post("ningbo", f"{path}/reject", {"reason": "总量指标不足"}, key="rej-1")
    assert (r.json()["status"], r.json()["closed_by"], r.json()["reason"]) == (
        "rejected",
        "bureau:330200",
        "总量指标不足",
    )
    assert http.post("ningbo", f"{path}/reject", {"reason": "总量指标不足"}, key="rej-1").json() == r.json()
    assert http.head() == size + 1
    assert position(http, seller, "COD", src) == (3_000, 0)
    r = http.post("ningbo_petro", f"{path}/accept", {})
    assert (r.status_code, error_of(r)["code"]) == (409, "transfer_state_conflict")


def test_a_client_signs_the_bodies_of_its_steps_with_its_own_key(http: HttpWorld) -> None:
    until = _until()
    grant(http, "zhoushan", "zhoushan_ship", 1_000, until=until)
    need = _need(http, 1_000)
    req = _open(http, need["id"], until, 1_000)
    path = f"{XFER}/{req['id']}"

    def signed(alias: str, step: str) -> list[dict[str, Any]]:
        r = http.get(alias, f"{path}/bodies", params={"step": step})
        assert r.status_code == 200, r.text
        who = http.who(alias)
        return [sign_body(parse_body(b), who.party, who.key).to_json() for b in r.json()["bodies"]]

    offer = signed("zhoushan_ship", "offer")
    assert len(offer) == 2  # the hold, then the settlement
    r = http.post("zhoushan_ship", f"{path}/offer", {"signatures": offer[:1]})
    assert (r.status_code, error_of(r)["code"]) == (422, "invalid_input")
    r = http.post("zhoushan_ship", f"{path}/offer", {"signatures": offer[::-1]})
    assert (r.status_code, error_of(r)["code"]) == (422, "bad_signature")
    r = http.post("zhoushan_ship", f"{path}/offer", {"signatures": offer})
    assert (r.status_code, r.json()["status"]) == (200, "offered")
    r = http.post("ningbo_petro", f"{path}/accept", {"signatures": signed("ningbo_petro", "accept")})
    assert r.json()["status"] == "accepted"
    assert (
        http.post("zhoushan", f"{path}/approve", {"signatures": signed("zhoushan", "approve")}).status_code
        == 200
    )
    r = http.post("ningbo", f"{path}/approve", {"signatures": signed("ningbo", "approve")})
    assert r.json()["status"] == "settled"


def test_a_request_is_read_by_its_parties_and_supervisors_only(http: HttpWorld) -> None:
    until = _until()
    grant(http, "zhoushan", "zhoushan_ship", 500, until=until)
    req = _open(http, _need(http, 500)["id"], until, 500)
    path = f"{XFER}/{req['id']}"
    for alias in ("zhoushan_ship", "ningbo_petro", "zhoushan", "ningbo", "province", "auditor"):
        assert http.get(alias, path).json() == req, alias
    hidden = http.get("yuyao_dye", path)
    assert (hidden.status_code, error_of(hidden)["details"]["rule"]) == (403, "account_visibility")
    assert http.get("yuyao_dye", f"{path}/bodies", params={"step": "accept"}).status_code == 403
    assert http.get("ningbo", f"{XFER}/xc-missing").status_code == 404
    assert http.get("ningbo", f"{path}/bodies", params={"step": "sign"}).status_code == 422

    def ids(alias: str, **params: Any) -> set[str]:
        page = http.get(alias, XFER, params={"limit": 500, **params}).json()
        return {item["id"] for item in page["items"]}

    assert req["id"] in ids("ningbo_petro")
    assert req["id"] in ids("zhoushan", status="draft")
    assert req["id"] not in ids("zhoushan", status="settled")
    assert req["id"] not in ids("yuyao_dye")


def test_the_buyer_and_the_bureaus_find_the_request_in_their_to_do_lists_and_settle_it_there(
    http: HttpWorld,
) -> None:
    until = _until()
    grant(http, "zhoushan", "zhoushan_ship", 1_000, until=until)
    req = _open(http, _need(http, 1_000)["id"], until, 1_000)
    assert req["proposal_id"] is None  # a draft: nothing signed yet
    offered = http.post("zhoushan_ship", f"{XFER}/{req['id']}/offer", {}).json()
    pid = offered["proposal_id"]

    def todo(alias: str) -> list[str]:
        r = http.get(alias, "/v1/proposals", params={"awaiting": "true", "kind": "crosscity.settlement"})
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert pid in todo("ningbo_petro")
    assert pid not in todo("ningbo")  # the bureaus approve what the buyer has accepted
    size = http.head()
    r = http.post("ningbo", f"/v1/proposals/{pid}/sign", {})
    assert (r.status_code, error_of(r)["code"]) == (409, "proposal_out_of_order")
    assert error_of(r)["details"]["awaiting"] == [http.party("ningbo_petro")]
    assert http.post("ningbo_petro", f"/v1/proposals/{pid}/sign", {}).status_code == 200
    assert http.get("ningbo", f"{XFER}/{req['id']}").json()["status"] == "accepted"
    assert pid in todo("ningbo")
    assert http.post("ningbo", f"/v1/proposals/{pid}/sign", {}).status_code == 200
    r = http.post("zhoushan", f"/v1/proposals/{pid}/sign", {})
    assert (r.status_code, r.json()["status"]) == (200, "applied")
    assert http.head() == size + 1
    done = http.get("ningbo_petro", f"{XFER}/{req['id']}").json()
    assert (done["status"], done["settled_seq"], len(done["signed_by"])) == (
        "settled",
        r.json()["record_seq"],
        4,
    )


def test_a_rejection_from_the_to_do_list_releases_the_hold(http: HttpWorld) -> None:
    until = _until()
    grant(http, "zhoushan", "zhoushan_ship", 1_000, until=until)
    req = _open(http, _need(http, 1_000)["id"], until, 1_000)
    pid = http.post("zhoushan_ship", f"{XFER}/{req['id']}/offer", {}).json()["proposal_id"]
    seller = f"{http.party('zhoushan_ship')}.holding"
    src = Lot(jurisdiction="330900", valid_until=until)
    assert position(http, seller, "COD", src) == (1_000, 1_000)
    r = http.post("ningbo_petro", f"/v1/proposals/{pid}/reject", None)
    assert (r.status_code, r.json()["status"]) == (200, "rejected")
    assert position(http, seller, "COD", src) == (1_000, 0)
    closed = http.get("zhoushan_ship", f"{XFER}/{req['id']}").json()
    assert (closed["status"], closed["closed_by"]) == ("rejected", http.party("ningbo_petro"))
