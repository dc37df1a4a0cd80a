"""Four-eyes thresholds and trusted-account lists as ledger rules (ledger.control_rules): refused live
with a stable code and nothing written, and a registry-sealed forgery fails replay at its record,
naming the same rule. Both engines; the registry's clock is the test's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import accounts.tables  # noqa: F401  (registers the participant tables)
from accounts.demo import register_demo
from ledger.controls import add_working_days
from ledger.model import TxBody
from ledger.replay import replay_lines
from ledger.service import Instruction, Registry, balances, init_ledger, new_nonce, submit
from ledger.timeutil import format_utc
from tests.integration.test_typed_movements import Y_LOT, Typed, _move

MONDAY = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Yuyao


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def ctl(engine: Engine, registry: Registry, clock: Clock) -> Typed:
    reg = replace(registry, clock=clock)
    with Session(engine) as s:
        init_ledger(s, registry=reg, name="ecoledger controls test")
        demo = register_demo(s, registry=reg)
        s.commit()
    t = Typed(engine, reg, demo)
    t.submit(_move("cap.set", t.acc("yuyao", "cap.COD"), t.acc("yuyao", "reserve"), 50_000), "yuyao")
    t.submit(
        _move("allocation.initial", t.acc("yuyao", "reserve"), t.acc("yuyao_chem", "holding"), 40_000),
        "yuyao",
    )
    t.submit(controls("yuyao_chem", t, users=USERS, four_eyes_kg={"transfer": 10_000}), "yuyao_chem")
    return t


USERS = {"alice": "clerk", "bob": "approver", "carol": "clerk"}


def controls(alias: str, t: Typed, *approved: str, **meta: Any) -> TxBody:
    party = t.party(alias)
    extra = {"approved_by": {party: list(approved)}} if approved else {}
    return TxBody("controls.set", new_nonce(), signers=(party,), meta={"party": party, **meta, **extra})


def send(t: Typed, amount: int, *approved: str, to: str = "yuyao_dye") -> TxBody:
    body = _move("transfer", t.acc("yuyao_chem", "holding"), t.acc(to, "holding"), amount)
    if approved:
        body = replace(body, meta={"approved_by": {t.party("yuyao_chem"): list(approved)}})
    return body


def trust(
    t: Typed, action: str, account: str, *approved: str, effective_at: datetime | None = None
) -> TxBody:
    party = t.party("yuyao_chem")
    meta: dict[str, Any] = {"party": party, "account": account, "approved_by": {party: list(approved)}}
    if effective_at is not None:
        meta["effective_at"] = format_utc(effective_at)
    return TxBody(action, new_nonce(), signers=(party,), meta=meta)


def replay_failure(t: Typed, lines: list[bytes]) -> tuple[int, str]:
    report = replay_lines(lines, registry_key=t.registry.key.public)
    assert report.failure is not None, "the forged record replayed clean"
    return report.failure.seq, report.failure.rule


def test_above_the_threshold_a_transfer_needs_a_second_user_who_is_an_approver(ctl: Typed) -> None:
    assert ctl.refused(send(ctl, 15_000), "yuyao_chem").code == "four_eyes_required"
    assert ctl.refused(send(ctl, 15_000, "alice"), "yuyao_chem").code == "four_eyes_required"
    assert ctl.refused(send(ctl, 15_000, "alice", "carol"), "yuyao_chem").code == "four_eyes_required"
    assert ctl.refused(send(ctl, 15_000, "alice", "alice"), "yuyao_chem").code == "invalid_input"
    assert ctl.refused(send(ctl, 15_000, "alice", "mallory"), "yuyao_chem").code == "unknown_user"
    ctl.submit(send(ctl, 15_000, "alice", "bob"), "yuyao_chem")
    ctl.submit(send(ctl, 10_000, "alice"), "yuyao_chem")  # at the threshold, one user is enough
    report = replay_lines(ctl.lines(), registry_key=ctl.registry.key.public)
    assert report.ok, report.failure
    assert report.state.controls[ctl.party("yuyao_chem")].four_eyes_kg == {"transfer": 10_000}


def test_replay_refuses_a_sealed_record_above_the_threshold_with_one_users_approval(ctl: Typed) -> None:
    seq, lines = ctl.forged(send(ctl, 15_000, "alice"), "yuyao_chem")
    assert replay_failure(ctl, lines) == (seq, "four_eyes_required")


def test_thresholds_in_force_change_only_with_two_users(ctl: Typed) -> None:
    lower = controls("yuyao_chem", ctl, "alice", four_eyes_kg={})
    assert ctl.refused(lower, "yuyao_chem").code == "four_eyes_required"
    seq, lines = ctl.forged(lower, "yuyao_chem")
    assert replay_failure(ctl, lines) == (seq, "four_eyes_required")
    ctl.submit(controls("yuyao_chem", ctl, "alice", "bob", four_eyes_kg={}), "yuyao_chem")
    ctl.submit(send(ctl, 15_000, "alice"), "yuyao_chem")


def test_a_newly_trusted_account_receives_only_after_the_delay_and_a_removal_is_at_once(
    ctl: Typed, clock: Clock
) -> None:
    dye = ctl.acc("yuyao_dye", "holding")
    ctl.submit(controls("yuyao_chem", ctl, "alice", "bob", trusted_list=True), "yuyao_chem")
    assert ctl.refused(send(ctl, 1_000), "yuyao_chem").code == "account_not_trusted"
    earliest = add_working_days(clock.now, 4)
    assert earliest == MONDAY + timedelta(days=4)  # Monday + 4 working days: Friday
    too_soon = trust(ctl, "trust.add", dye, "alice", "bob", effective_at=earliest - timedelta(hours=1))
    assert ctl.refused(too_soon, "yuyao_chem").code == "trust_delay_not_met"
    one_user = trust(ctl, "trust.add", dye, "alice", effective_at=earliest)
    assert ctl.refused(one_user, "yuyao_chem").code == "four_eyes_required"
    ctl.submit(trust(ctl, "trust.add", dye, "alice", "bob", effective_at=earliest), "yuyao_chem")
    clock.now = earliest - timedelta(minutes=1)
    assert ctl.refused(send(ctl, 1_000), "yuyao_chem").code == "account_not_trusted"
    clock.now = earliest
    ctl.submit(send(ctl, 1_000), "yuyao_chem")
    ctl.submit(trust(ctl, "trust.remove", dye, "carol"), "yuyao_chem")
    assert ctl.refused(send(ctl, 1_000), "yuyao_chem").code == "account_not_trusted"
    report = replay_lines(ctl.lines(), registry_key=ctl.registry.key.public)
    assert report.ok, report.failure


def test_the_delay_counts_working_days_over_a_weekend() -> None:
    friday = MONDAY + timedelta(days=4)
    assert add_working_days(friday, 4) == friday + timedelta(days=6)  # Sat and Sun do not count


def test_replay_refuses_a_transfer_to_an_account_whose_trust_is_not_yet_in_effect(
    ctl: Typed, clock: Clock
) -> None:
    dye = ctl.acc("yuyao_dye", "holding")
    ctl.submit(controls("yuyao_chem", ctl, "alice", "bob", trusted_list=True), "yuyao_chem")
    earliest = add_working_days(clock.now, 4)
    ctl.submit(trust(ctl, "trust.add", dye, "alice", "bob", effective_at=earliest), "yuyao_chem")
    seq, lines = ctl.forged(send(ctl, 1_000), "yuyao_chem", at=earliest - timedelta(hours=1))
    assert replay_failure(ctl, lines) == (seq, "account_not_trusted")
    forged_add = trust(
        ctl, "trust.add", ctl.acc("ningbo_petro", "holding"), "alice", "bob", effective_at=clock.now
    )
    seq, lines = ctl.forged(forged_add, "yuyao_chem")
    assert replay_failure(ctl, lines) == (seq, "trust_delay_not_met")


def test_the_registry_sets_the_delay_and_a_limit_outside_the_list(ctl: Typed, clock: Clock) -> None:
    settings = TxBody(
        "registry.controls", new_nonce(), meta={"trust_delay_working_days": 1, "outside_list_limit_kg": 2_000}
    )
    with Session(ctl.engine) as s:
        submit(s, Instruction(settings), registry=ctl.registry)
        s.commit()
    ctl.submit(controls("yuyao_chem", ctl, "alice", "bob", trusted_list=True), "yuyao_chem")
    ctl.submit(send(ctl, 2_000), "yuyao_chem")  # within the limit outside the list
    assert ctl.refused(send(ctl, 2_001), "yuyao_chem").code == "account_not_trusted"
    tuesday = MONDAY + timedelta(days=1)
    ctl.submit(
        trust(ctl, "trust.add", ctl.acc("yuyao_dye", "holding"), "alice", "bob", effective_at=tuesday),
        "yuyao_chem",
    )
    clock.now = tuesday
    ctl.submit(send(ctl, 5_000), "yuyao_chem")
    assert replay_lines(ctl.lines(), registry_key=ctl.registry.key.public).ok


def test_a_party_cannot_set_the_registrys_controls(ctl: Typed) -> None:
    body = TxBody(
        "registry.controls",
        new_nonce(),
        signers=(ctl.party("yuyao_chem"),),
        meta={"outside_list_limit_kg": 10**9},
    )
    assert ctl.refused(body, "yuyao_chem").code == "invalid_input"


def test_transfers_of_parties_without_controls_are_unchanged(ctl: Typed) -> None:
    ctl.submit(
        _move("allocation.initial", ctl.acc("yuyao", "reserve"), ctl.acc("yuyao_dye", "holding"), 5_000),
        "yuyao",
    )
    body = _move("transfer", ctl.acc("yuyao_dye", "holding"), ctl.acc("yuyao_chem", "holding"), 5_000, Y_LOT)
    ctl.submit(body, "yuyao_dye")
    with Session(ctl.engine) as s:
        held = {b.account: b.total for b in balances(s) if b.instrument == "COD"}
    assert held[ctl.acc("yuyao_chem", "holding")] == 45_000


def test_a_bureaus_allocation_above_its_threshold_needs_two_of_its_users(ctl: Typed) -> None:
    bureau = ctl.party("yuyao")
    ctl.submit(
        controls(
            "yuyao",
            ctl,
            users={"zhang": "clerk", "zhao": "approver"},
            four_eyes_kg={"allocation.initial": 5_000},
        ),
        "yuyao",
    )
    big = _move("allocation.initial", ctl.acc("yuyao", "reserve"), ctl.acc("yuyao_dye", "holding"), 6_000)
    assert (
        ctl.refused(replace(big, meta={"approved_by": {bureau: ["zhang"]}}), "yuyao").code
        == "four_eyes_required"
    )
    seq, lines = ctl.forged(replace(big, meta={"approved_by": {bureau: ["zhang"]}}), "yuyao")
    assert replay_failure(ctl, lines) == (seq, "four_eyes_required")
    ctl.submit(replace(big, meta={"approved_by": {bureau: ["zhang", "zhao"]}}), "yuyao")
    small = _move("allocation.initial", ctl.acc("yuyao", "reserve"), ctl.acc("yuyao_dye", "holding"), 4_000)
    ctl.submit(small, "yuyao")  # under the threshold: the bureau's signature alone, as before
