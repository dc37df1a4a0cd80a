"""Participants through HTTP: who am I, the directory as each role sees it, registration by the
operator and by bureaus, signing keys (add, rotate, revoke) and API credentials (token shown once)."""

from __future__ import annotations

from sqlmodel import Session

from accounts.credentials import issue_credential
from accounts.identifiers import complete_credit_code
from accounts.keys import keys_of
from api.deps import _cache
from ledger.crypto import SigningKey, b64e
from tests.api.conftest import HttpWorld, error_of

NEW_CODE = complete_credit_code("91", "330281", "EXAMPLE9")


def _enterprise(code: str = NEW_CODE, jurisdiction: str = "330281") -> dict[str, object]:
    return {
        "role": "enterprise",
        "name": "余姚示例新材料有限公司",
        "credit_code": code,
        "jurisdiction": jurisdiction,
    }


def test_me_says_who_the_token_belongs_to_with_its_accounts(http: HttpWorld) -> None:
    r = http.get("yuyao_chem", "/v1/me")
    assert r.status_code == 200, r.text
    me = r.json()
    party = http.party("yuyao_chem")
    assert me["participant"]["party"] == party
    assert me["participant"]["role"] == "enterprise"
    assert me["participant"]["jurisdiction"] == "330281"
    assert {a["account"] for a in me["accounts"]} == {
        f"{party}.holding",
        f"{party}.retirement",
        f"{party}.cash",
    }
    assert http.client.get("/v1/me").status_code == 401


def test_the_directory_shows_the_operator_everyone_and_an_enterprise_only_itself_and_institutions(
    http: HttpWorld,
) -> None:
    everyone = http.get("operator", "/v1/participants", params={"limit": 500}).json()
    assert everyone["total"] == len(http.demo)
    mine = http.get("yuyao_chem", "/v1/participants", params={"limit": 500}).json()
    seen = {p["party"] for p in mine["items"]}
    assert http.party("yuyao_chem") in seen
    assert http.party("yuyao_dye") not in seen  # another enterprise is not in its directory
    assert {http.party("yuyao"), http.party("bank_ningbo"), http.party("operator")} <= seen
    # a bureau sees the enterprises of its jurisdiction and below (Ningbo supervises Yuyao)
    ningbo = http.get("ningbo", "/v1/participants", params={"role": "enterprise", "limit": 500}).json()
    assert {p["party"] for p in ningbo["items"]} == {
        http.party("yuyao_chem"),
        http.party("yuyao_dye"),
        http.party("ningbo_petro"),
    }
    page = http.get("operator", "/v1/participants", params={"offset": 2, "limit": 3}).json()
    assert (page["offset"], page["limit"], page["total"], len(page["items"])) == (2, 3, len(http.demo), 3)
    by_place = http.get("auditor", "/v1/participants", params={"jurisdiction": "330900"}).json()
    assert {p["party"] for p in by_place["items"]} == {http.party("zhoushan"), http.party("zhoushan_ship")}


def test_one_participant_is_shown_if_visible_and_otherwise_not_found(http: HttpWorld) -> None:
    dye = http.party("yuyao_dye")
    r = http.get("yuyao", f"/v1/participants/{dye}")
    assert r.status_code == 200
    assert r.json()["credit_code"] == dye.removeprefix("ent:")
    hidden = http.get("yuyao_chem", f"/v1/participants/{dye}")
    assert hidden.status_code == 404
    assert error_of(hidden)["code"] == "unknown_participant"
    assert http.get("yuyao_chem", "/v1/participants/ent:nobody").status_code == 404


