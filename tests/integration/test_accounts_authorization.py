"""Each permission rule, enforced through ``submit_as`` and the read services, across participants.

For every rule the forbidden actor gets a refusal naming the rule and the ledger is unchanged
(journal size and every balance); the allowed actor's same kind of request goes through.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the accounts tables before the schema is created)
from accounts.demo import DEMO_SPECS, DemoParticipant, register_demo
from accounts.errors import PermissionDenied
from accounts.identifiers import covers
from accounts.model import Role
from accounts.permissions import Action
from accounts.service import account_balances, accounts_of, read_journal, submit_as
from ledger.errors import MissingSignature, UnknownAccount
from ledger.model import HoldPlace, HoldSettle, Lot, Posting, TxBody
from ledger.service import (
    Balance,
    Instruction,
    Receipt,
    Registry,
    balances,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    submit,
)

YUYAO = Lot(jurisdiction="330281", valid_until=date(2030, 12, 31))
ZHOUSHAN = Lot(jurisdiction="330900", valid_until=date(2030, 12, 31))
Demo = dict[str, DemoParticipant]


def _p(alias: str) -> str:
    return DEMO_SPECS[alias].participant().party


def _move(src: str, dst: str, lot: Lot = YUYAO, amount: int = 100, instrument: str = "COD") -> TxBody:
    return TxBody(
        "transfer",
        new_nonce(),
        (Posting(src, instrument, lot, -amount), Posting(dst, instrument, lot, amount)),
    )


@pytest.fixture
def demo(engine: Engine, registry: Registry) -> Demo:
    with Session(engine) as s:
        # The permission layer is tested on its own, with ad-hoc bodies, under rule set 1; the ledger's
        # typed movements (rule set 2) refuse many of these bodies again, in tests of their own.
        init_ledger(s, registry=registry, name="ecoledger authorization test", rule_set=1)
        out = register_demo(s, registry=registry)
        s.commit()
    setup = [
        (_move("bureau:330281.cap.COD", f"{_p('yuyao_chem')}.holding", amount=10_000), "yuyao"),
        (_move("bureau:330281.cap.COD", "bureau:330281.reserve", amount=2_000), "yuyao"),
        (_move("bureau:330900.cap.COD", f"{_p('zhoushan_ship')}.holding", ZHOUSHAN, 5_000), "zhoushan"),
        (
            _move("operator:zj-registry.settlement", f"{_p('yuyao_chem')}.cash", Lot(), 1_000_000, "CNY"),
            "operator",
        ),
    ]
    with Session(engine) as s:
        for body, signer in setup:
            submit(s, Instruction.signed(body, (out[signer].party, out[signer].key)), registry=registry)
        s.commit()
    return out


def _snapshot(engine: Engine) -> tuple[int, list[Balance]]:
    with Session(engine) as s:
        return head_size(s), balances(s)


def _as(
    engine: Engine,
    registry: Registry,
    actor: DemoParticipant,
    action: Action,
    body: TxBody,
    *signers: DemoParticipant,
) -> Receipt:
    instruction = Instruction.signed(body, *[(d.party, d.key) for d in signers])
    with Session(engine) as s:
        receipt = submit_as(
            s, registry=registry, actor=actor.participant, action=action, instruction=instruction
        )
        s.commit()
    return receipt


def _refused(
    engine: Engine,
    registry: Registry,
    actor: DemoParticipant,
    action: Action,
    body: TxBody,
    *signers: DemoParticipant,
) -> str:
    before = _snapshot(engine)
    with pytest.raises(PermissionDenied) as err:
        _as(engine, registry, actor, action, body, *signers)
    assert _snapshot(engine) == before, "a refused request changed the ledger"
    assert err.value.code == "permission_denied"
    assert err.value.details["action"] == action.value
    assert err.value.details["actor"] == actor.party
    return err.value.rule


def test_a_bureau_issues_only_in_its_own_jurisdiction(engine: Engine, registry: Registry, demo: Demo) -> None:
    into_chem = f"{_p('yuyao_chem')}.holding"
    yuyao_cap = _move("bureau:330281.cap.COD", into_chem)
    rule = _refused(engine, registry, demo["ningbo"], Action.ISSUE_RIGHTS, yuyao_cap, demo["ningbo"])
    assert rule == "bureau_own_jurisdiction"
    rule = _refused(engine, registry, demo["province"], Action.ISSUE_RIGHTS, yuyao_cap, demo["province"])
    assert rule == "bureau_own_jurisdiction"
    # Ningbo's own cap, but rights of Yuyao's total quantity control: the ledger alone would accept it.
    ningbo_cap_yuyao_lot = _move("bureau:330200.cap.COD", f"{_p('ningbo_petro')}.holding")
    rule = _refused(
        engine, registry, demo["ningbo"], Action.ISSUE_RIGHTS, ningbo_cap_yuyao_lot, demo["ningbo"]
    )
    assert rule == "bureau_own_jurisdiction"
    _as(engine, registry, demo["yuyao"], Action.ISSUE_RIGHTS, yuyao_cap, demo["yuyao"])


def _buy_back(bureau: str) -> TxBody:
    chem = _p("yuyao_chem")
    return TxBody(
        "buy_back",
        new_nonce(),
        (
            Posting(f"{chem}.holding", "COD", YUYAO, -500),
            Posting(f"{bureau}.reserve", "COD", YUYAO, 500),
        ),
    )


def test_a_bureau_buys_back_into_its_reserve_only_from_its_jurisdiction(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    rule = _refused(
        engine,
        registry,
        demo["wenzhou"],
        Action.BUY_BACK_RESERVE,
        _buy_back("bureau:330300"),
        demo["wenzhou"],
        demo["yuyao_chem"],
    )
    assert rule == "bureau_own_jurisdiction"
    _as(
        engine,
        registry,
        demo["yuyao"],
        Action.BUY_BACK_RESERVE,
        _buy_back("bureau:330281"),
        demo["yuyao"],
        demo["yuyao_chem"],
    )


def _auction_lot(hold: str) -> TxBody:
    return TxBody(
        "auction.open",
        new_nonce(),
        holds=(HoldPlace(hold, "bureau:330281.reserve", "COD", YUYAO, 1_000, "auction", "bureau:330281"),),
    )


def test_a_bureau_opens_auctions_only_of_its_own_reserve(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    rule = _refused(
        engine, registry, demo["zhoushan"], Action.OPEN_AUCTION, _auction_lot("a1"), demo["zhoushan"]
    )
    assert rule == "bureau_own_jurisdiction"
    _as(engine, registry, demo["yuyao"], Action.OPEN_AUCTION, _auction_lot("a1"), demo["yuyao"])


def _cross_city(approver: str) -> TxBody:
    body = _move(f"{_p('zhoushan_ship')}.holding", f"{_p('ningbo_petro')}.holding", ZHOUSHAN, 300)
    return TxBody(body.action, body.nonce, body.postings, signers=(approver,))


def test_a_cross_city_transfer_is_approved_only_by_a_bureau_of_either_city(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    ship = demo["zhoushan_ship"]
    for outsider in ("yuyao", "province", "wenzhou"):
        body = _cross_city(demo[outsider].party)
        rule = _refused(
            engine, registry, demo[outsider], Action.APPROVE_CROSS_CITY, body, demo[outsider], ship
        )
        assert rule == "bureau_party_to_cross_city"
    _as(
        engine,
        registry,
        demo["zhoushan"],
        Action.APPROVE_CROSS_CITY,
        _cross_city("bureau:330900"),
        demo["zhoushan"],
        ship,
    )
    _as(
        engine,
        registry,
        demo["ningbo"],
        Action.APPROVE_CROSS_CITY,
        _cross_city("bureau:330200"),
        demo["ningbo"],
        ship,
    )


OTHERS = ["yuyao_dye", "ningbo_petro", "zhoushan_ship", "bank_ningbo", "shengsi_coop", "yuyao", "operator"]


def test_nobody_moves_an_enterprises_units_but_the_enterprise(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    chem = demo["yuyao_chem"]
    for intruder in OTHERS:
        actor = demo[intruder]
        steal = _move(f"{chem.party}.holding", f"{actor.party}.cash")
        expected = "action_not_granted_to_role" if intruder == "operator" else "own_units_only"
        assert _refused(engine, registry, actor, Action.TRANSFER_UNITS, steal, actor) == expected
        # Even carrying the owner's genuine signature, someone else cannot submit it as their act.
        consented = _move(f"{chem.party}.holding", f"{actor.party}.cash")
        assert _refused(engine, registry, actor, Action.TRANSFER_UNITS, consented, chem, actor) == expected


def test_an_enterprise_moves_its_own_units(engine: Engine, registry: Registry, demo: Demo) -> None:
    chem = demo["yuyao_chem"]
    _as(
        engine,
        registry,
        chem,
        Action.TRANSFER_UNITS,
        _move(f"{chem.party}.holding", f"{_p('yuyao_dye')}.holding"),
        chem,
    )
    with Session(engine) as s:
        assert sum(b.total for b in balances(s, account=f"{_p('yuyao_dye')}.holding")) == 100


def test_an_enterprise_retires_only_its_own_units(engine: Engine, registry: Registry, demo: Demo) -> None:
    chem, dye = demo["yuyao_chem"], demo["yuyao_dye"]
    theirs = _move(f"{chem.party}.holding", f"{dye.party}.retirement")
    assert _refused(engine, registry, dye, Action.RETIRE_UNITS, theirs, dye) == "own_units_only"
    _as(
        engine,
        registry,
        chem,
        Action.RETIRE_UNITS,
        _move(f"{chem.party}.holding", f"{chem.party}.retirement"),
        chem,
    )


def test_an_enterprise_bids_only_with_its_own_deposit(engine: Engine, registry: Registry, demo: Demo) -> None:
    chem, dye = demo["yuyao_chem"], demo["yuyao_dye"]

    def deposit() -> TxBody:
        return _move(f"{chem.party}.cash", "bureau:330281.escrow", Lot(), 50_000, "CNY")

    assert _refused(engine, registry, dye, Action.BID, deposit(), dye) == "own_units_only"
    _as(engine, registry, chem, Action.BID, deposit(), chem)


def _pledge(hold: str, controller: str) -> TxBody:
    return TxBody(
        "pledge",
        new_nonce(),
        holds=(HoldPlace(hold, f"{_p('yuyao_chem')}.holding", "COD", YUYAO, 4_000, "pledge", controller),),
    )


def test_a_bank_registers_a_pledge_only_with_the_owners_signed_consent(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    bank, chem = demo["bank_ningbo"], demo["yuyao_chem"]
    rule = _refused(engine, registry, bank, Action.REGISTER_PLEDGE, _pledge("p1", bank.party), bank)
    assert rule == "pledge_needs_owner_consent"
    rule = _refused(
        engine, registry, bank, Action.REGISTER_PLEDGE, _pledge("p1", _p("bank_yuyao")), bank, chem
    )
    assert rule == "pledge_under_own_control"
    _as(engine, registry, bank, Action.REGISTER_PLEDGE, _pledge("p1", bank.party), bank, chem)
    with Session(engine) as s:
        assert [b.held for b in balances(s, account=f"{chem.party}.holding")] == [4_000]


def test_only_the_bank_holding_a_pledge_releases_it(engine: Engine, registry: Registry, demo: Demo) -> None:
    bank, other, chem = demo["bank_ningbo"], demo["bank_yuyao"], demo["yuyao_chem"]
    _as(engine, registry, bank, Action.REGISTER_PLEDGE, _pledge("p1", bank.party), bank, chem)

    def release() -> TxBody:
        return TxBody("pledge.release", new_nonce(), holds=(HoldSettle("release", "p1", 4_000),))

    assert (
        _refused(engine, registry, other, Action.RELEASE_PLEDGE, release(), other) == "pledge_controller_only"
    )
    _as(engine, registry, bank, Action.RELEASE_PLEDGE, release(), bank)
    with Session(engine) as s:
        assert [b.held for b in balances(s, account=f"{chem.party}.holding")] == [0]


def test_an_auditor_writes_nothing_even_with_the_owners_signatures(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    auditor, chem, yuyao = demo["auditor"], demo["yuyao_chem"], demo["yuyao"]
    attempts = [
        (Action.TRANSFER_UNITS, _move(f"{chem.party}.holding", f"{_p('yuyao_dye')}.holding")),
        (Action.ISSUE_RIGHTS, _move("bureau:330281.cap.COD", f"{chem.party}.holding")),
        (Action.OPEN_AUCTION, _auction_lot("a9")),
        (Action.REGISTER_PLEDGE, _pledge("p9", auditor.party)),
    ]
    for action, body in attempts:
        assert (
            _refused(engine, registry, auditor, action, body, auditor, chem, yuyao)
            == "auditor_writes_nothing"
        )


def test_an_actor_must_sign_what_it_submits(engine: Engine, registry: Registry, demo: Demo) -> None:
    before = _snapshot(engine)
    body = _move("bureau:330281.cap.COD", f"{_p('yuyao_chem')}.holding")
    with pytest.raises(MissingSignature):
        # Yuyao may issue, but submitted by a request that carries no signature of Yuyao's.
        _as(engine, registry, demo["yuyao"], Action.ISSUE_RIGHTS, body, demo["yuyao_chem"])
    assert _snapshot(engine) == before


def _may_read(reader: DemoParticipant, owner: DemoParticipant) -> bool:
    r, o = reader.participant, owner.participant
    if r == o or r.role in (Role.AUDITOR, Role.OPERATOR):
        return True
    return (
        r.role is Role.BUREAU
        and o.jurisdiction is not None
        and r.jurisdiction is not None
        and covers(r.jurisdiction, o.jurisdiction)
    )


def test_each_participant_reads_exactly_the_accounts_it_may_see(engine: Engine, demo: Demo) -> None:
    allowed = refused = 0
    with Session(engine) as s:
        every_account = {d.party: [r.account for r in accounts_of(s, party=d.party)] for d in demo.values()}
        for reader in demo.values():
            for owner in demo.values():
                for account in every_account[owner.party]:
                    if _may_read(reader, owner):
                        account_balances(s, actor=reader.participant, account=account)
                        allowed += 1
                        continue
                    with pytest.raises(PermissionDenied) as err:
                        account_balances(s, actor=reader.participant, account=account)
                    assert err.value.rule == "account_visibility"
                    refused += 1
    assert allowed > 0
    assert refused > allowed  # most pairs are other participants' accounts


def test_reading_the_chemical_plants_holding_shows_its_units_to_those_allowed(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    account = f"{_p('yuyao_chem')}.holding"
    with Session(engine) as s:
        for alias in ("yuyao_chem", "yuyao", "ningbo", "province", "auditor", "operator"):
            got = account_balances(s, actor=demo[alias].participant, account=account)
            assert [(b.instrument, b.total) for b in got] == [("COD", 10_000)]


def test_a_missing_account_looks_the_same_as_someone_elses_to_a_participant(
    engine: Engine, registry: Registry, demo: Demo
) -> None:
    with Session(engine) as s:
        with pytest.raises(PermissionDenied) as missing:
            account_balances(s, actor=demo["yuyao_dye"].participant, account="ent:nobody.holding")
        with pytest.raises(PermissionDenied) as foreign:
            account_balances(s, actor=demo["yuyao_dye"].participant, account=f"{_p('yuyao_chem')}.holding")
        assert missing.value.to_dict() == foreign.value.to_dict()
        with pytest.raises(UnknownAccount):
            account_balances(s, actor=demo["auditor"].participant, account="ent:nobody.holding")


def test_only_auditors_and_the_operator_read_the_whole_journal(engine: Engine, demo: Demo) -> None:
    with Session(engine) as s:
        for alias in ("yuyao_chem", "bank_ningbo", "shengsi_coop", "yuyao", "province"):
            with pytest.raises(PermissionDenied) as err:
                read_journal(s, actor=demo[alias].participant)
            assert err.value.rule == "journal_readers_only"
        everything = list(journal_lines(s))
        assert list(read_journal(s, actor=demo["auditor"].participant)) == everything
        assert list(read_journal(s, actor=demo["operator"].participant)) == everything
