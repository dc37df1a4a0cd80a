"""Named users' keys over HTTP (accounts.users): a user's key acts for its party but cannot mint or
revoke the party's keys, which would let a clerk become the administrator and approve alone."""

from __future__ import annotations

from sqlmodel import Session

from accounts.users import add_user
from tests.api.conftest import HttpWorld, error_of


def test_a_users_key_reads_as_its_party_but_cannot_manage_the_partys_keys(http: HttpWorld) -> None:
    chem = http.who("yuyao_chem")
    with Session(http.engine) as s:
        _, issued = add_user(
            s,
            registry=http.registry,
            vault=http.vault,
            actor=chem.participant,
            acting_user=None,
            user_id="alice",
            name="Alice",
            role="clerk",
        )
        s.commit()
    http.tokens["chem_alice"] = issued.token
    assert http.get("chem_alice", f"/v1/accounts/{chem.party}.holding/balances").status_code == 200
    refused = http.post("chem_alice", f"/v1/participants/{chem.party}/credentials", {"label": "mine"})
    assert refused.status_code == 403
    assert error_of(refused)["details"]["rule"] == "administrator_only"
    minted = http.post("yuyao_chem", f"/v1/participants/{chem.party}/credentials", {"label": "admin's"})
    assert minted.status_code == 200, minted.text
    revoke = f"/v1/participants/{chem.party}/credentials/{minted.json()['credential']['id']}/revoke"
    assert http.post("chem_alice", revoke, {}).status_code == 403


def test_an_administrator_adds_users_and_sets_controls_over_http_and_the_journal_holds_them(
    http: HttpWorld,
) -> None:
    chem, party = http.who("yuyao_chem"), http.party("yuyao_chem")
    made = http.post(
        "yuyao_chem",
        f"/v1/participants/{party}/users",
        {"user_id": "wang", "name": "王芳", "role": "clerk"},
        key="u1",
    )
    assert made.status_code == 200, made.text
    assert made.json()["user"] == {"party": party, "user_id": "wang", "name": "王芳", "role": "clerk"}
    token = made.json()["token"]
    assert token
    again = http.post(
        "yuyao_chem",
        f"/v1/participants/{party}/users",
        {"user_id": "wang", "name": "王芳", "role": "clerk"},
        key="u1",
    )
    assert again.status_code == 200
    assert again.json()["token"] is None
    http.tokens["chem_wang"] = token
    assert http.get("chem_wang", "/v1/me").json()["participant"]["party"] == chem.party
    # a user cannot create users, and another party cannot either
    by_user = http.post(
        "chem_wang", f"/v1/participants/{party}/users", {"user_id": "li", "name": "李明", "role": "approver"}
    )
    assert by_user.status_code == 403
    assert error_of(by_user)["code"] == "not_administrator"
    other = http.post(
        "yuyao", f"/v1/participants/{party}/users", {"user_id": "li", "name": "李明", "role": "approver"}
    )
    assert other.status_code == 403
    assert error_of(other)["details"]["rule"] == "own_party_only"
    bad = http.post(
        "yuyao_chem", f"/v1/participants/{party}/users", {"user_id": "li", "name": "李明", "role": "boss"}
    )
    assert bad.status_code == 422
    before = http.head()
    assert (
        http.post(
            "yuyao_chem", f"/v1/participants/{party}/users", {"user_id": "wang", "name": "x", "role": "clerk"}
        ).status_code
        == 409
    )
    assert http.head() == before  # a refused user leaves the journal untouched

    assert (
        http.post(
            "yuyao_chem",
            f"/v1/participants/{party}/users",
            {"user_id": "li", "name": "李明", "role": "approver"},
        ).status_code
        == 200
    )
    set_ = http.post(
        "yuyao_chem",
        f"/v1/participants/{party}/controls",
        {"four_eyes_kg": {"transfer": 10_000_000}, "trusted_list": True},
    )
    assert set_.status_code == 200, set_.text
    shown = http.get("yuyao_chem", f"/v1/participants/{party}/controls").json()
    assert shown["users"] == {"wang": "clerk", "li": "approver"}
    assert shown["four_eyes_kg"] == {"transfer": 10_000_000}
    assert shown["trusted_list"] is True
    assert http.get("yuyao_chem", f"/v1/participants/{party}/users").json()[0]["user_id"] == "wang"
    assert http.get("yuyao", f"/v1/participants/{party}/controls").status_code == 403
    # once in force, one key alone cannot loosen the controls: the ledger wants two users
    before = http.head()
    loosen = http.post("yuyao_chem", f"/v1/participants/{party}/controls", {"four_eyes_kg": {}})
    assert loosen.status_code == 409, loosen.text
    assert error_of(loosen)["code"] == "four_eyes_required"
    assert http.head() == before