def test_a_bureau_registers_an_enterprise_of_its_jurisdiction_with_its_key_in_custody(
    http: HttpWorld,
) -> None:
    before = http.head()
    r = http.post("yuyao", "/v1/participants", _enterprise(), key="reg-1")
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["party"] == f"ent:{NEW_CODE}"
    assert new["registered_seq"] == before
    after = http.head()
    assert after == before + 5  # party.register, key.register, holding, retirement, cash
    # the replay answers the same without writing
    again = http.post("yuyao", "/v1/participants", _enterprise(), key="reg-1")
    assert again.json() == new
    assert http.head() == after
    reused = http.post(
        "yuyao",
        "/v1/participants",
        _enterprise(complete_credit_code("91", "330281", "EXAMPLE8")),
        key="reg-1",
    )
    assert reused.status_code == 409
    assert error_of(reused)["code"] == "idempotency_key_reused"
    # its key is held, but the operator may not issue it a token (it would act as the enterprise):
    # the first key comes from the registry's host
    minted = http.post("operator", f"/v1/participants/{new['party']}/credentials", {"label": "console"})
    assert (minted.status_code, error_of(minted)["details"]["rule"]) == (403, "own_credentials_only")
    with Session(http.engine) as s:
        token = issue_credential(s, party=new["party"], label="console").token
        s.commit()
    me = http.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["participant"]["party"] == new["party"]


def test_registration_refusals_name_the_rule_or_field_and_write_nothing(http: HttpWorld) -> None:
    before = http.head()
    other = http.post(
        "yuyao", "/v1/participants", _enterprise(complete_credit_code("91", "330200", "EXAMPLE9"), "330200")
    )
    assert other.status_code == 403
    assert error_of(other)["details"]["rule"] == "bureau_own_jurisdiction"
    bank = http.post(
        "yuyao",
        "/v1/participants",
        {
            "role": "bank",
            "name": "示例银行",
            "branch": "余姚",
            "credit_code": NEW_CODE,
            "jurisdiction": "330281",
        },
    )
    assert bank.status_code == 403
    assert error_of(bank)["details"]["rule"] == "bureau_registers_its_enterprises"
    assert http.post("yuyao_chem", "/v1/participants", _enterprise()).status_code == 403
    bad = http.post(
        "operator", "/v1/participants", _enterprise(NEW_CODE[:-1] + ("0" if NEW_CODE[-1] != "0" else "1"))
    )
    assert bad.status_code == 422
    assert error_of(bad)["code"] == "invalid_credit_code"
    assert error_of(bad)["details"]["field"] == "credit_code"
    dup = http.post("operator", "/v1/participants", _enterprise(http.party("yuyao_dye").removeprefix("ent:")))
    assert dup.status_code == 409
    key = http.post("operator", "/v1/participants", {**_enterprise(), "public_key": "not-a-key"})
    assert key.status_code == 422
    assert error_of(key)["details"]["field"] == "public_key"
    extra = http.post("operator", "/v1/participants", {**_enterprise(), "admin": True})
    assert extra.status_code == 422  # extra fields are forbidden
    assert http.client.post("/v1/participants", json=_enterprise()).status_code == 401
    assert http.head() == before


def test_the_operator_registers_a_self_custody_bank_with_its_public_key(http: HttpWorld) -> None:
    key = SigningKey.generate()
    code = complete_credit_code("91", "330900", "EXAMPLE9")
    body = {
        "role": "bank",
        "name": "示例银行舟山分行",
        "branch": "舟山分行",
        "credit_code": code,
        "jurisdiction": "330900",
        "public_key": b64e(key.public),
    }
    r = http.post("operator", "/v1/participants", body)
    assert r.status_code == 200, r.text
    with Session(http.engine) as s:
        assert [k.key_id for k in keys_of(s, party=f"bank:{code}")] == [key.key_id]


def test_a_party_rotates_its_key_in_custody_and_the_old_one_stops_signing(http: HttpWorld) -> None:
    party = http.party("yuyao_chem")
    old = http.who("yuyao_chem").key.key_id
    before = http.head()
    r = http.post("yuyao_chem", f"/v1/participants/{party}/keys", {"replaces": old}, key="rot-1")
    assert r.status_code == 200, r.text
    event = r.json()
    assert event["revoked_key_id"] == old
    assert http.head() == before + 2  # key.register + key.revoke, one batch
    assert (
        http.post("yuyao_chem", f"/v1/participants/{party}/keys", {"replaces": old}, key="rot-1").json()
        == event
    )
    assert http.head() == before + 2
    with Session(http.engine) as s:
        keys = {k.key_id: k for k in keys_of(s, party=party)}
    assert keys[old].revoked_at is not None
    assert keys[event["key_id"]].revoked_at is None
    # the new custody key signs the next key event
    extra = SigningKey.generate()
    added = http.post("yuyao_chem", f"/v1/participants/{party}/keys", {"public_key": b64e(extra.public)})
    assert added.status_code == 200, added.text
    assert added.json()["key_id"] == extra.key_id


