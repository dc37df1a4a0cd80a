"""Pledges (排污权抵质押) through HTTP: the four steps with custody keys and with a client's own
signatures, the 80% and term limits, release, enforcement, forced auction, cancellation, and the
certificate a bank verifies offline; every refusal with its code and an unchanged journal."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count
from typing import Any

import pytest
from sqlmodel import Session

from api.client import Client
from ledger.journal import parse_line
from ledger.service import journal_lines
from tests.api.conftest import HttpWorld, error_of
from tests.api.module_world import grant, module_http, position

# One worker runs the whole module in a row (xdist loadgroup): its world would not survive another
# module truncating the same PostgreSQL schema in between.
pytestmark = pytest.mark.xdist_group("api_pledges")
http = module_http  # one demo world per engine for this module: each test pledges its own lot
_days = count(1)


def _lot_until() -> date:
    """A fresh validity end per test, so each test's units are a lot of their own."""
    return date(2030, 1, next(_days))


def _lot(until: date) -> dict[str, Any]:
    return {"jurisdiction": "330281", "valid_until": until.isoformat()}


def _apply(http: HttpWorld, until: date, kg: int, bank: str = "bank_yuyao") -> dict[str, Any]:
    r = http.post(
        "yuyao_chem",
        "/v1/pledges",
        {"bank": http.party(bank), "instrument": "COD", "lot": _lot(until), "quantity_kg": kg},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _active(http: HttpWorld, kg: int, *, bank: str = "bank_yuyao") -> tuple[dict[str, Any], date]:
    """A pledge through all four steps, signed with the custody keys."""
    until = _lot_until()
    grant(http, "yuyao", "yuyao_chem", 2 * kg, until=until)
    pid = _apply(http, until, kg, bank)["id"]
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("yuyao", "approve", {"approved_kg": kg, "certificate_no": f"ZJPW-330281-{pid}"}),
        (bank, "loan", {"loan_id": f"LN-{pid}", "amount_fen": kg * 1_000, "rate_bp": 385, "term_months": 12}),
        ("yuyao_chem", "confirm", {}),
    ]
    for alias, step, body in steps:
        r = http.post(alias, f"/v1/pledges/{pid}/{step}", body)
        assert r.status_code == 200, r.text
    return r.json(), until


def _holding(http: HttpWorld, alias: str) -> str:
    return f"{http.party(alias)}.holding"


def _cod(http: HttpWorld, alias: str, until: date) -> tuple[int, int]:
    from ledger.model import Lot

    return position(http, _holding(http, alias), "COD", Lot(jurisdiction="330281", valid_until=until))


