"""Keys, signatures and checkpoints through HTTP: refused public keys, repeated or falsely custodial
signatures, the latest checkpoint as its signed bytes, and consistency proofs between checkpoints
(the route and the Python client's check)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.identifiers import complete_credit_code
from api.client import Client, ProofError
from ledger.checkpoint import Checkpoint
from ledger.crypto import SigningKey, b64e
from ledger.merkle import root_of
from ledger.proofs import ConsistencyProof
from ledger.service import Registry, checkpoints, head_size, make_checkpoint
from tests.api.conftest import HttpWorld, error_of
from tests.api.test_api_ledger import Api

SMALL_ORDER = bytes.fromhex("01" + "00" * 31)  # the identity point
NON_CANONICAL = bytes.fromhex("ed" + "ff" * 30 + "7f")
REFUSED = [(bytes(32), "all_zero"), (SMALL_ORDER, "small_order"), (NON_CANONICAL, "non_canonical")]


@pytest.fixture
def api(engine: Engine, registry: Registry) -> Api:
    """Demo parties registered with keys they hold themselves (no custody)."""
    return Api(engine, registry)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(bytes(32), "all_zero"), (SMALL_ORDER, "small_order"), (NON_CANONICAL, "non_canonical")],
)
def test_a_key_that_is_not_a_key_is_refused_by_both_key_routes_and_nothing_is_written(
    http: HttpWorld, raw: bytes, reason: str
) -> None:
    party = http.party("yuyao_dye")
    before = http.head()
    r = http.post("yuyao_dye", f"/v1/participants/{party}/keys", {"public_key": b64e(raw)})
    assert r.status_code == 422, r.text
    assert error_of(r)["code"] == "invalid_public_key"
    assert error_of(r)["details"] == {"field": "public_key", "reason": reason}
    bank = {
        "role": "bank",
        "name": "示例银行",
        "branch": "舟山分行",
        "credit_code": complete_credit_code("91", "330900", "EXAMPLE8"),
        "jurisdiction": "330900",
        "public_key": b64e(raw),
    }
    r = http.post("operator", "/v1/participants", bank)
    assert r.status_code == 422, r.text
    assert error_of(r)["code"] == "invalid_public_key"
    assert http.head() == before


def test_a_body_signed_twice_by_one_party_is_refused(api: Api) -> None:
    api.allocate("yuyao_chem", 5_000)
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 100)
    sig = payload["signatures"][0]  # type: ignore[index]
    before = _head(api)
    for twice in ([sig, sig], [sig, {**sig, "sig": b64e(bytes(64))}]):
        r = api.client.post(
            "/v1/instructions", json={**payload, "signatures": twice}, headers=api.headers("yuyao_chem")
        )
        assert r.status_code == 422, r.text
        assert error_of(r)["code"] == "duplicate_signature"
        assert error_of(r)["details"]["field"] == "signatures[1]"
    assert _head(api) == before


def test_custody_is_refused_on_a_key_the_registry_does_not_hold(api: Api) -> None:
    """The demo keys of this world were registered by their parties (no ``custody`` on their
    key.register records): a signature with one may not claim the registry made it."""
    api.allocate("yuyao_chem", 5_000)
    payload = api.transfer_payload("yuyao_chem", "yuyao_dye", 100)
    sig = {**payload["signatures"][0], "custody": True}  # type: ignore[index]
    before = _head(api)
    r = api.client.post(
        "/v1/instructions", json={**payload, "signatures": [sig]}, headers=api.headers("yuyao_chem")
    )
    assert r.status_code == 422, r.text
    assert error_of(r)["code"] == "custody_not_held"
    assert error_of(r)["details"]["field"] == "signatures[0].custody"
    assert _head(api) == before
    ok = api.client.post("/v1/instructions", json=payload, headers=api.headers("yuyao_chem"))
    assert ok.status_code == 200, ok.text


def _head(api: Api) -> int:
    with Session(api.engine) as s:
        return head_size(s)


# -- checkpoints and consistency proofs ----------------------------------------------------------


def _checkpoint(engine: Engine, registry: Registry) -> Checkpoint:
    with Session(engine) as s:
        cp = make_checkpoint(s, registry=registry)
        s.commit()
    return cp


def _grow(http: HttpWorld) -> None:
    """One more record: a key the registry generates and holds for an enterprise."""
    party = http.party("yuyao_chem")
    assert http.post("yuyao_chem", f"/v1/participants/{party}/keys", {}).status_code == 200


def test_the_latest_checkpoint_is_served_as_its_signed_canonical_bytes(http: HttpWorld) -> None:
    cp = _checkpoint(http.engine, http.registry)
    r = http.get("auditor", "/v1/checkpoints/latest")
    assert r.status_code == 200
    assert r.content == cp.line()
    assert Checkpoint.from_line(r.content).verifies_with(http.registry.key.public)


def test_a_consistency_proof_between_two_checkpoints_verifies_and_its_refusals_are_documented(
    http: HttpWorld,
) -> None:
    old = _checkpoint(http.engine, http.registry)
    _grow(http)
    new = _checkpoint(http.engine, http.registry)
    r = http.get("yuyao_chem", "/v1/checkpoints/consistency", params={"first": old.tree_size})
    assert r.status_code == 200, r.text
    proof = ConsistencyProof.from_json(r.json())
    assert (proof.first, proof.second) == (old, new)
    assert proof.problem([http.registry.key.public]) is None
    same = {"first": new.tree_size, "second": new.tree_size}
    assert http.get("yuyao_chem", "/v1/checkpoints/consistency", params=same).json()["path"] == []
    with Session(http.engine) as s:
        sizes = {cp.tree_size for cp in checkpoints(s)}
    unsigned = min(set(range(1, new.tree_size)) - sizes)
    missing = http.get("yuyao_chem", "/v1/checkpoints/consistency", params={"first": unsigned})
    assert missing.status_code == 404
    assert error_of(missing)["details"]["field"] == "first"
    backwards = http.get(
        "yuyao_chem", "/v1/checkpoints/consistency", params={"first": new.tree_size, "second": old.tree_size}
    )
    assert backwards.status_code == 422
    assert error_of(backwards)["details"]["field"] == "first"
    assert http.client.get("/v1/checkpoints/consistency", params={"first": 1}).status_code == 401


def test_the_client_checks_that_the_journal_still_extends_a_kept_checkpoint(http: HttpWorld) -> None:
    kept = _checkpoint(http.engine, http.registry)
    _grow(http)
    newest = _checkpoint(http.engine, http.registry)
    key = http.registry.key.public
    with Client("http://testserver", token=http.tokens["auditor"], http=http.client) as client:
        assert client.verify_consistency(kept, key) == newest
        assert Checkpoint.from_line(client.latest_checkpoint_line() or b"") == newest
        # a checkpoint of the same size over another history, signed by the same key (a fork)
        forked = Checkpoint.sign(
            tree_size=kept.tree_size,
            root=root_of([bytes(32)] * kept.tree_size),
            time=kept.time + timedelta(seconds=1),
            key=http.registry.key,
        )
        with pytest.raises(ProofError, match="not the one you kept"):
            client.verify_consistency(forked, key)
        with pytest.raises(ProofError, match="not signed by a given registry key"):
            client.verify_consistency(kept, SigningKey.generate().public)
