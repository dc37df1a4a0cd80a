"""The cache of verified API tokens: hashed once per token, a cheap confirmation afterwards, and a
revocation that takes effect once the entry is no longer fresh."""

from __future__ import annotations

import pytest
from sqlmodel import Session

import accounts.credentials
from accounts.credentials import credentials_of, revoke_credential
from api.deps import _cache
from tests.api.conftest import HttpWorld


def test_a_token_is_hashed_once_then_confirmed_without_hashing_until_revoked(
    http: HttpWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache.entries.clear()
    hashes = []
    real_hash = accounts.credentials._sha256
    monkeypatch.setattr(accounts.credentials, "_sha256", lambda *a: hashes.append(1) or real_hash(*a))
    monkeypatch.setattr(_cache, "fresh_s", 0.0)  # every request past the first confirms with a read
    account = f"{http.party('yuyao_chem')}.holding"
    for _ in range(3):
        assert http.get("yuyao_chem", f"/v1/accounts/{account}/balances").status_code == 200
    assert len(hashes) == 1
    with Session(http.engine) as s:
        (credential,) = credentials_of(s, party=http.party("yuyao_chem"))
        revoke_credential(s, credential_id=credential.id)
        s.commit()
    refused = http.get("yuyao_chem", f"/v1/accounts/{account}/balances")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "invalid_credentials")
    assert len(hashes) == 1  # the revocation was seen by the confirmation read
    assert http.get("yuyao_chem", f"/v1/accounts/{account}/balances").status_code == 401
