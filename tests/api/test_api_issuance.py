"""Issuance and the reserve through HTTP: caps, allocations (free, and paid with the enterprise's own
signature over the draft), major-project allocation, buy-back and the expiry run, with refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from ledger.model import Lot, Posting, TxBody
from ledger.service import Instruction, new_nonce, sign_body, submit
from ledger.timeutil import utc_now
from tests.api.conftest import HttpWorld, error_of

VALID_UNTIL = "2030-12-31"
LOT = "j=330281;u=2030-12-31"


def fund(http: HttpWorld, alias: str, fen: int) -> None:
    """Pay ``fen`` into a participant's cash from the operator's settlement gateway (a bank transfer)."""
    operator = http.who("operator")
    body = TxBody(
        "cash.deposit",
        new_nonce(),
        (
            Posting(f"{operator.party}.settlement", "CNY", Lot(), -fen),
            Posting(f"{http.party(alias)}.cash", "CNY", Lot(), fen),
        ),
    )
    with Session(http.engine) as s:
        submit(s, Instruction.signed(body, (operator.party, operator.key)), registry=http.registry)
        s.commit()


def total(http: HttpWorld, account: str, instrument: str = "CNY", lot: str = "") -> int:
    """The live total of one position, read through the API as the operator."""
    rows = http.get("operator", f"/v1/accounts/{account}/balances").json()
    return sum(b["total"] for b in rows if b["instrument"] == instrument and b["lot"] == lot)


def set_cap(
    http: HttpWorld, kg: int, valid_until: str = VALID_UNTIL, bureau: str = "yuyao"
) -> dict[str, Any]:
    r = http.post(bureau, "/v1/caps", {"instrument": "COD", "quantity_kg": kg, "valid_until": valid_until})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def allocate_free(http: HttpWorld, alias: str, kg: int, valid_until: str = VALID_UNTIL) -> None:
    payload = {
        "enterprise": http.party(alias),
        "instrument": "COD",
        "quantity_kg": kg,
        "valid_until": valid_until,
        "paid_use": False,
    }
    r = http.post("yuyao", "/v1/allocations", payload)
    assert r.status_code == 200, r.text


def signed_by(http: HttpWorld, alias: str, body: dict[str, Any]) -> dict[str, Any]:
    """``alias``'s signature over a draft body, made with its own key (a self-custody client)."""
    from ledger.model import parse_body

    who = http.who(alias)
    return sign_body(parse_body(body), who.party, who.key).to_json()


def test_a_bureau_sets_its_cap_and_anyone_reads_the_position(http: HttpWorld) -> None:
    before = http.head()
    r = http.post(
        "yuyao",
        "/v1/caps",
        {"instrument": "COD", "quantity_kg": 10_000, "valid_until": VALID_UNTIL},
        key="c1",
    )
    assert r.status_code == 200, r.text
    assert r.json()["seq"] == before
    replay = http.post(
        "yuyao",
        "/v1/caps",
        {"instrument": "COD", "quantity_kg": 10_000, "valid_until": VALID_UNTIL},
        key="c1",
    )
    assert replay.json() == r.json()
    assert http.head() == before + 1
    reused = http.post(
        "yuyao", "/v1/caps", {"instrument": "COD", "quantity_kg": 9_000, "valid_until": VALID_UNTIL}, key="c1"
    )
    assert reused.status_code == 409
    assert error_of(reused)["code"] == "idempotency_key_reused"
    pos = http.get("yuyao_chem", "/v1/caps/330281/COD", params={"valid_until": VALID_UNTIL}).json()
    assert pos == {
        "jurisdiction": "330281",
        "instrument": "COD",
        "lot": LOT,
        "cap_kg": 10_000,
        "reserve_kg": 10_000,
        "reserve_held_kg": 0,
        "allocated_kg": 0,
        "available_kg": 10_000,
    }


def test_cap_refusals_write_nothing(http: HttpWorld) -> None:
    before = http.head()
    payload = {"instrument": "COD", "quantity_kg": 1_000, "valid_until": VALID_UNTIL}
    ent = http.post("yuyao_chem", "/v1/caps", payload)
    assert ent.status_code == 403
    assert error_of(ent)["details"]["rule"] == "action_not_granted_to_role"
    assert error_of(http.post("auditor", "/v1/caps", payload))["details"]["rule"] == "auditor_writes_nothing"
    carbon = http.post("yuyao", "/v1/caps", {**payload, "instrument": "BC"})
    assert carbon.status_code == 422
    assert error_of(carbon)["details"]["field"] == "instrument"
    assert http.post("yuyao", "/v1/caps", {**payload, "quantity_kg": 0}).status_code == 422
    assert http.post("yuyao", "/v1/caps", {**payload, "quantity_kg": "1000"}).status_code == 422  # strict
    assert http.client.post("/v1/caps", json=payload).status_code == 401
    assert http.head() == before