def test_the_four_steps_hold_the_units_for_the_bank_in_one_record(http: HttpWorld) -> None:
    until = _lot_until()
    grant(http, "yuyao", "yuyao_chem", 10_000, until=until)
    size = http.head()
    bank = http.party("bank_yuyao")
    apply = {"bank": bank, "instrument": "COD", "lot": _lot(until), "quantity_kg": 6_000}
    assert http.client.post("/v1/pledges", json=apply).status_code == 401
    refused = http.post("bank_yuyao", "/v1/pledges", apply)
    assert (refused.status_code, error_of(refused)["details"]["rule"]) == (403, "pledgor_enterprise_only")
    no_lot = http.post("yuyao_chem", "/v1/pledges", {**apply, "lot": {"valid_until": until.isoformat()}})
    assert (no_lot.status_code, error_of(no_lot)["details"]["field"]) == (422, "lot.jurisdiction")
    too_much = http.post("yuyao_chem", "/v1/pledges", {**apply, "quantity_kg": 10_001})
    assert (too_much.status_code, error_of(too_much)["code"]) == (409, "collateral_unavailable")
    assert http.post("yuyao_chem", "/v1/pledges", {**apply, "extra": 1}).status_code == 422
    assert http.post("yuyao_chem", "/v1/pledges", {**apply, "quantity_kg": "6000"}).status_code == 422

    p = http.post("yuyao_chem", "/v1/pledges", apply, key="apply-1").json()
    assert (p["status"], p["applied_kg"], p["bureau"], p["bank"]) == ("applied", 6_000, "bureau:330281", bank)
    again = http.post("yuyao_chem", "/v1/pledges", apply, key="apply-1")
    assert again.json() == p  # replayed, not a second application
    reused = http.post("yuyao_chem", "/v1/pledges", {**apply, "quantity_kg": 1}, key="apply-1")
    assert (reused.status_code, error_of(reused)["code"]) == (409, "idempotency_key_reused")
    pid = p["id"]

    approve = {"approved_kg": 5_000, "certificate_no": "ZJPW-330281-2025-0042"}
    for alias, status, rule in (
        ("ningbo", 403, "bureau_own_jurisdiction"),
        ("bank_yuyao", 403, "bureau_approves_quantity"),
    ):
        r = http.post(alias, f"/v1/pledges/{pid}/approve", approve)
        assert (r.status_code, error_of(r)["details"]["rule"]) == (status, rule)
    over = http.post("yuyao", f"/v1/pledges/{pid}/approve", {**approve, "approved_kg": 6_001})
    assert (over.status_code, error_of(over)["details"]["field"]) == (422, "approved_kg")
    assert http.post("yuyao", "/v1/pledges/pl-missing/approve", approve).status_code == 404
    r = http.post("yuyao", f"/v1/pledges/{pid}/approve", approve)
    assert (r.status_code, r.json()["status"], r.json()["signed_by"]) == (200, "approved", ["bureau:330281"])

    loan = {"loan_id": "NB-LN-2025-001", "amount_fen": 6_800_001, "rate_bp": 385, "term_months": 36}
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/loan", loan)  # 80% of 5 t x 17,000 CNY is 68,000 CNY
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["max_loan_fen"]) == (
        409,
        "loan_exceeds_value",
        6_800_000,
    )
    r = http.post(
        "bank_yuyao", f"/v1/pledges/{pid}/loan", {**loan, "amount_fen": 6_800_000, "term_months": 120}
    )
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
        409,
        "loan_term_beyond_validity",
        "term_months",
    )
    r = http.post("bank_ningbo", f"/v1/pledges/{pid}/loan", {**loan, "amount_fen": 6_800_000})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "pledge_under_own_control")
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/loan", {**loan, "amount_fen": 6_800_000})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["status"] == "loan_recorded"
    assert p["appraisal"] == {
        "instrument": "COD",
        "jurisdiction": "330281",
        "quantity_kg": 5_000,
        "price_fen_per_tonne": 1_700_000,  # Shaoxing's reference, nothing traded in 90 days
        "source": "reference",
        "value_fen": 8_500_000,
        "max_ltv_bp": 8_000,
        "max_loan_fen": 6_800_000,
        "reference_fen_per_tonne": 1_700_000,
        "reference_source": "reference",
        "bank_fen_per_tonne": None,
    }
    assert p["loan"]["amount_fen"] == 6_800_000
    assert http.head() == size, "nothing is recorded before the enterprise confirms"

    r = http.post("yuyao_dye", f"/v1/pledges/{pid}/confirm", {})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "own_units_only")
    r = http.post("yuyao_chem", f"/v1/pledges/{pid}/confirm", {}, key="confirm-1")
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["status"], p["held_kg"], p["record_seq"]) == ("active", 5_000, size)
    assert p["signed_by"] == sorted([http.party("yuyao_chem"), bank, "bureau:330281"])
    assert http.head() == size + 1
    assert http.post("yuyao_chem", f"/v1/pledges/{pid}/confirm", {}, key="confirm-1").json() == p
    assert http.head() == size + 1
    reused = http.post("yuyao_chem", f"/v1/pledges/{pid}/confirm", {"signatures": []}, key="confirm-1")
    assert error_of(reused)["code"] == "idempotency_key_reused"
    again = http.post("yuyao_chem", f"/v1/pledges/{pid}/confirm", {})
    assert (again.status_code, error_of(again)["code"]) == (409, "pledge_state_conflict")
    assert _cod(http, "yuyao_chem", until) == (10_000, 5_000)
    with Session(http.engine) as s:
        record = parse_line(next(journal_lines(s, start=size, stop=size + 1)))
    assert all(sig.custody for sig in record.sigs)  # signed with the keys the registry holds
    assert http.head() == size + 1


