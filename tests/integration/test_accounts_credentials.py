"""API keys: issued once in full, stored as a SHA-256 hash (older ones as scrypt, still verified), found by
id before any hashing, revocable, one answer for every failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

import accounts.credentials
import accounts.tables
from accounts.credentials import (
    authenticate,
    credentials_of,
    issue_credential,
    look_up_token,
    revoke_credential,
)
from accounts.demo import DemoParticipant, register_demo
from accounts.errors import InvalidCredentials, PermissionDenied, UnknownCredential
from accounts.tables import CredentialRow
from ledger.service import Registry, init_ledger
from ledger.timeutil import utc_now

Demo = dict[str, DemoParticipant]


@pytest.fixture
def demo(engine: Engine, registry: Registry) -> Demo:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger credentials test")
        out = register_demo(s, registry=registry)
        s.commit()
    return out


def _issue(engine: Engine, party: str, label: str = "") -> str:
    with Session(engine) as s:
        issued = issue_credential(s, party=party, label=label)
        s.commit()
    return issued.token


def test_an_issued_key_authenticates_its_participant_and_only_its_hash_is_stored(
    engine: Engine, demo: Demo
) -> None:
    chem = demo["yuyao_chem"].participant
    token = _issue(engine, chem.party, "erp integration")
    prefix, credential_id, secret = token.split("_", 2)
    assert (prefix, len(credential_id)) == ("ek", 16)
    assert len(secret) >= 43  # 256 random bits
    with Session(engine) as s:
        assert authenticate(s, token) == chem
        row = s.exec(select(CredentialRow)).one()
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.model_dump().values())
    assert secret.encode() not in stored
    assert (row.party, row.label, row.hash_scheme) == (chem.party, "erp integration", "sha256")


def test_the_token_is_not_shown_in_the_issued_credentials_repr(engine: Engine, demo: Demo) -> None:
    with Session(engine) as s:
        issued = issue_credential(s, party=demo["yuyao_chem"].party)
    secret = issued.token.split("_", 2)[2]
    assert secret not in repr(issued)


def test_every_failure_gets_the_same_answer_and_the_reason_stays_on_the_server(
    engine: Engine, demo: Demo
) -> None:
    token = _issue(engine, demo["yuyao_chem"].party)
    _, credential_id, secret = token.split("_", 2)
    wrong_secret = f"ek_{credential_id}_{'A' * len(secret)}"
    unknown_id = f"ek_{'0' * 16}_{secret}"
    attempts = {"wrong_secret": wrong_secret, "unknown": unknown_id, "malformed": "Bearer " + token}
    answers = []
    with Session(engine) as s:
        for reason, attempt in attempts.items():
            with pytest.raises(InvalidCredentials) as err:
                authenticate(s, attempt)
            assert err.value.reason == reason
            answers.append(err.value.to_dict())
    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == {
        "code": "invalid_credentials",
        "message": "the API credential is unknown, wrong or revoked",
        "details": {},
    }


def test_a_revoked_key_no_longer_authenticates_and_the_first_revocation_time_stays(
    engine: Engine, demo: Demo
) -> None:
    chem = demo["yuyao_chem"].participant
    token = _issue(engine, chem.party)
    credential_id = token.split("_", 2)[1]
    with Session(engine) as s:
        first = revoke_credential(s, credential_id=credential_id, actor=chem)
        again = revoke_credential(
            s, credential_id=credential_id, actor=chem, now=utc_now() + timedelta(days=1)
        )
        s.commit()
        assert again.revoked_at == first.revoked_at
        assert not again.active
        with pytest.raises(InvalidCredentials) as err:
            authenticate(s, token)
        assert err.value.reason == "revoked"


def test_a_hash_copied_onto_another_key_does_not_verify_there(engine: Engine, demo: Demo) -> None:
    mine = _issue(engine, demo["yuyao_chem"].party)
    theirs = _issue(engine, demo["yuyao_dye"].party)
    with Session(engine) as s:
        my_row = s.get(CredentialRow, mine.split("_", 2)[1])
        their_row = s.get(CredentialRow, theirs.split("_", 2)[1])
        assert my_row is not None
        assert their_row is not None
        their_row.salt, their_row.secret_hash = my_row.salt, my_row.secret_hash
        s.add(their_row)
        s.commit()
        forged = f"ek_{their_row.id}_{mine.split('_', 2)[2]}"
        with pytest.raises(InvalidCredentials):
            authenticate(s, forged)


def test_a_participant_manages_only_its_own_keys_and_the_operator_lists_and_revokes_any(
    engine: Engine, demo: Demo
) -> None:
    chem, dye = demo["yuyao_chem"].participant, demo["yuyao_dye"].participant
    token = _issue(engine, chem.party)
    credential_id = token.split("_", 2)[1]
    with Session(engine) as s:
        for intruder in (dye, demo["yuyao"].participant, demo["bank_yuyao"].participant):
            with pytest.raises(PermissionDenied) as err:
                revoke_credential(s, credential_id=credential_id, actor=intruder)
            assert err.value.rule == "own_credentials_only"
            with pytest.raises(PermissionDenied):
                credentials_of(s, party=chem.party, actor=intruder)
            with pytest.raises(PermissionDenied):
                issue_credential(s, party=chem.party, actor=intruder)
        with pytest.raises(PermissionDenied) as err:
            issue_credential(s, party=demo["auditor"].party, actor=demo["auditor"].participant)
        assert err.value.rule == "auditor_writes_nothing"
        with pytest.raises(PermissionDenied) as err:  # a key would let the operator act as chem
            issue_credential(s, party=chem.party, actor=demo["operator"].participant)
        assert err.value.rule == "own_credentials_only"
        assert authenticate(s, token) == chem  # untouched by the refusals
        listed = credentials_of(s, party=chem.party, actor=demo["operator"].participant)
        assert [c.id for c in listed] == [credential_id]
        revoke_credential(s, credential_id=credential_id, actor=demo["operator"].participant)
        s.commit()
        assert [c.active for c in credentials_of(s, party=chem.party, actor=chem)] == [False]


def test_revoking_an_unknown_key_is_a_named_not_found_error(engine: Engine, demo: Demo) -> None:
    with Session(engine) as s, pytest.raises(UnknownCredential) as err:
        revoke_credential(s, credential_id="0" * 16, actor=demo["operator"].participant)
    assert err.value.code == "unknown_credential"


def test_a_key_issued_with_scrypt_before_still_verifies_and_a_wrong_secret_fails(
    engine: Engine, demo: Demo
) -> None:
    chem = demo["yuyao_chem"].participant
    credential_id, secret, salt = "00112233aabbccdd", "s" * 43, bytes(range(16))
    with Session(engine) as s:  # a row as keys were issued before SHA-256 (scrypt, N=2**4 to be quick)
        s.add(
            CredentialRow(
                id=credential_id,
                party=chem.party,
                label="old",
                salt=salt,
                secret_hash=accounts.credentials._scrypt(credential_id, secret, salt, 2**4, 8, 1),
                scrypt_n=2**4,
                scrypt_r=8,
                scrypt_p=1,
                created_at="2025-01-01T00:00:00.000000Z",
                hash_scheme="scrypt",
            )
        )
        s.commit()
        pending = look_up_token(s, f"ek_{credential_id}_{secret}")
        assert pending.slow  # the API runs it in a worker thread
        assert pending.finish().participant == chem
        with pytest.raises(InvalidCredentials) as err:
            authenticate(s, f"ek_{credential_id}_{'t' * 43}")
        assert err.value.reason == "wrong_secret"


def test_an_unknown_key_id_is_refused_without_hashing_anything(
    engine: Engine, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[object] = []
    monkeypatch.setattr(accounts.credentials, "_sha256", lambda *a: hashed.append(a))
    monkeypatch.setattr(accounts.credentials, "_scrypt", lambda *a: hashed.append(a))
    with Session(engine) as s, pytest.raises(InvalidCredentials) as err:
        authenticate(s, f"ek_{'f' * 16}_{'x' * 43}")
    assert (err.value.reason, hashed) == ("unknown", [])