def test_a_free_allocation_moves_rights_from_the_reserve(http: HttpWorld) -> None:
    set_cap(http, 10_000)
    allocate_free(http, "yuyao_chem", 4_000)
    chem = http.party("yuyao_chem")
    assert total(http, f"{chem}.holding", "COD", LOT) == 4_000
    pos = http.get("yuyao", "/v1/caps/330281/COD", params={"valid_until": VALID_UNTIL}).json()
    assert (pos["allocated_kg"], pos["available_kg"]) == (4_000, 6_000)


def test_a_paid_allocation_needs_the_enterprise_signature_over_the_draft(http: HttpWorld) -> None:
    set_cap(http, 10_000)
    fund(http, "yuyao_chem", 10_000_000)
    chem = http.party("yuyao_chem")
    terms = {"enterprise": chem, "instrument": "COD", "quantity_kg": 2_000, "valid_until": VALID_UNTIL}
    before = http.head()
    unsigned = http.post("yuyao", "/v1/allocations", terms)
    assert unsigned.status_code == 422
    assert error_of(unsigned)["code"] == "missing_signature"
    assert http.head() == before
    nonce = new_nonce()
    draft = http.get("yuyao_chem", "/v1/allocations/draft", params={**terms, "nonce": nonce})
    assert draft.status_code == 200, draft.text
    body = draft.json()["body"]
    assert draft.json()["signers"] == [http.party("yuyao"), chem]
    fee = 2_000 * 400_000 * 5 // 1000  # 2 t/a x 4,000 CNY per t·a x 5 years (金价价管〔2012〕137号)
    assert body["meta"]["paid_use"]["fee_fen"] == fee == 4_000_000
    sig = signed_by(http, "yuyao_chem", body)
    r = http.post("yuyao", "/v1/allocations", {**terms, "nonce": nonce, "signatures": [sig]}, key="a1")
    assert r.status_code == 200, r.text
    assert r.json()["fee_fen"] == fee
    assert total(http, f"{chem}.cash") == 10_000_000 - fee
    assert total(http, f"{http.party('yuyao')}.cash") == fee
    assert total(http, f"{chem}.holding", "COD", LOT) == 2_000
    again = http.post("yuyao", "/v1/allocations", {**terms, "nonce": nonce, "signatures": [sig]}, key="a1")
    assert again.json() == r.json()
    # the same signed body cannot be applied twice under another key
    twice = http.post("yuyao", "/v1/allocations", {**terms, "nonce": nonce, "signatures": [sig]}, key="a2")
    assert twice.status_code == 409
    assert error_of(twice)["code"] == "duplicate_instruction"
    hidden = http.get("yuyao_dye", "/v1/allocations/draft", params={**terms, "nonce": nonce})
    assert hidden.status_code == 403


def test_allocation_refusals_cap_permit_jurisdiction(http: HttpWorld) -> None:
    set_cap(http, 1_000)
    before = http.head()
    base = {"instrument": "COD", "valid_until": VALID_UNTIL, "paid_use": False}
    over = http.post(
        "yuyao", "/v1/allocations", {**base, "enterprise": http.party("yuyao_chem"), "quantity_kg": 1_001}
    )
    assert over.status_code == 409
    assert error_of(over)["code"] == "cap_exceeded"
    assert error_of(over)["details"]["field"] == "quantity_kg"
    no_permit = http.post(
        "yuyao", "/v1/allocations", {**base, "enterprise": http.party("yuyao_dye"), "quantity_kg": 10}
    )
    assert error_of(no_permit)["code"] == "permit_required"
    foreign = http.post(
        "yuyao", "/v1/allocations", {**base, "enterprise": http.party("ningbo_petro"), "quantity_kg": 10}
    )
    assert error_of(foreign)["code"] == "not_in_jurisdiction"
    ent = http.post(
        "yuyao_chem", "/v1/allocations", {**base, "enterprise": http.party("yuyao_chem"), "quantity_kg": 10}
    )
    assert ent.status_code == 403
    forged = http.post(
        "yuyao",
        "/v1/allocations",
        {
            **base,
            "enterprise": http.party("yuyao_chem"),
            "quantity_kg": 10,
            "paid_use": True,
            "nonce": new_nonce(),
            "signatures": [{"party": http.party("yuyao_chem"), "key_id": "x", "sig": "AAAA"}],
        },
    )
    assert forged.status_code == 422
    assert http.head() == before