def test_each_party_lists_and_reads_the_pledges_it_may_see(http: HttpWorld) -> None:
    p, _ = _active(http, 1_000)
    assert http.get("bank_yuyao", f"/v1/pledges/{p['id']}").json() == p
    assert http.get("ningbo", f"/v1/pledges/{p['id']}").status_code == 200  # supervises Yuyao
    hidden = http.get("yuyao_dye", f"/v1/pledges/{p['id']}")
    assert (hidden.status_code, error_of(hidden)["details"]["rule"]) == (403, "account_visibility")
    assert http.get("bank_yuyao", "/v1/pledges/pl-missing").status_code == 404
    assert http.client.get("/v1/pledges").status_code == 401

    def ids(alias: str, **params: Any) -> set[str]:
        page = http.get(alias, "/v1/pledges", params={"limit": 500, **params}).json()
        return {item["id"] for item in page["items"]}

    for alias in ("bank_yuyao", "yuyao_chem", "yuyao", "ningbo", "auditor", "operator"):
        assert p["id"] in ids(alias), alias
    for alias in ("bank_ningbo", "yuyao_dye", "zhoushan"):
        assert p["id"] not in ids(alias), alias
    assert p["id"] in ids("bank_yuyao", status="active")
    assert p["id"] not in ids("bank_yuyao", status="applied")
    page = http.get("bank_yuyao", "/v1/pledges", params={"limit": 1}).json()
    assert (page["limit"], len(page["items"])) == (1, 1)
    assert page["total"] >= 1
    assert http.get("bank_yuyao", "/v1/pledges", params={"status": "nonsense"}).status_code == 422


def test_a_client_signs_the_bodies_the_registry_returns_with_its_own_key(http: HttpWorld) -> None:
    until = _lot_until()
    grant(http, "yuyao", "yuyao_chem", 1_000, until=until)
    pid = _apply(http, until, 500)["id"]
    path = f"/v1/pledges/{pid}"
    incomplete = http.get("yuyao", f"{path}/bodies", params={"step": "approve"})
    assert (incomplete.status_code, error_of(incomplete)["details"]["field"]) == (422, "approved_kg")
    assert http.get("yuyao_dye", f"{path}/bodies", params={"step": "confirm"}).status_code == 403

    def signed(alias: str, step: str, **params: Any) -> list[dict[str, Any]]:
        r = http.get(alias, f"{path}/bodies", params={"step": step, **params})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["signer"] == http.party(alias)
        who = http.who(alias)
        # the client signs a body under the body tag and the bureau's approval under its own
        client = Client(
            "http://testserver", http.tokens[alias], key=who.key, party=who.party, http=http.client
        )
        return [client.sign(b) for b in out["bodies"]]

    number = "余排污质〔2026〕第018号"  # any script; control and bidi characters are refused
    sigs = signed("yuyao", "approve", approved_kg=500, certificate_no=number)
    assert http.get("yuyao", f"{path}/bodies", params={"step": "approve"}).status_code == 422
    wrong = signed("yuyao", "approve", approved_kg=499, certificate_no=number)
    r = http.post(
        "yuyao", f"{path}/approve", {"approved_kg": 500, "certificate_no": number, "signatures": wrong}
    )
    assert (r.status_code, error_of(r)["code"]) == (422, "bad_signature")
    bidi = http.post(
        "yuyao", f"{path}/approve", {"approved_kg": 500, "certificate_no": "C-\u202e1", "signatures": sigs}
    )
    assert (bidi.status_code, error_of(bidi)["details"]["field"]) == (422, "certificate_no")
    r = http.post(
        "yuyao", f"{path}/approve", {"approved_kg": 500, "certificate_no": number, "signatures": sigs}
    )
    assert (r.status_code, r.json()["status"], r.json()["certificate_no"]) == (200, "approved", number)
    loan = {"loan_id": "L-1", "amount_fen": 100_000, "rate_bp": 400, "term_months": 6}
    missing = http.get("bank_yuyao", f"{path}/bodies", params={"step": "loan"})
    assert (missing.status_code, error_of(missing)["details"]["field"]) == (422, "loan_id")
    by_bureau_key = signed("yuyao", "loan", **loan)  # the bank sending the bureau's signature
    r = http.post("bank_yuyao", f"{path}/loan", {**loan, "signatures": by_bureau_key})
    assert (r.status_code, error_of(r)["code"]) == (422, "missing_signature")
    other_terms = signed("bank_yuyao", "loan", **{**loan, "amount_fen": 99_000})
    r = http.post("bank_yuyao", f"{path}/loan", {**loan, "signatures": other_terms})
    assert (r.status_code, error_of(r)["code"]) == (422, "bad_signature")  # it signs the terms it records
    r = http.post("bank_yuyao", f"{path}/loan", {**loan, "signatures": signed("bank_yuyao", "loan", **loan)})
    assert r.status_code == 200, r.text
    size = http.head()
    r = http.post("yuyao_chem", f"{path}/confirm", {"signatures": signed("yuyao_chem", "confirm")})
    assert (r.status_code, r.json()["status"]) == (200, "active")
    with Session(http.engine) as s:
        record = parse_line(next(journal_lines(s, start=size, stop=size + 1)))
    assert not any(sig.custody for sig in record.sigs)  # every party signed with its own key
    assert "custody" not in record.body["meta"]["approval"]
    assert record.body["meta"]["loan"]["principal_fen"] == 100_000
    release = signed("bank_yuyao", "release", quantity_kg=200)
    r = http.post("bank_yuyao", f"{path}/release", {"quantity_kg": 200, "signatures": release})
    assert (r.status_code, r.json()["held_kg"], r.json()["released_kg"]) == (200, 300, 200)


