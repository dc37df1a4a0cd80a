"""The generic proposal routes (/v1/proposals): a trade offer made on its own route is listed as
awaiting the buyer, signed, rejected or withdrawn through the generic steps, each through the one
write seam (Idempotency-Key), with the generic error codes."""

from __future__ import annotations

from sqlmodel import Session

from accounts.users import add_user, set_controls
from market.foureyes import service as foureyes
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


def test_an_approver_finds_and_signs_a_four_eyes_transfer_with_its_own_user_key(market: HttpWorld) -> None:
    http = market
    chem = http.who("yuyao_chem").participant
    with Session(http.engine) as s:
        for user, role in (("alice", "clerk"), ("bob", "approver")):
            _, issued = add_user(
                s,
                registry=http.registry,
                vault=http.vault,
                actor=chem,
                acting_user=None,
                user_id=user,
                name=user,
                role=role,
            )
            http.tokens[f"chem_{user}"] = issued.token
        set_controls(
            s, registry=http.registry, vault=http.vault, actor=chem, four_eyes_kg={"transfer": 1_000}
        )
        waiting = foureyes.propose_transfer(
            s,
            registry=http.registry,
            vault=http.vault,
            actor=chem,
            user="alice",
            to=f"{http.party('yuyao_dye')}.holding",
            instrument="COD",
            lot=LOT,
            quantity_kg=1_500,
        )
        s.commit()
    assert isinstance(waiting, foureyes.Proposal)
    assert http.get("chem_alice", "/v1/proposals", params={"awaiting": "true"}).json()["total"] == 0
    (listed,) = http.get("chem_bob", "/v1/proposals", params={"awaiting": "true"}).json()["items"]
    assert (listed["id"], listed["kind"], listed["proposed_by"], listed["draft"]) == (
        waiting.id,
        "transfer",
        "alice",
        None,
    )
    assert listed["signers"][0]["role"] == "approver"
    by_alice = http.post("chem_alice", f"/v1/proposals/{waiting.id}/sign", {})
    assert (by_alice.status_code, error_of(by_alice)["code"]) == (409, "four_eyes_required")
    before = http.head()
    signed = http.post("chem_bob", f"/v1/proposals/{waiting.id}/sign", {})
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["record_seq"], signed.json()["decided_by"]) == (
        "applied",
        before,
        "bob",
    )
    assert total(http, f"{http.party('yuyao_dye')}.holding", "COD", LOT) == 1_500
