"""Key rotation and revocation, live and through a replay of the journal.

Records signed before a revocation keep verifying; a record signed after it is refused live
(``KeyNotValid``) and, if a registry had accepted it anyway, named by the auditor's replay.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the accounts tables before the schema is created)
from accounts.demo import DEMO_SPECS, DemoParticipant, register_demo
from accounts.errors import PermissionDenied
from accounts.keys import add_key, keys_of, revoke_key, rotate_key, valid_keys
from ledger.crypto import SigningKey
from ledger.errors import InvalidInput, KeyNotValid, MissingSignature, UnknownKey
from ledger.journal import parse_line, seal
from ledger.model import Lot, Posting, TxBody
from ledger.replay import replay_lines
from ledger.service import (
    Instruction,
    Receipt,
    Registry,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    sign_body,
    submit,
    submit_all,
)
from ledger.timeutil import utc_now
from tests.support import grant_rights

LOT = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
CHEM = DEMO_SPECS["yuyao_chem"].participant().party


@pytest.fixture
def demo(engine: Engine, registry: Registry) -> dict[str, DemoParticipant]:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger keys test")
        out = register_demo(s, registry=registry)
        s.commit()
    grant = grant_rights("bureau:330281", f"{CHEM}.holding", 10_000, LOT)
    with Session(engine) as s:
        submit_all(
            s, [Instruction.signed(b, ("bureau:330281", out["yuyao"].key)) for b in grant], registry=registry
        )
        s.commit()
    assert out["yuyao_chem"].party == CHEM
    return out


def _transfer(amount: int = 100) -> TxBody:
    return TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(f"{CHEM}.holding", "COD", LOT, -amount),
            Posting(f"{DEMO_SPECS['yuyao_dye'].participant().party}.holding", "COD", LOT, amount),
        ),
    )


def _send(engine: Engine, registry: Registry, key: SigningKey, amount: int = 100) -> Receipt:
    body = _transfer(amount)
    with Session(engine) as s:
        receipt = submit(s, Instruction(body, (sign_body(body, CHEM, key),)), registry=registry)
        s.commit()
    return receipt


def _size(engine: Engine) -> int:
    with Session(engine) as s:
        return head_size(s)


def test_after_rotation_old_records_verify_new_key_signs_and_old_key_is_refused(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    chem, old = demo["yuyao_chem"].participant, demo["yuyao_chem"].key
    before = _send(engine, registry, old)
    new = SigningKey.generate()
    with Session(engine) as s:
        event = rotate_key(
            s,
            registry=registry,
            actor=chem,
            party=CHEM,
            old_key_id=old.key_id,
            new_public_key=new.public,
            signed_by=old,
        )
        s.commit()
    assert (event.key_id, event.revoked_key_id) == (new.key_id, old.key_id)
    after = _send(engine, registry, new)
    with pytest.raises(KeyNotValid) as err:
        _send(engine, registry, old)
    assert "(revoked)" in err.value.message
    with Session(engine) as s:
        report, diff = replay_database(s)
        assert [k.key_id for k in valid_keys(s, party=CHEM, at=utc_now())] == [new.key_id]
    assert report.ok, report.failure
    assert diff == {}
    assert report.records > after.seq > event.seq > before.seq
    assert report.state.keys[old.key_id].revoked_at == event.effective_at
    assert report.state.keys[new.key_id].valid_from == event.effective_at


def test_replay_names_a_record_the_registry_accepted_after_the_key_was_revoked(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    old = demo["yuyao_chem"].key
    _send(engine, registry, old)
    with Session(engine) as s:
        revoke_key(
            s,
            registry=registry,
            actor=demo["yuyao_chem"].participant,
            party=CHEM,
            key_id=old.key_id,
            reason="laptop stolen",
            signed_by=old,
        )
        s.commit()
        lines = list(journal_lines(s))
    last = parse_line(lines[-1])

    def forged_line(key: SigningKey) -> bytes:
        # A registry that skipped the check: a correctly sealed and chained record, signed by `key`.
        body = _transfer()
        record = seal(
            seq=last.seq + 1,
            prev=last.hash,
            time=last.time + timedelta(seconds=1),
            body=body.to_json(),
            sigs=[sign_body(body, CHEM, key)],
            registry=registry.key,
        )
        return record.line()

    honest = replay_lines(lines)
    assert honest.ok, honest.failure
    report = replay_lines([*lines, forged_line(old)])
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (last.seq + 1, "key_not_valid")
    assert report.records == last.seq + 1  # everything before it verified
    assert report.failure.evidence["key_id"] == old.key_id


def test_a_revocation_signed_by_the_key_it_revokes_replays_and_the_operator_restores_access(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    old = demo["yuyao_chem"].key
    with Session(engine) as s:
        revoke_key(
            s,
            registry=registry,
            actor=demo["yuyao_chem"].participant,
            party=CHEM,
            key_id=old.key_id,
            reason="retired",
            signed_by=old,
        )
        s.commit()
        assert valid_keys(s, party=CHEM, at=utc_now()) == []
    with pytest.raises(KeyNotValid):
        _send(engine, registry, old)
    replacement = SigningKey.generate()
    with Session(engine) as s:  # the operator acts alone: the party has no key left to sign with
        add_key(
            s,
            registry=registry,
            actor=demo["operator"].participant,
            party=CHEM,
            public_key=replacement.public,
        )
        s.commit()
    _send(engine, registry, replacement)
    with Session(engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}


def test_a_scheduled_rotation_keeps_the_old_key_until_its_time_and_the_new_one_waits(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    old, new = demo["yuyao_chem"].key, SigningKey.generate()
    at = utc_now() + timedelta(hours=1)
    with Session(engine) as s:
        rotate_key(
            s,
            registry=registry,
            actor=demo["yuyao_chem"].participant,
            party=CHEM,
            old_key_id=old.key_id,
            new_public_key=new.public,
            signed_by=old,
            effective_at=at,
        )
        s.commit()
    _send(engine, registry, old)
    with pytest.raises(KeyNotValid) as err:
        _send(engine, registry, new)
    assert "(not yet valid)" in err.value.message
    later = Registry(registry.key, clock=lambda: utc_now() + timedelta(hours=2), checkpoint_every=5)
    _send(engine, later, new)
    with pytest.raises(KeyNotValid):
        _send(engine, later, old)
    with Session(engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}


def test_a_revocation_cannot_be_backdated_or_given_a_naive_time(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    old = demo["yuyao_chem"].key
    size = _size(engine)
    for when in (utc_now() - timedelta(minutes=5), utc_now().replace(tzinfo=None) + timedelta(hours=1)):
        with Session(engine) as s, pytest.raises(InvalidInput) as err:
            revoke_key(
                s,
                registry=registry,
                actor=demo["yuyao_chem"].participant,
                party=CHEM,
                key_id=old.key_id,
                reason="x",
                signed_by=old,
                effective_at=when,
            )
        assert err.value.field == "effective_at"
    assert _size(engine) == size
    _send(engine, registry, old)  # still valid


@pytest.mark.parametrize("intruder", ["yuyao_dye", "yuyao", "bank_yuyao", "auditor"])
def test_another_participant_cannot_rotate_or_revoke_an_enterprises_key(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant], intruder: str
) -> None:
    actor, own_key = demo[intruder].participant, demo[intruder].key
    target_key = demo["yuyao_chem"].key
    size = _size(engine)
    with Session(engine) as s:
        with pytest.raises(PermissionDenied) as revoking:
            revoke_key(
                s,
                registry=registry,
                actor=actor,
                party=CHEM,
                key_id=target_key.key_id,
                reason="x",
                signed_by=own_key,
            )
        with pytest.raises(PermissionDenied) as rotating:
            rotate_key(
                s,
                registry=registry,
                actor=actor,
                party=CHEM,
                old_key_id=target_key.key_id,
                new_public_key=SigningKey.generate().public,
                signed_by=own_key,
            )
    expected = "auditor_writes_nothing" if intruder == "auditor" else "own_keys_only"
    assert revoking.value.rule == rotating.value.rule == expected
    assert _size(engine) == size
    _send(engine, registry, target_key)


def test_a_participant_must_sign_its_own_key_events(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    size = _size(engine)
    with Session(engine) as s, pytest.raises(MissingSignature):
        add_key(
            s,
            registry=registry,
            actor=demo["yuyao_chem"].participant,
            party=CHEM,
            public_key=SigningKey.generate().public,
        )
    assert _size(engine) == size


def test_a_key_event_signed_with_someone_elses_key_is_refused_and_writes_nothing(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    size = _size(engine)
    with Session(engine) as s, pytest.raises(UnknownKey):
        add_key(
            s,
            registry=registry,
            actor=demo["yuyao_chem"].participant,
            party=CHEM,
            public_key=SigningKey.generate().public,
            signed_by=demo["yuyao_dye"].key,
        )
    assert _size(engine) == size


def test_rotating_away_a_key_the_party_does_not_have_registers_no_new_key(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    size = _size(engine)
    new = SigningKey.generate()
    with Session(engine) as s:
        with pytest.raises(UnknownKey):
            rotate_key(
                s,
                registry=registry,
                actor=demo["yuyao_chem"].participant,
                party=CHEM,
                old_key_id=demo["yuyao_dye"].key.key_id,  # another party's key
                new_public_key=new.public,
                signed_by=demo["yuyao_chem"].key,
            )
        s.commit()
        assert new.key_id not in {k.key_id for k in keys_of(s, party=CHEM)}
    assert _size(engine) == size


def test_a_second_key_signs_beside_the_first(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    first, second = demo["yuyao_chem"].key, SigningKey.generate()
    with Session(engine) as s:
        add_key(
            s,
            registry=registry,
            actor=demo["yuyao_chem"].participant,
            party=CHEM,
            public_key=second.public,
            signed_by=first,
        )
        s.commit()
        assert [k.key_id for k in keys_of(s, party=CHEM)] == [first.key_id, second.key_id]
    _send(engine, registry, first)
    _send(engine, registry, second)