def test_the_bank_releases_in_part_then_in_full_and_only_it_may(http: HttpWorld) -> None:
    p, until = _active(http, 3_000)
    pid = p["id"]
    size = http.head()
    r = http.post("bank_ningbo", f"/v1/pledges/{pid}/release", {"quantity_kg": 1_000})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "pledge_controller_only")
    r = http.post("yuyao_chem", f"/v1/pledges/{pid}/release", {})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "action_not_granted_to_role")
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/release", {"quantity_kg": 3_001})
    assert (r.status_code, error_of(r)["code"], error_of(r)["details"]["field"]) == (
        422,
        "invalid_quantity",
        "quantity_kg",
    )
    assert http.head() == size
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/release", {"quantity_kg": 1_000}, key="rel-1")
    assert (r.json()["status"], r.json()["held_kg"], r.json()["released_kg"]) == ("active", 2_000, 1_000)
    assert http.post(
        "bank_yuyao", f"/v1/pledges/{pid}/release", {"quantity_kg": 1_000}, key="rel-1"
    ).json() == (r.json())
    assert http.head() == size + 1
    assert _cod(http, "yuyao_chem", until) == (6_000, 2_000)
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/release", {})
    assert (r.json()["status"], r.json()["held_kg"], r.json()["released_kg"]) == ("released", 0, 3_000)
    assert _cod(http, "yuyao_chem", until) == (6_000, 0)
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/enforce", {})
    assert (r.status_code, error_of(r)["code"]) == (409, "pledge_state_conflict")


def test_on_default_the_bank_enforces_or_asks_for_a_forced_auction(http: HttpWorld) -> None:
    p, until = _active(http, 2_000)
    size = http.head()
    r = http.post("bank_ningbo", f"/v1/pledges/{p['id']}/enforce", {})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "pledge_controller_only")
    assert http.head() == size
    r = http.post("bank_yuyao", f"/v1/pledges/{p['id']}/enforce", {})
    assert (r.json()["status"], r.json()["enforced_kg"], r.json()["held_kg"]) == ("enforced", 2_000, 0)
    assert _cod(http, "yuyao_chem", until) == (2_000, 0)
    assert _cod(http, "bank_yuyao", until) == (2_000, 0)  # captured into the bank's holding

    q, _ = _active(http, 1_000)
    claim = {"claim_fen": 900_000, "reason": "loan in default for 90 days"}
    r = http.post("yuyao_chem", f"/v1/pledges/{q['id']}/forced-auction", claim)
    assert (r.status_code, error_of(r)["code"]) == (403, "permission_denied")
    r = http.post("bank_yuyao", f"/v1/pledges/{q['id']}/forced-auction", {**claim, "reason": ""})
    assert r.status_code == 422
    r = http.post("bank_yuyao", f"/v1/pledges/{q['id']}/forced-auction", claim)
    assert (r.json()["status"], r.json()["claim_fen"], r.json()["held_kg"]) == (
        "forced_auction",
        900_000,
        1_000,
    )


