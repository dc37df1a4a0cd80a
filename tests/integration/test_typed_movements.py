"""Rule set 2, typed movements (ledger.movements): every forbidden movement is refused live with a
stable code, leaving the ledger as it was, and a registry-sealed forgery of it fails replay at its
record, naming the same rule. Both engines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the participant tables)
from accounts.demo import DemoParticipant, register_demo
from ledger import errors
from ledger.journal import parse_line, seal
from ledger.model import Lot, Posting, RegisterParty, TxBody
from ledger.replay import replay_lines
from ledger.service import (
    Instruction,
    Registry,
    adopt_rules,
    balances,
    head_size,
    init_ledger,
    journal_lines,
    new_nonce,
    sign_body,
    submit,
)
from tests.pledge_support import pledge_registration
from tests.support import World

YUYAO, NINGBO = "330281", "330200"
UNTIL = date(2030, 12, 31)
Y_LOT, N_LOT = Lot(jurisdiction=YUYAO, valid_until=UNTIL), Lot(jurisdiction=NINGBO, valid_until=UNTIL)


@dataclass
class Typed:
    engine: Engine
    registry: Registry
    demo: dict[str, DemoParticipant]

    def party(self, alias: str) -> str:
        return self.demo[alias].party

    def acc(self, alias: str, kind: str) -> str:
        return f"{self.party(alias)}.{kind}"

    def signed(self, body: TxBody, *aliases: str) -> Instruction:
        return Instruction.signed(body, *[(self.party(a), self.demo[a].key) for a in aliases])

    def submit(self, body: TxBody, *aliases: str) -> None:
        with Session(self.engine) as s:
            submit(s, self.signed(body, *aliases), registry=self.registry)
            s.commit()

    def snapshot(self) -> tuple[int, list[object]]:
        with Session(self.engine) as s:
            return head_size(s), [(b.account, b.instrument, b.lot, b.total, b.held) for b in balances(s)]

    def refused(self, body: TxBody, *aliases: str) -> errors.DomainError:
        before = self.snapshot()
        with pytest.raises(errors.DomainError) as err:
            self.submit(body, *aliases)
        assert self.snapshot() == before, "a refused record changed the ledger"
        return err.value

    def lines(self) -> list[bytes]:
        with Session(self.engine) as s:
            return list(journal_lines(s))

    def forged(self, body: TxBody, *aliases: str, at: datetime | None = None) -> tuple[int, list[bytes]]:
        """The journal plus ``body`` signed by ``aliases`` and sealed with the registry's own key, as an
        insider who holds that key would append it: only the rules can still catch it."""
        lines = self.lines()
        last = parse_line(lines[-1])
        sigs = [sign_body(body, self.party(a), self.demo[a].key) for a in aliases]
        record = seal(
            seq=last.seq + 1,
            prev=last.hash,
            time=at or last.time + timedelta(seconds=1),
            body=body.to_json(),
            sigs=sigs,
            registry=self.registry.key,
        )
        return record.seq, [*lines, record.line()]


def _move(action: str, src: str, dst: str, amount: int, lot: Lot = Y_LOT, code: str = "COD") -> TxBody:
    return TxBody(action, new_nonce(), (Posting(src, code, lot, -amount), Posting(dst, code, lot, amount)))


@pytest.fixture
def typed(engine: Engine, registry: Registry) -> Typed:
    with Session(engine) as s:
        init_ledger(s, registry=registry, name="ecoledger typed movements test")
        demo = register_demo(s, registry=registry)
        s.commit()
    t = Typed(engine, registry, demo)
    for city, lot in (("yuyao", Y_LOT), ("ningbo", N_LOT)):
        t.submit(_move("cap.set", t.acc(city, "cap.COD"), t.acc(city, "reserve"), 50_000, lot), city)
    t.submit(
        _move("allocation.initial", t.acc("yuyao", "reserve"), t.acc("yuyao_chem", "holding"), 20_000),
        "yuyao",
    )
    deposit = _move(
        "cash.deposit", t.acc("operator", "settlement"), t.acc("ningbo_petro", "cash"), 9_000, Lot(), "CNY"
    )
    t.submit(deposit, "operator")
    return t


def test_rights_move_between_enterprises_of_their_own_jurisdiction(typed: Typed) -> None:
    typed.submit(
        _move("transfer", typed.acc("yuyao_chem", "holding"), typed.acc("yuyao_dye", "holding"), 10),
        "yuyao_chem",
    )
    report = replay_lines(typed.lines(), registry_key=typed.registry.key.public)
    assert report.ok, report.failure
    assert report.state.rule_set == 2


# (why, the destination owner and account kind, the refusal): Yuyao COD sent by a Yuyao enterprise
PLAIN_TRANSFER_PROBES = [
    ("into another city's enterprise", "ningbo_petro", "holding", errors.WrongJurisdiction),
    ("into a bureau's cap", "yuyao", "cap.COD", errors.MovementNotAllowed),
    ("into a bureau's reserve", "yuyao", "reserve", errors.MovementNotAllowed),
    ("into the operator's escrow", "operator", "escrow", errors.MovementNotAllowed),
    ("into a bank's holding", "bank_yuyao", "holding", errors.MovementNotAllowed),
    ("into the sender's own cash account", "yuyao_chem", "cash", errors.MovementNotAllowed),
]


@pytest.mark.parametrize(("why", "owner", "kind", "refusal"), PLAIN_TRANSFER_PROBES)
def test_a_plain_transfer_cannot_carry_rights_out_of_an_enterprises_holding_in_its_city(
    typed: Typed, why: str, owner: str, kind: str, refusal: type[errors.DomainError]
) -> None:
    body = _move("transfer", typed.acc("yuyao_chem", "holding"), typed.acc(owner, kind), 10)
    err = typed.refused(body, "yuyao_chem")
    assert type(err) is refusal, why
    assert err.details["field"] == "postings[1].account"
    seq, lines = typed.forged(body, "yuyao_chem")
    report = replay_lines(lines, registry_key=typed.registry.key.public)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.rule) == (seq, refusal.code), why


def test_a_bureau_cannot_hand_its_reserve_to_another_citys_enterprise_by_any_body(typed: Typed) -> None:
    reserve, petro = typed.acc("yuyao", "reserve"), typed.acc("ningbo_petro", "holding")
    assert type(typed.refused(_move("transfer", reserve, petro, 10), "yuyao")) is errors.MovementNotAllowed
    allocation = _move("allocation.initial", reserve, petro, 10)
    assert type(typed.refused(allocation, "yuyao")) is errors.WrongJurisdiction
    seq, lines = typed.forged(allocation, "yuyao")
    failure = replay_lines(lines).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (seq, "wrong_jurisdiction")


def test_a_body_type_the_registry_does_not_know_is_refused(typed: Typed) -> None:
    body = _move("gift", typed.acc("yuyao_chem", "holding"), typed.acc("yuyao_dye", "holding"), 10)
    err = typed.refused(body, "yuyao_chem")
    assert (err.code, err.details["field"]) == ("movement_not_allowed", "body.action")


def test_a_bureau_cannot_raise_its_cap_in_another_jurisdictions_units(typed: Typed) -> None:
    body = _move("cap.set", typed.acc("ningbo", "cap.COD"), typed.acc("ningbo", "reserve"), 10)  # a Yuyao lot
    assert type(typed.refused(body, "ningbo")) is errors.WrongJurisdiction


def test_a_cap_changes_only_with_its_bureaus_signature(typed: Typed) -> None:
    # A buy-back credits the reserve: the enterprise's signature alone does not do.
    body = TxBody(
        "reserve.buy_back",
        new_nonce(),
        (
            Posting(typed.acc("yuyao_chem", "holding"), "COD", Y_LOT, -10),
            Posting(typed.acc("yuyao", "reserve"), "COD", Y_LOT, 10),
        ),
    )
    err = typed.refused(body, "yuyao_chem")
    assert err.code == "missing_signature"
    assert err.details["missing"] == [typed.party("yuyao")]
    seq, lines = typed.forged(body, "yuyao_chem")
    failure = replay_lines(lines).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (seq, "missing_signature")


def _cross_city(t: Typed, kg: int = 1_000) -> TxBody:
    return TxBody(
        "crosscity.settle",
        new_nonce(),
        (
            Posting(t.acc("yuyao_chem", "holding"), "COD", Y_LOT, -kg),
            Posting(t.acc("yuyao", "cap.COD"), "COD", Y_LOT, kg),
            Posting(t.acc("ningbo", "cap.COD"), "COD", N_LOT, -kg),
            Posting(t.acc("ningbo_petro", "holding"), "COD", N_LOT, kg),
        ),
    )


def test_units_change_jurisdiction_only_in_a_cross_city_settlement_both_bureaus_sign(typed: Typed) -> None:
    body = _cross_city(typed)
    err = typed.refused(body, "yuyao_chem", "yuyao")
    assert err.code == "missing_signature"
    assert err.details["missing"] == [typed.party("ningbo")]
    seq, lines = typed.forged(body, "yuyao_chem", "yuyao")
    failure = replay_lines(lines).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (seq, "missing_signature")
    typed.submit(body, "yuyao_chem", "yuyao", "ningbo")
    with Session(typed.engine) as s:
        held = {
            (b.account, b.lot): b.total for b in balances(s, account=typed.acc("ningbo_petro", "holding"))
        }
    assert held == {(typed.acc("ningbo_petro", "holding"), N_LOT.key()): 1_000}
    assert replay_lines(typed.lines()).ok


def test_a_jurisdiction_has_one_bureau(typed: Typed) -> None:
    body = RegisterParty("bureau:second-yuyao", "bureau", {"jurisdiction": YUYAO, "name": "x"}, new_nonce())
    with Session(typed.engine) as s, pytest.raises(errors.WrongJurisdiction):
        submit(s, Instruction(body), registry=typed.registry)


def test_a_pledge_needs_the_bank_and_the_rights_own_bureaus_approval(typed: Typed) -> None:
    def registration(bureau: str) -> TxBody:
        return pledge_registration(
            "p-1",
            account=typed.acc("yuyao_chem", "holding"),
            lot_kg=(Y_LOT, 500),
            enterprise=typed.party("yuyao_chem"),
            bank=typed.party("bank_yuyao"),
            bureau=typed.party(bureau),
            bureau_key=typed.demo[bureau].key,
            start=datetime.now(UTC).date(),
        )

    err = typed.refused(registration("yuyao"), "yuyao_chem")
    assert (err.code, err.details.get("missing")) == ("missing_signature", [typed.party("bank_yuyao")]), err
    err = typed.refused(registration("ningbo"), "yuyao_chem", "bank_yuyao")  # not the lot's bureau
    assert err.code == "invalid_pledge_registration"
    typed.submit(registration("yuyao"), "yuyao_chem", "bank_yuyao")


def test_replay_refuses_a_forged_record_that_overdraws_a_cash_account(typed: Typed) -> None:
    # Not the database's CHECK constraint: replay alone, over bytes the registry sealed.
    body = TxBody(
        "trade",
        new_nonce(),
        (
            Posting(typed.acc("yuyao_chem", "holding"), "COD", Y_LOT, -10),
            Posting(typed.acc("yuyao_dye", "holding"), "COD", Y_LOT, 10),
            Posting(typed.acc("yuyao_dye", "cash"), "CNY", Lot(), -1),
            Posting(typed.acc("yuyao_chem", "cash"), "CNY", Lot(), 1),
        ),
    )
    seq, lines = typed.forged(body, "yuyao_chem", "yuyao_dye")
    failure = replay_lines(lines).failure
    assert failure is not None
    assert (failure.seq, failure.rule, failure.evidence["account"]) == (
        seq,
        "insufficient_balance",
        typed.acc("yuyao_dye", "cash"),
    )


@pytest.mark.parametrize(
    ("at", "expired"),
    [
        (datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC), False),  # the last valid day
        (datetime(2031, 1, 1, 0, 0, 0, tzinfo=UTC), True),
    ],
)
def test_replay_sweeps_expired_units_only_after_their_last_valid_day(
    typed: Typed, at: datetime, expired: bool
) -> None:
    sweep = _move("expiry", typed.acc("yuyao_chem", "holding"), typed.acc("yuyao", "retirement"), 20_000)
    seq, lines = typed.forged(sweep, at=at)
    report = replay_lines(lines)
    if expired:
        assert report.ok, report.failure
    else:
        assert report.failure is not None
        assert (report.failure.seq, report.failure.rule) == (seq, "invalid_input")
        assert report.failure.evidence["field"] == "postings[0].lot"


def test_a_journal_written_under_rule_set_1_stays_verifiable_and_is_held_to_rule_set_2_after_adoption(
    engine: Engine, registry: Registry
) -> None:
    old = World.create(engine, registry, rule_set=1)  # ad-hoc body types, as before typed movements
    old.issue("ent:a.h", 1_000)
    with Session(engine) as s:
        adopted = adopt_rules(s, registry=registry)
        s.commit()
        assert adopted is not None
        assert adopt_rules(s, registry=registry) is None  # once
    lines = _lines(engine)
    report = replay_lines(lines)
    assert report.ok, report.failure
    assert report.state.rule_set == 2
    with pytest.raises(errors.MovementNotAllowed):
        old.issue("ent:a.h", 1)  # what rule set 1 took is refused from the adoption on
    # The same kind of record, sealed by the registry after the adoption, fails replay there.
    forged = seal(
        seq=len(lines),
        prev=parse_line(lines[-1]).hash,
        time=parse_line(lines[-1]).time + timedelta(seconds=1),
        body=_move("issue", "330281.cap", "ent:a.h", 5).to_json(),
        sigs=[
            sign_body(_move("issue", "330281.cap", "ent:a.h", 5), "bureau:330281", old.keys["bureau:330281"])
        ],
        registry=registry.key,
    )
    failure = replay_lines([*lines, forged.line()]).failure
    assert failure is not None
    assert (failure.seq, failure.rule) == (len(lines), "movement_not_allowed")


def _lines(engine: Engine) -> list[bytes]:
    with Session(engine) as s:
        return list(journal_lines(s))


def test_a_bank_comes_to_hold_rights_only_by_capturing_its_pledge(typed: Typed) -> None:
    # Even with the enterprise's signature, an "enforcement" that captures no pledge is refused.
    body = _move("pledge.enforce", typed.acc("yuyao_chem", "holding"), typed.acc("bank_yuyao", "holding"), 10)
    err = typed.refused(body, "yuyao_chem", "bank_yuyao")
    assert (err.code, err.details["field"]) == ("movement_not_allowed", "postings[0].amount")
