"""Four-eyes approval and the trusted-account list over HTTP (issue #18), both engines: a clerk's
transfer above the party's threshold answers 202 with a proposal that only another user (an approver)
can approve; the record names both users and the auditor's bundle verifies; a trusted addition is
in effect only after the registry's delay, a removal at once; bad input is refused naming its field
and leaves the journal as it was."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.audit import verify_bundle
from ledger.crypto import SigningKey
from ledger.journal import parse_line
from ledger.model import Lot, Posting, TxBody
from ledger.service import Registry, new_nonce
from tests.api.conftest import HttpWorld, error_of
from tests.api.test_api_bluecarbon import _bc, _issued
from tests.api.test_api_issuance import LOT, VALID_UNTIL, allocate_free, set_cap, signed_by, total
from tests.browser.world import Clock

THRESHOLD_KG = 1_000


class FourEyesWorld(HttpWorld):
    """The HTTP world on a clock the test moves (the trusted list's delay is in working days)."""

    def __init__(self, engine: Engine) -> None:
        self.clock = Clock()
        super().__init__(engine, Registry(SigningKey.from_seed(bytes(range(32))), clock=self.clock))

    def add_user(self, alias: str, user: str, role: str) -> None:
        """A named user of ``alias`` made by its administrator key; its token as ``alias_user``."""
        made = self.post(
            alias,
            f"/v1/participants/{self.party(alias)}/users",
            {"user_id": user, "name": user, "role": role},
        )
        assert made.status_code == 200, made.text
        self.tokens[f"{alias}_{user}"] = made.json()["token"]

    def controls(self, alias: str, **settings: Any) -> None:
        done = self.post(alias, f"/v1/participants/{self.party(alias)}/controls", settings)
        assert done.status_code == 200, done.text

    def bundle_verifies(self, folder: Path) -> None:
        """The auditor's bundle, exported over HTTP, verifies offline."""
        bundle = folder / "bundle.tar"
        bundle.write_bytes(self.get("auditor", "/v1/exports/bundle").content)
        summary = verify_bundle(bundle, registry_key=self.registry.key.public, workers=1)
        assert summary.ok, summary.render()

    def record(self, seq: int) -> dict[str, Any]:
        """A journal record's body as the auditor reads it."""
        line = self.get("auditor", "/v1/journal", params={"start": seq, "limit": 1}).text
        body: dict[str, Any] = parse_line(line.strip().encode()).body
        return body


@pytest.fixture
def fe(engine: Engine) -> FourEyesWorld:
    """yuyao_chem holds 5 t/a of COD and has a clerk (alice) and an approver (bob)."""
    http = FourEyesWorld(engine)
    set_cap(http, 10_000)
    allocate_free(http, "yuyao_chem", 5_000)
    http.add_user("yuyao_chem", "alice", "clerk")
    http.add_user("yuyao_chem", "bob", "approver")
    return http


def _send(http: HttpWorld, who: str, kg: int, key: str | None = None, **overrides: Any) -> Any:
    payload = {"to": f"{http.party('yuyao_dye')}.holding", "instrument": "COD", "lot": LOT, "quantity_kg": kg}
    return http.post(who, "/v1/transfers", {**payload, **overrides}, key=key)


def test_a_clerks_transfer_above_the_threshold_waits_for_an_approver_and_the_record_names_both(
    fe: FourEyesWorld, tmp_path: Path
) -> None:
    http, chem, dye = fe, fe.party("yuyao_chem"), fe.party("yuyao_dye")
    http.controls("yuyao_chem", four_eyes_kg={"transfer": THRESHOLD_KG})
    before = http.head()
    accepted = _send(http, "yuyao_chem_alice", 1_500, key="t-1")
    assert accepted.status_code == 202, accepted.text
    proposal = accepted.json()
    assert (proposal["kind"], proposal["status"], proposal["proposed_by"]) == ("transfer", "pending", "alice")
    (slot,) = proposal["signers"]
    assert (slot["party"], slot["role"], slot["excluded_user"], slot["signed"]) == (
        chem,
        "approver",
        "alice",
        False,
    )
    assert http.head() == before  # nothing recorded yet
    retried = _send(http, "yuyao_chem_alice", 1_500, key="t-1")
    assert (retried.status_code, retried.json()) == (202, proposal)  # the same answer, no second proposal
    assert http.get("yuyao_chem", "/v1/proposals", params={"kind": "transfer"}).json()["total"] == 1

    by_clerk = http.post("yuyao_chem_alice", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (by_clerk.status_code, error_of(by_clerk)["code"]) == (409, "four_eyes_required")
    assert http.head() == before
    http.add_user("yuyao_chem", "dan", "clerk")  # a journal record of its own
    before = http.head()
    by_other_clerk = http.post("yuyao_chem_dan", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (by_other_clerk.status_code, error_of(by_other_clerk)["code"]) == (409, "four_eyes_required")
    assert http.head() == before
    awaiting = http.get("yuyao_chem_bob", "/v1/proposals", params={"awaiting": "true"}).json()["items"]
    assert [p["id"] for p in awaiting] == [proposal["id"]]
    signed = http.post("yuyao_chem_bob", f"/v1/proposals/{proposal['id']}/sign", {}, key="s-1")
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["record_seq"]) == ("applied", before)
    assert http.record(before)["meta"]["approved_by"] == {chem: ["alice", "bob"]}
    assert total(http, f"{dye}.holding", "COD", LOT) == 1_500
    assert total(http, f"{chem}.holding", "COD", LOT) == 3_500

    # at or under the threshold one user's transfer is recorded at once, naming that user
    at_once = _send(http, "yuyao_chem_alice", THRESHOLD_KG)
    assert at_once.status_code == 200, at_once.text
    assert http.record(at_once.json()["seq"])["meta"]["approved_by"] == {chem: ["alice"]}
    http.bundle_verifies(tmp_path)


def test_the_administrator_key_transfers_at_once_but_above_the_threshold_the_ledger_wants_two_users(
    fe: FourEyesWorld,
) -> None:
    http = fe
    http.controls("yuyao_chem", four_eyes_kg={"transfer": THRESHOLD_KG})
    small = _send(http, "yuyao_chem", 500)
    assert small.status_code == 200, small.text
    assert "approved_by" not in http.record(small.json()["seq"])["meta"]
    before = http.head()
    large = _send(http, "yuyao_chem", 1_500)
    assert (large.status_code, error_of(large)["code"]) == (409, "four_eyes_required")
    assert error_of(large)["details"]["field"] == "body.meta.approved_by"
    assert http.head() == before
    assert http.get("yuyao_chem", "/v1/proposals").json()["total"] == 0


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"quantity_kg": -5}, "invalid_request", "quantity_kg"),
        ({"to": "ent:nobody.holding"}, "invalid_input", "to"),
        ({"lot": "j=330281;u=someday"}, "invalid_input", "lot"),
        ({"instrument": "GOLD"}, "unknown_instrument", "instrument"),
    ],
)
def test_a_bad_transfer_is_refused_naming_its_field_and_proposes_nothing(
    fe: FourEyesWorld, overrides: dict[str, Any], code: str, field: str
) -> None:
    http = fe
    http.controls("yuyao_chem", four_eyes_kg={"transfer": THRESHOLD_KG})
    before = http.head()
    refused = _send(http, "yuyao_chem_alice", 1_500, **overrides)
    assert refused.status_code == 422, refused.text
    assert (error_of(refused)["code"], error_of(refused)["details"]["field"]) == (code, field)
    assert http.head() == before
    assert http.get("yuyao_chem", "/v1/proposals").json()["total"] == 0


