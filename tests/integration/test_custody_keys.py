"""Which keys the registry holds, as the journal says: a key it generates is registered with
``"custody": true``; it takes no other key into custody, refuses ``custody`` on a signature made
with any other key, and refuses a public key that is not a key. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from accounts.custody import Vault, custody_key, new_custody_key, take_into_custody
from accounts.demo import DemoParticipant, register_demo
from accounts.errors import NoCustodyKey
from accounts.keys import add_key, keys_of
from accounts.service import register_in_custody
from accounts.tables import CustodyKeyRow
from ledger.errors import CustodyNotHeld, InvalidPublicKey
from ledger.journal import parse_line
from ledger.model import RegisterParty
from ledger.service import (
    Instruction,
    Registry,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    sign_body,
    submit,
)
from tests.integration.test_accounts_registration import NEW_ENTERPRISE


@pytest.fixture
def demo(engine: Engine, registry: Registry) -> dict[str, DemoParticipant]:
    """The demo parties with keys of their own (rule set 2)."""
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger custody test")
        out = register_demo(s, registry=registry)
        s.commit()
    return out


def _key_record(engine: Engine, seq: int) -> dict[str, object]:
    with Session(engine) as s:
        return parse_line(next(journal_lines(s, start=seq, stop=seq + 1))).body


def test_a_key_the_registry_generates_is_registered_as_held_and_signs_with_custody(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    vault = Vault.generate()
    with Session(engine) as s:
        ent, key = register_in_custody(s, registry=registry, spec=NEW_ENTERPRISE)
        take_into_custody(s, vault=vault, party=ent.party, key=key, at=registry.clock())
        s.commit()
    with Session(engine) as s:
        (info,) = keys_of(s, party=ent.party)
        assert info.custody
        held = custody_key(s, vault=vault, party=ent.party, at=registry.clock())
        body = RegisterParty("ent:newcomer", "enterprise", {}, new_nonce())
        submit(s, Instruction(body, (sign_body(body, ent.party, held),)), registry=registry)
        s.commit()
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
    assert _key_record(engine, ent.registered_seq + 1)["custody"] is True


def test_the_registry_takes_no_key_of_a_party_into_custody_nor_lets_one_say_custody(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    chem = demo["yuyao_chem"]
    vault = Vault.generate()
    with Session(engine) as s:
        with pytest.raises(NoCustodyKey, match="registered as held by the party"):
            take_into_custody(s, vault=vault, party=chem.party, key=chem.key, at=registry.clock())
        assert s.exec(select(CustodyKeyRow)).all() == []
        before = head_size(s)
        body = RegisterParty("ent:newcomer", "enterprise", {}, new_nonce())
        claimed = sign_body(body, chem.party, chem.key, custody=True)
        with pytest.raises(CustodyNotHeld) as refused:
            submit(s, Instruction(body, (claimed,)), registry=registry)
        assert refused.value.details["field"] == "signatures[0].custody"
        assert head_size(s) == before


def test_a_new_custody_key_is_registered_as_held(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    chem = demo["yuyao_chem"]
    vault = Vault.generate()
    with Session(engine) as s:
        event = new_custody_key(
            s,
            registry=registry,
            vault=vault,
            actor=chem.participant,
            party=chem.party,
            replaces=None,
            signed_by=chem.key,
        )
        s.commit()
    assert _key_record(engine, event.seq)["custody"] is True
    with Session(engine) as s:
        assert custody_key(s, vault=vault, party=chem.party, at=registry.clock()).key_id == event.key_id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes(32), "all_zero"),
        (bytes.fromhex("01" + "00" * 31), "small_order"),
        (bytes.fromhex("ed" + "ff" * 30 + "7f"), "non_canonical"),
        (bytes.fromhex("f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43"), "mixed_order"),
    ],
)
def test_adding_a_key_that_is_not_a_key_is_refused_and_writes_nothing(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant], raw: bytes, reason: str
) -> None:
    chem = demo["yuyao_chem"]
    with Session(engine) as s:
        before = head_size(s)
        with pytest.raises(InvalidPublicKey) as refused:
            add_key(
                s,
                registry=registry,
                actor=chem.participant,
                party=chem.party,
                public_key=raw,
                signed_by=chem.key,
            )
        assert refused.value.details == {"field": "public_key", "reason": reason}
        assert head_size(s) == before