def test_a_major_project_gets_reserved_quota_without_a_permit(http: HttpWorld) -> None:
    set_cap(http, 10_000)
    payload = {
        "enterprise": http.party("yuyao_dye"),
        "project": "年产5万吨印染扩建项目",
        "instrument": "COD",
        "quantity_kg": 3_000,
        "valid_until": VALID_UNTIL,
        "paid_use": False,
    }
    r = http.post("yuyao", "/v1/reserve/major-project-allocations", payload, key="m1")
    assert r.status_code == 200, r.text
    assert r.json()["quantity_kg"] == 3_000
    assert total(http, f"{http.party('yuyao_dye')}.holding", "COD", LOT) == 3_000
    no_project = http.post("yuyao", "/v1/reserve/major-project-allocations", {**payload, "project": ""})
    assert no_project.status_code == 422


def test_a_buy_back_pays_the_enterprise_and_returns_rights_to_the_reserve(http: HttpWorld) -> None:
    set_cap(http, 10_000)
    allocate_free(http, "yuyao_chem", 5_000)
    fund(http, "yuyao", 5_000_000)
    chem, bureau = http.party("yuyao_chem"), http.party("yuyao")
    terms = {
        "enterprise": chem,
        "instrument": "COD",
        "quantity_kg": 1_500,
        "valid_until": VALID_UNTIL,
        "amount_fen": 2_550_000,
        "basis": "余姚收储公告",
    }
    nonce = new_nonce()
    draft = http.get("yuyao_chem", "/v1/reserve/buy-backs/draft", params={**terms, "nonce": nonce}).json()
    sig = signed_by(http, "yuyao_chem", draft["body"])
    before = http.head()
    r = http.post("yuyao", "/v1/reserve/buy-backs", {**terms, "nonce": nonce, "signatures": [sig]}, key="b1")
    assert r.status_code == 200, r.text
    assert r.json()["seq"] == before
    assert total(http, f"{chem}.holding", "COD", LOT) == 3_500
    assert total(http, f"{chem}.cash") == 2_550_000
    assert total(http, f"{bureau}.cash") == 5_000_000 - 2_550_000
    assert total(http, f"{bureau}.reserve", "COD", LOT) == 10_000 - 5_000 + 1_500
    replay = http.post(
        "yuyao", "/v1/reserve/buy-backs", {**terms, "nonce": nonce, "signatures": [sig]}, key="b1"
    )
    assert replay.json() == r.json()
    assert http.head() == before + 1
    other = http.post(
        "yuyao",
        "/v1/reserve/buy-backs",
        {**terms, "quantity_kg": 1, "nonce": nonce, "signatures": [sig]},
        key="b1",
    )
    assert error_of(other)["code"] == "idempotency_key_reused"
    not_bureau = http.post("ningbo", "/v1/reserve/buy-backs", {**terms, "nonce": new_nonce()})
    assert not_bureau.status_code == 403
    assert http.head() == before + 1


def test_the_operator_runs_expiry_and_others_may_not(http: HttpWorld) -> None:
    soon = (utc_now().date() + timedelta(days=1)).isoformat()
    set_cap(http, 2_000, valid_until=soon)
    allocate_free(http, "yuyao_chem", 500, valid_until=soon)
    before = http.head()
    for alias in ("yuyao_chem", "yuyao"):
        refused = http.post(alias, "/v1/expiry-runs", {})
        assert refused.status_code == 403
        assert error_of(refused)["details"]["action"] == "run_expiry"
    assert http.head() == before
    nothing = http.post("operator", "/v1/expiry-runs", {})
    assert nothing.status_code == 200, nothing.text
    assert nothing.json()["swept"] == []
    real_clock = http.registry.clock
    http.registry.clock = lambda: real_clock() + timedelta(days=3)  # the lot's validity has ended
    try:
        r = http.post("operator", "/v1/expiry-runs", {}, key="e1")
        assert r.status_code == 200, r.text
        report = r.json()
        swept = {p["account"]: p["swept_kg"] for p in report["swept"]}
        assert swept == {f"{http.party('yuyao_chem')}.holding": 500, f"{http.party('yuyao')}.reserve": 1_500}
        assert len(report["records"]) == 1
        assert total(http, f"{http.party('yuyao')}.retirement", "COD", f"j=330281;u={soon}") == 2_000
        assert http.post("operator", "/v1/expiry-runs", {}, key="e1").json() == report
        future = (utc_now().date() + timedelta(days=30)).isoformat()
        bad_day = http.post("operator", "/v1/expiry-runs", {"today": future})
        assert bad_day.status_code == 422
        assert error_of(bad_day)["details"]["field"] == "today"
    finally:
        http.registry.clock = real_clock