def test_key_refusals_other_party_bad_key_and_unknown_key(http: HttpWorld) -> None:
    dye = http.party("yuyao_dye")
    before = http.head()
    other = http.post(
        "yuyao_chem", f"/v1/participants/{dye}/keys", {"public_key": b64e(SigningKey.generate().public)}
    )
    assert other.status_code == 403
    assert error_of(other)["details"]["rule"] == "own_keys_only"
    bad = http.post("yuyao_dye", f"/v1/participants/{dye}/keys", {"public_key": "AAAA"})
    assert bad.status_code == 422
    assert error_of(bad)["details"]["field"] == "public_key"
    auditor = http.post(
        "auditor", f"/v1/participants/{dye}/keys/{http.who('yuyao_dye').key.key_id}/revoke", {"reason": "x"}
    )
    assert auditor.status_code == 403
    assert error_of(auditor)["details"]["rule"] == "auditor_writes_nothing"
    missing = http.post("yuyao_dye", "/v1/participants/ent:nobody/keys/abc/revoke", {"reason": "lost"})
    assert missing.status_code == 404
    assert http.head() == before


def test_a_party_revokes_its_key_and_the_operator_revokes_a_lost_one(http: HttpWorld) -> None:
    dye = http.party("yuyao_dye")
    extra = SigningKey.generate()
    http.post("yuyao_dye", f"/v1/participants/{dye}/keys", {"public_key": b64e(extra.public)})
    before = http.head()
    r = http.post(
        "yuyao_dye", f"/v1/participants/{dye}/keys/{extra.key_id}/revoke", {"reason": "laptop retired"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["revoked_key_id"] == extra.key_id
    assert http.head() == before + 1
    chem = http.party("yuyao_chem")
    lost = http.post(
        "operator",
        f"/v1/participants/{chem}/keys/{http.who('yuyao_chem').key.key_id}/revoke",
        {"reason": "lost"},
    )
    assert lost.status_code == 200, lost.text
    # yuyao_chem's only key is revoked: the registry can no longer sign for it
    again = http.post(
        "yuyao_chem", f"/v1/participants/{chem}/keys", {"public_key": b64e(SigningKey.generate().public)}
    )
    assert again.status_code == 422
    assert error_of(again)["code"] == "missing_signature"


def test_an_api_key_is_shown_once_works_and_stops_working_when_revoked(http: HttpWorld) -> None:
    party = http.party("bank_ningbo")
    r = http.post("bank_ningbo", f"/v1/participants/{party}/credentials", {"label": "treasury"}, key="cred-1")
    assert r.status_code == 200, r.text
    issued = r.json()
    token, cid = issued["token"], issued["credential"]["id"]
    assert token.startswith(f"ek_{cid}_")
    replay = http.post(
        "bank_ningbo", f"/v1/participants/{party}/credentials", {"label": "treasury"}, key="cred-1"
    )
    assert replay.json() == {"credential": issued["credential"], "token": None}  # the secret is never stored
    other = http.post(
        "bank_ningbo", f"/v1/participants/{party}/credentials", {"label": "other"}, key="cred-1"
    )
    assert error_of(other)["code"] == "idempotency_key_reused"
    auth = {"Authorization": f"Bearer {token}"}
    assert http.client.get("/v1/me", headers=auth).json()["participant"]["party"] == party
    foreign = http.post("bank_yuyao", f"/v1/participants/{party}/credentials/{cid}/revoke")
    assert foreign.status_code == 403
    assert error_of(foreign)["details"]["rule"] == "own_credentials_only"
    wrong_path = http.post(
        "bank_ningbo", f"/v1/participants/{http.party('bank_yuyao')}/credentials/{cid}/revoke"
    )
    assert wrong_path.status_code == 404
    done = http.post("bank_ningbo", f"/v1/participants/{party}/credentials/{cid}/revoke")
    assert done.status_code == 200
    assert done.json()["revoked_at"] is not None
    _cache.entries.clear()  # the token cache would keep it valid for a few seconds
    assert http.client.get("/v1/me", headers=auth).status_code == 401