def test_a_trusted_addition_is_in_effect_only_after_the_delay_and_a_removal_at_once(
    fe: FourEyesWorld,
) -> None:
    http, chem, dye = fe, fe.party("yuyao_chem"), f"{fe.party('yuyao_dye')}.holding"
    http.controls("yuyao_chem", trusted_list=True)
    trusted = f"/v1/participants/{chem}/trusted"
    by_admin = http.post("yuyao_chem", trusted, {"account": dye})  # an addition always needs two users
    assert (by_admin.status_code, error_of(by_admin)["code"]) == (409, "unknown_user")
    accepted = http.post("yuyao_chem_alice", trusted, {"account": dye}, key="tr-1")
    assert accepted.status_code == 202, accepted.text
    proposal = accepted.json()
    assert (proposal["kind"], proposal["status"], proposal["terms"]) == (
        "trust.add",
        "pending",
        {"account": dye},
    )
    assert http.get("yuyao_chem", f"/v1/participants/{chem}/controls").json()["trusted"] == {}
    signed = http.post("yuyao_chem_bob", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (signed.status_code, signed.json()["status"]) == (200, "applied")
    listed = http.get("yuyao_chem", f"/v1/participants/{chem}/controls").json()["trusted"]
    assert list(listed) == [dye]

    before = http.head()
    early = _send(http, "yuyao_chem_alice", 500)
    assert (early.status_code, error_of(early)["code"]) == (409, "account_not_trusted")
    assert http.head() == before
    fe.clock.advance(timedelta(days=7))  # past 4 working days, whatever weekday the test runs on
    sent = _send(http, "yuyao_chem_alice", 500)
    assert sent.status_code == 200, sent.text
    assert total(http, dye, "COD", LOT) == 500

    removed = http.post("yuyao_chem_bob", f"{trusted}/{dye}/remove", key="rm-1")
    assert removed.status_code == 200, removed.text
    assert http.record(removed.json()["seq"])["meta"]["approved_by"] == {chem: ["bob"]}
    assert http.get("yuyao_chem", f"/v1/participants/{chem}/controls").json()["trusted"] == {}
    after = _send(http, "yuyao_chem_alice", 500)
    assert (after.status_code, error_of(after)["code"]) == (409, "account_not_trusted")
    assert total(http, dye, "COD", LOT) == 500


def test_trusted_list_refusals_name_the_field_and_leave_the_journal_untouched(fe: FourEyesWorld) -> None:
    http, chem, dye = fe, fe.party("yuyao_chem"), fe.party("yuyao_dye")
    http.controls("yuyao_chem", trusted_list=True)
    before = http.head()
    unknown = http.post(
        "yuyao_chem_alice", f"/v1/participants/{chem}/trusted", {"account": "ent:nobody.holding"}
    )
    assert (unknown.status_code, error_of(unknown)["code"], error_of(unknown)["details"]["field"]) == (
        422,
        "invalid_input",
        "account",
    )
    own = http.post("yuyao_chem_alice", f"/v1/participants/{chem}/trusted", {"account": f"{chem}.holding"})
    assert (own.status_code, error_of(own)["details"]["field"]) == (422, "account")
    other = http.post("yuyao_chem_alice", f"/v1/participants/{dye}/trusted", {"account": f"{chem}.holding"})
    assert (other.status_code, error_of(other)["code"], error_of(other)["details"]["rule"]) == (
        403,
        "permission_denied",
        "own_party_only",
    )
    not_listed = http.post("yuyao_chem_alice", f"/v1/participants/{chem}/trusted/{dye}.holding/remove")
    assert (not_listed.status_code, error_of(not_listed)["details"]["field"]) == (422, "account")
    extra = http.post("yuyao_chem_alice", f"/v1/participants/{chem}/trusted", {"account": dye, "now": True})
    assert extra.status_code == 422
    assert http.head() == before
    assert http.get("yuyao_chem", "/v1/proposals").json()["total"] == 0


def test_a_bureau_clerks_free_allocation_above_the_threshold_is_a_proposal_an_approver_applies(
    fe: FourEyesWorld,
) -> None:
    http, chem, bureau = fe, fe.party("yuyao_chem"), fe.party("yuyao")
    http.add_user("yuyao", "wang", "clerk")
    http.add_user("yuyao", "li", "approver")
    http.controls("yuyao", four_eyes_kg={"allocation.initial": THRESHOLD_KG})
    terms = {"enterprise": chem, "instrument": "COD", "quantity_kg": 2_000, "valid_until": VALID_UNTIL}
    before = http.head()
    accepted = http.post("yuyao_wang", "/v1/allocations", {**terms, "paid_use": False}, key="al-1")
    assert accepted.status_code == 202, accepted.text
    proposal = accepted.json()
    assert (proposal["kind"], proposal["status"], proposal["proposed_by"]) == (
        "allocation",
        "pending",
        "wang",
    )
    assert http.head() == before
    by_admin = http.post("yuyao", "/v1/allocations", {**terms, "paid_use": False})
    assert (by_admin.status_code, error_of(by_admin)["code"]) == (409, "four_eyes_required")
    by_wang = http.post("yuyao_wang", f"/v1/proposals/{proposal['id']}/sign", {})
    assert by_wang.status_code == 409
    signed = http.post("yuyao_li", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (signed.status_code, signed.json()["record_seq"]) == (200, before)
    assert http.record(before)["meta"]["approved_by"] == {bureau: ["wang", "li"]}
    assert total(http, f"{chem}.holding", "COD", LOT) == 7_000
    small = http.post("yuyao_wang", "/v1/allocations", {**terms, "quantity_kg": 500, "paid_use": False})
    assert small.status_code == 200, small.text
    assert small.json()["quantity_kg"] == 500


def test_a_self_signed_instruction_is_never_a_proposal_the_partys_signature_attests_both_users(
    fe: FourEyesWorld,
) -> None:
    """/v1/instructions records what the party signed: its signature covers ``approved_by``, and a
    second user cannot be added to a signed body, so above the threshold one user is refused."""
    http, chem, dye = fe, fe.party("yuyao_chem"), fe.party("yuyao_dye")
    http.controls("yuyao_chem", four_eyes_kg={"transfer": THRESHOLD_KG})

    def instruction(users: list[str]) -> dict[str, Any]:
        lot = Lot.from_key(LOT)
        body = TxBody(
            "transfer",
            new_nonce(),
            (Posting(f"{chem}.holding", "COD", lot, -1_500), Posting(f"{dye}.holding", "COD", lot, 1_500)),
            meta={"approved_by": {chem: users}},
        ).to_json()
        return {"body": body, "signatures": [signed_by(http, "yuyao_chem", body)]}

    before = http.head()
    alone = http.post("yuyao_chem_alice", "/v1/instructions", instruction(["alice"]))
    assert (alone.status_code, error_of(alone)["code"]) == (409, "four_eyes_required")
    assert http.head() == before
    assert http.get("yuyao_chem", "/v1/proposals").json()["total"] == 0
    both = http.post("yuyao_chem_alice", "/v1/instructions", instruction(["alice", "bob"]))
    assert both.status_code == 200, both.text
    assert http.record(both.json()["seq"])["meta"]["approved_by"] == {chem: ["alice", "bob"]}


def test_a_clerks_blue_carbon_transfer_above_the_threshold_moves_its_serials_only_once_approved(
    fe: FourEyesWorld,
) -> None:
    http, coop, ship = fe, fe.party("shengsi_coop"), fe.party("zhoushan_ship")
    batch = _issued(http, "SS-MUSSEL-FE", farm_area_mu="100", harvested_wet_kg="200000")["batch"]
    http.add_user("shengsi_coop", "zhou", "clerk")
    http.add_user("shengsi_coop", "chen", "approver")
    http.controls("shengsi_coop", four_eyes_kg={"bc.transfer": 10 * 1000})  # 10 tCO2e
    move = {"batch": batch, "tonnes": 20, "to_account": f"{ship}.holding"}
    before = http.head()
    for change, field in (({"tonnes": 0}, "tonnes"), ({"to_account": "ent:nobody.holding"}, "to_account")):
        refused = http.post("shengsi_coop_zhou", "/v1/bc/transfers", {**move, **change})
        assert (refused.status_code // 100, error_of(refused)["details"]["field"]) == (4, field)
    by_admin = http.post("shengsi_coop", "/v1/bc/transfers", move)
    assert (by_admin.status_code, error_of(by_admin)["code"]) == (409, "four_eyes_required")
    accepted = http.post("shengsi_coop_zhou", "/v1/bc/transfers", move, key="bc-1")
    assert accepted.status_code == 202, accepted.text
    proposal = accepted.json()
    assert (proposal["kind"], proposal["status"], proposal["proposed_by"]) == (
        "bc.transfer",
        "pending",
        "zhou",
    )
    assert http.head() == before
    assert _bc(http, "operator", f"{ship}.holding", batch) == 0
    assert http.post("shengsi_coop_zhou", f"/v1/proposals/{proposal['id']}/sign", {}).status_code == 409
    signed = http.post("shengsi_coop_chen", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (signed.status_code, signed.json()["record_seq"]) == (200, before), signed.text
    record = http.record(before)
    assert record["meta"]["approved_by"] == {coop: ["zhou", "chen"]}
    assert record["meta"]["tonnes"] == 20
    assert _bc(http, "operator", f"{ship}.holding", batch) == 20 * 1000
    small = http.post("shengsi_coop_zhou", "/v1/bc/transfers", {**move, "tonnes": 5})
    assert small.status_code == 200, small.text
    assert http.record(small.json()["seq"])["meta"]["approved_by"] == {coop: ["zhou"]}


def test_a_users_change_of_controls_in_force_is_a_proposal_that_only_an_approver_applies(
    fe: FourEyesWorld, tmp_path: Path
) -> None:
    """Once thresholds are in force, loosening them is itself four-eyes: a clerk's change answers 202
    and changes nothing, the clerk cannot approve it, the administrator key alone is refused by the
    ledger, and the approver's signature records the change naming both users."""
    http, chem = fe, fe.party("yuyao_chem")
    url = f"/v1/participants/{chem}/controls"
    http.controls("yuyao_chem", four_eyes_kg={"transfer": THRESHOLD_KG})
    before = http.head()
    asked = http.post("yuyao_chem_alice", url, {"four_eyes_kg": {"transfer": 4_000}}, key="c-1")
    assert asked.status_code == 202, asked.text
    proposal = asked.json()
    assert (proposal["kind"], proposal["status"]) == ("controls.set", "pending")
    assert proposal["proposed_by"] == "alice"
    assert proposal["terms"] == {"four_eyes_kg": {"transfer": 4_000}}
    again = http.post("yuyao_chem_alice", url, {"four_eyes_kg": {"transfer": 4_000}}, key="c-1")
    assert (again.status_code, again.json()) == (202, proposal)
    assert http.head() == before
    assert http.get("yuyao_chem", url).json()["four_eyes_kg"] == {"transfer": THRESHOLD_KG}

    by_clerk = http.post("yuyao_chem_alice", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (by_clerk.status_code, error_of(by_clerk)["code"]) == (409, "four_eyes_required")
    by_administrator = http.post("yuyao_chem", url, {"four_eyes_kg": {"transfer": 4_000}})
    assert (by_administrator.status_code, error_of(by_administrator)["code"]) == (409, "four_eyes_required")
    by_outsider = http.post("yuyao_dye", f"/v1/proposals/{proposal['id']}/sign", {})
    assert (by_outsider.status_code, error_of(by_outsider)["code"]) == (404, "unknown_proposal")
    on_their_behalf = http.post("yuyao_dye", url, {"four_eyes_kg": {}})
    assert (on_their_behalf.status_code, error_of(on_their_behalf)["code"]) == (403, "permission_denied")
    assert http.head() == before
    bad = http.post("yuyao_chem_alice", url, {"four_eyes_kg": {"transfer": -5}})
    assert bad.status_code == 422, bad.text
    assert error_of(bad)["details"]["field"] == "four_eyes_kg.transfer"
    assert http.get("yuyao_chem", "/v1/proposals", params={"kind": "controls.set"}).json()["total"] == 1
    awaiting = http.get("yuyao_chem_bob", "/v1/proposals", params={"awaiting": "true"}).json()["items"]
    assert [p["id"] for p in awaiting] == [proposal["id"]]

    signed = http.post("yuyao_chem_bob", f"/v1/proposals/{proposal['id']}/sign", {})
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["record_seq"]) == ("applied", before)
    assert http.record(before)["meta"]["approved_by"] == {chem: ["alice", "bob"]}
    assert http.get("yuyao_chem", url).json()["four_eyes_kg"] == {"transfer": 4_000}
    assert _send(http, "yuyao_chem_alice", 1_500).status_code == 200  # under the new threshold: at once
    http.bundle_verifies(tmp_path)


def test_while_no_control_is_in_force_a_users_setting_is_recorded_at_once_naming_the_user(
    fe: FourEyesWorld,
) -> None:
    http, chem = fe, fe.party("yuyao_chem")
    done = http.post("yuyao_chem_alice", f"/v1/participants/{chem}/controls", {"trusted_list": True})
    assert done.status_code == 200, done.text
    assert done.json()["trusted_list"] is True
    assert http.record(http.head() - 1)["meta"]["approved_by"] == {chem: ["alice"]}