def test_a_paid_allocation_offer_waits_for_the_enterprise_consent(http: HttpWorld) -> None:
    """The bureau signs now (custody key); the enterprise consents later with its own: the rights and
    the fee move in one record with both signatures; the offer is taken once and seen by its two
    parties only."""
    set_cap(http, 10_000)
    fund(http, "yuyao_chem", 10_000_000)
    chem, bureau = http.party("yuyao_chem"), http.party("yuyao")
    terms = {"enterprise": chem, "instrument": "COD", "quantity_kg": 2_000, "valid_until": VALID_UNTIL}
    before = http.head()
    r = http.post("yuyao", "/v1/allocation-offers", terms, key="o1")
    assert r.status_code == 200, r.text
    offer = r.json()
    assert (offer["status"], offer["fee_fen"], offer["allocation_seq"]) == ("pending", 4_000_000, None)
    assert offer["draft"]["signers"] == [bureau, chem]
    assert http.head() == before  # an offer writes no record
    assert total(http, f"{chem}.holding", "COD", LOT) == 0
    listed = http.get("yuyao_chem", "/v1/allocation-offers", params={"status": "pending"}).json()
    assert [o["id"] for o in listed["items"]] == [offer["id"]]
    hidden = http.get("yuyao_dye", f"/v1/allocation-offers/{offer['id']}")
    assert (hidden.status_code, error_of(hidden)["code"]) == (404, "unknown_allocation_offer")
    by_bureau = http.post("yuyao", f"/v1/allocation-offers/{offer['id']}/accept", {})
    assert (by_bureau.status_code, error_of(by_bureau)["details"]["rule"]) == (403, "own_units_only")

    # a self-custody enterprise signs the offer's body itself
    sig = signed_by(http, "yuyao_chem", offer["draft"]["body"])
    accept = f"/v1/allocation-offers/{offer['id']}/accept"
    done = http.post("yuyao_chem", accept, {"signatures": [sig]}, key="a1")
    assert done.status_code == 200, done.text
    assert done.json()["fee_fen"] == 4_000_000
    assert http.head() == before + 1
    assert total(http, f"{chem}.cash") == 10_000_000 - 4_000_000
    assert total(http, f"{bureau}.cash") == 4_000_000
    assert total(http, f"{chem}.holding", "COD", LOT) == 2_000
    record = http.get("auditor", "/v1/journal", params={"start": before, "limit": 1}).text
    assert f'"party":"{bureau}"' in record  # both signatures
    assert f'"party":"{chem}"' in record
    again = http.post("yuyao_chem", accept, {"signatures": [sig]})
    assert (again.status_code, error_of(again)["code"]) == (409, "allocation_offer_not_pending")
    seen = http.get("yuyao", f"/v1/allocation-offers/{offer['id']}").json()
    assert (seen["status"], seen["allocation_seq"]) == ("accepted", before)


def test_an_allocation_offer_declined_or_refused_moves_nothing(http: HttpWorld) -> None:
    set_cap(http, 3_000)
    chem = http.party("yuyao_chem")
    terms = {"enterprise": chem, "instrument": "COD", "quantity_kg": 2_000, "valid_until": VALID_UNTIL}
    before = http.head()
    for change, status, code in (
        ({"enterprise": http.party("ningbo_petro")}, 403, "permission_denied"),
        ({"price_fen_per_tonne_year": 0}, 422, "invalid_input"),
        ({"instrument": "XYZ"}, 422, "unknown_instrument"),
    ):
        r = http.post("yuyao", "/v1/allocation-offers", {**terms, **change})
        assert (r.status_code, error_of(r)["code"]) == (status, code), (change, r.text)
    by_enterprise = http.post("yuyao_chem", "/v1/allocation-offers", terms)
    assert by_enterprise.status_code == 403
    # no cash yet: the consent is refused by the ledger and the offer stays pending
    offer = http.post("yuyao", "/v1/allocation-offers", terms).json()
    broke = http.post("yuyao_chem", f"/v1/allocation-offers/{offer['id']}/accept", {})
    assert (broke.status_code, error_of(broke)["code"]) == (409, "insufficient_balance")
    assert http.get("yuyao_chem", f"/v1/allocation-offers/{offer['id']}").json()["status"] == "pending"
    declined = http.post("yuyao_chem", f"/v1/allocation-offers/{offer['id']}/withdraw")
    assert (declined.status_code, declined.json()["status"]) == (200, "withdrawn")
    fund(http, "yuyao_chem", 10_000_000)
    late = http.post("yuyao_chem", f"/v1/allocation-offers/{offer['id']}/accept", {})
    assert (late.status_code, error_of(late)["code"]) == (409, "allocation_offer_not_pending")
    assert http.head() == before + 1  # the deposit only
    assert total(http, f"{chem}.holding", "COD", LOT) == 0