def test_a_party_cancels_before_confirmation_and_nothing_was_held(http: HttpWorld) -> None:
    until = _lot_until()
    grant(http, "yuyao", "yuyao_chem", 1_000, until=until)
    pid = _apply(http, until, 1_000)["id"]
    size = http.head()
    r = http.post("bank_ningbo", f"/v1/pledges/{pid}/cancel", {"reason": "not ours"})
    assert (r.status_code, error_of(r)["details"]["rule"]) == (403, "pledge_parties_only")
    r = http.post("bank_yuyao", f"/v1/pledges/{pid}/cancel", {"reason": "declined"}, key="c-1")
    assert (r.json()["status"], r.json()["closed_by"], r.json()["reason"]) == (
        "cancelled",
        http.party("bank_yuyao"),
        "declined",
    )
    reused = http.post("bank_yuyao", f"/v1/pledges/{pid}/cancel", {"reason": "other"}, key="c-1")
    assert error_of(reused)["code"] == "idempotency_key_reused"
    assert http.head() == size
    # the units are free again: a new application for all of them is accepted
    assert _apply(http, until, 1_000)["status"] == "applied"


def _sale(http: HttpWorld, auction_id: str, **extra: Any) -> dict[str, Any]:
    closes = http.registry.clock() + timedelta(hours=2)
    return {
        "auction_id": auction_id,
        "quantity_kg": 1_000,
        "reserve_price_fen_per_t": 1_000_000,
        "design": "online_bidding",
        "closes_at": closes.isoformat(),
        "deposit": {"kind": "fixed", "amount_fen": 10_000},
        "reason": "逾期未还 loan overdue",
        **extra,
    }


def test_the_bank_or_after_enforcement_the_bureau_opens_a_forced_sale(http: HttpWorld) -> None:
    p, until = _active(http, 1_000)
    pid = p["id"]
    size = http.head()
    r = http.post("yuyao", f"/v1/pledges/{pid}/forced-sale", _sale(http, f"FS-B-{pid}"))
    assert (r.status_code, error_of(r)["code"]) == (409, "pledge_state_conflict")  # not enforced yet
    r = http.post("yuyao_chem", f"/v1/pledges/{pid}/forced-sale", _sale(http, f"FS-E-{pid}"))
    assert r.status_code in (403, 404), r.text
    r = http.post(
        "bank_yuyao", f"/v1/pledges/{pid}/forced-sale", _sale(http, f"FS-T-{pid}", design="ascending")
    )
    assert (r.status_code, error_of(r)["details"]["field"]) == (422, "increment_fen_per_t")
    assert http.head() == size  # every refusal left the journal as it was

    assert http.post("bank_yuyao", f"/v1/pledges/{pid}/enforce", {}).status_code == 200
    sale = _sale(http, f"FS-{pid}", design="ascending", increment_fen_per_t=10_000, max_bids_per_bidder=None)
    r = http.post("yuyao", f"/v1/pledges/{pid}/forced-sale", sale, key=f"fs-{pid}")
    assert r.status_code == 200, r.text
    auction = r.json()
    assert (auction["auction_id"], auction["status"], auction["design"], auction["quantity_kg"]) == (
        f"FS-{pid}",
        "open",
        "ascending",
        1_000,
    )
    assert auction["bureau"] == http.party("yuyao")
    # the same request again under its key answers the same, writing nothing more
    size = http.head()
    again = http.post("yuyao", f"/v1/pledges/{pid}/forced-sale", sale, key=f"fs-{pid}")
    assert (again.status_code, again.json(), http.head()) == (200, auction, size)
    r = http.get("bank_yuyao", f"/v1/pledges/{pid}")
    assert (r.json()["status"], r.json()["closed_by"]) == ("forced_auction", http.party("yuyao"))
    assert _cod(http, "bank_yuyao", until) == (1_000, 1_000)  # the enforced tonne, held for the sale
