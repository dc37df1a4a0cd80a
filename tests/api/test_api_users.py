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
