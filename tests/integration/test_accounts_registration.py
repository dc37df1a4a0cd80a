"""Registering participants writes their profile, first key and accounts to the journal, all or none."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the accounts tables before the schema is created)
from accounts.demo import DEMO_SPECS, DemoParticipant, demo_key, register_demo
from accounts.errors import PermissionDenied, UnknownParticipant
from accounts.model import AccountRef, EnterpriseSpec, Role, account_plan
from accounts.service import (
    accounts_of,
    find_participant,
    get_participant,
    participants,
    register_in_custody,
    register_participant,
)
from ledger.crypto import SigningKey
from ledger.errors import DuplicateAccount, DuplicateKey, DuplicateParty
from ledger.journal import parse_line
from ledger.model import AccountKind, Body, Lot, OpenAccount, Posting, RegisterParty, TxBody
from ledger.service import (
    Instruction,
    Registry,
    balances,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    replay_database,
    sign_body,
    submit,
)
from tests.support import grant_rights

NEW_ENTERPRISE = EnterpriseSpec("91330201MA282UF146", "宁波示例检测有限公司", "330200")


@pytest.fixture
def demo(engine: Engine, registry: Registry) -> dict[str, DemoParticipant]:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger accounts test")
        out = register_demo(s, registry=registry)
        s.commit()
    return out


def _records(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as s:
        return [json.loads(parse_line(line).body_bytes) for line in journal_lines(s)]


def test_registering_the_demo_writes_each_profile_key_and_account_to_the_journal(
    engine: Engine, demo: dict[str, DemoParticipant]
) -> None:
    records = _records(engine)
    chem = demo["yuyao_chem"].participant
    (profile,) = [r for r in records if r["type"] == "party.register" and r["party"] == chem.party]
    assert profile["role"] == "enterprise"
    assert profile["profile"] == {
        "name": "余姚示例化工有限公司",
        "jurisdiction": "330281",
        "credit_code": chem.credit_code,
        "permit_number": f"{chem.credit_code}001P",
    }
    keys = [r for r in records if r["type"] == "key.register" and r["party"] == chem.party]
    assert [k["key_id"] for k in keys] == [demo_key(chem.party).key_id]
    opened = {r["account"] for r in records if r["type"] == "account.open" and r["owner"] == chem.party}
    assert opened == {ref.account for ref in account_plan(chem)}


def test_every_participant_has_exactly_the_accounts_of_its_role(
    engine: Engine, demo: dict[str, DemoParticipant]
) -> None:
    with Session(engine) as s:
        for d in demo.values():
            assert sorted(accounts_of(s, party=d.party), key=lambda r: r.account) == sorted(
                account_plan(d.participant), key=lambda r: r.account
            )


def test_a_registered_participant_is_found_by_id_role_and_jurisdiction(
    engine: Engine, demo: dict[str, DemoParticipant]
) -> None:
    with Session(engine) as s:
        got = get_participant(s, party="bureau:330281")
        assert (got.role, got.jurisdiction, got.name) == (Role.BUREAU, "330281", "宁波市生态环境局余姚分局")
        assert got.registered_seq is not None
        assert find_participant(s, party="bureau:330282") is None
        bureaus = participants(s, role=Role.BUREAU)
        assert [p.party for p in bureaus] == sorted(
            f"bureau:{code}" for code in ("330000", "330200", "330281", "330300", "330900")
        )
        in_yuyao = {p.party for p in participants(s, jurisdiction="330281")}
        assert in_yuyao == {demo[a].party for a in ("yuyao", "yuyao_chem", "yuyao_dye", "bank_yuyao")}


def test_an_unknown_participant_is_a_named_not_found_error(engine: Engine, registry: Registry) -> None:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="t")
        with pytest.raises(UnknownParticipant) as err:
            get_participant(s, party="ent:nobody")
        assert err.value.code == "unknown_participant"
        with pytest.raises(UnknownParticipant):
            accounts_of(s, party="ent:nobody")


def test_the_journal_replays_to_the_live_state_after_registration(
    engine: Engine, demo: dict[str, DemoParticipant]
) -> None:
    with Session(engine) as s:
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
    assert len(report.state.parties) == len(DEMO_SPECS) + 1  # and the registry itself


def _state(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return head_size(s), len(participants(s))


def test_registering_a_party_twice_is_refused_and_writes_nothing(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    before = _state(engine)
    spec = DEMO_SPECS["yuyao_chem"]
    with Session(engine) as s, pytest.raises(DuplicateParty):
        register_participant(s, registry=registry, spec=spec, public_key=SigningKey.generate().public)
    assert _state(engine) == before


def test_a_failure_late_in_the_batch_leaves_no_record_of_the_participant(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    # Someone else already owns the account id the new enterprise's cash account would take.
    squatter: list[Body] = [
        RegisterParty("squatter", "operator", {}, new_nonce()),
        OpenAccount("ent:91330201MA282UF146.cash", "squatter", AccountKind.CASH, new_nonce()),
    ]
    with Session(engine) as s:
        for body in squatter:
            submit(s, Instruction(body), registry=registry)
        s.commit()
    before = _state(engine)
    key = SigningKey.generate()
    with Session(engine) as s:
        with pytest.raises(DuplicateAccount):
            register_participant(s, registry=registry, spec=NEW_ENTERPRISE, public_key=key.public)
        # The session is still usable and a commit now writes nothing of the refused batch.
        s.commit()
    assert _state(engine) == before
    with Session(engine) as s:
        assert find_participant(s, party="ent:91330201MA282UF146") is None
        report, diff = replay_database(s)
    assert report.ok
    assert diff == {}


def test_a_key_already_registered_to_another_party_is_refused_and_writes_nothing(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    before = _state(engine)
    stolen = demo["yuyao_chem"].key.public
    with Session(engine) as s:
        with pytest.raises(DuplicateKey):
            register_participant(s, registry=registry, spec=NEW_ENTERPRISE, public_key=stolen)
        s.commit()
    assert _state(engine) == before


def test_the_operator_registers_participants_and_an_enterprise_may_not(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    before = _state(engine)
    with Session(engine) as s:
        with pytest.raises(PermissionDenied) as err:
            register_participant(
                s,
                registry=registry,
                spec=NEW_ENTERPRISE,
                public_key=SigningKey.generate().public,
                actor=demo["yuyao_chem"].participant,
            )
        assert err.value.rule == "action_not_granted_to_role"
        s.commit()
    assert _state(engine) == before
    with Session(engine) as s:
        registered = register_participant(
            s,
            registry=registry,
            spec=NEW_ENTERPRISE,
            public_key=SigningKey.generate().public,
            actor=demo["operator"].participant,
        )
        s.commit()
    assert registered.party == "ent:91330201MA282UF146"
    assert _state(engine)[1] == before[1] + 1


def test_a_custody_key_signs_for_its_participant_and_the_record_says_custody(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    with Session(engine) as s:
        ent, key = register_in_custody(s, registry=registry, spec=NEW_ENTERPRISE)
        s.commit()
    lot = Lot(jurisdiction="330200", valid_until=date(2030, 12, 31))
    issue = grant_rights("bureau:330200", f"{ent.party}.holding", 500, lot)
    give = TxBody(
        "transfer",
        new_nonce(),
        (
            Posting(f"{ent.party}.holding", "COD", lot, -200),
            Posting(demo["ningbo_petro"].party + ".holding", "COD", lot, 200),
        ),
    )
    with Session(engine) as s:
        for body in issue:
            submit(s, Instruction.signed(body, ("bureau:330200", demo["ningbo"].key)), registry=registry)
        signed = Instruction(give, (sign_body(give, ent.party, key, custody=True),))
        receipt = submit(s, signed, registry=registry)
        s.commit()
        assert {b.account: b.total for b in balances(s, account=f"{ent.party}.holding")} == {
            f"{ent.party}.holding": 300
        }
        line = next(journal_lines(s, start=receipt.seq, stop=receipt.seq + 1))
    assert parse_line(line).sigs[0].custody is True


def test_accounts_opened_after_registration_are_listed_too(
    engine: Engine, registry: Registry, demo: dict[str, DemoParticipant]
) -> None:
    party = demo["yuyao"].party
    with Session(engine) as s:
        submit(
            s,
            Instruction(OpenAccount(f"{party}.buffer", party, AccountKind.BUFFER, new_nonce())),
            registry=registry,
        )
        s.commit()
        assert AccountRef(f"{party}.buffer", AccountKind.BUFFER) in accounts_of(s, party=party)
