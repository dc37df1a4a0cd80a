"""Four-eyes workflows (market.foureyes, accounts.users): named users with their own keys, a transfer
above the party's threshold waiting for a second user, trusted-list additions after the delay, a
removal at once; the journal names both users and replays clean. Both engines."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.credentials import verify_token
from accounts.users import NotAdministrator, add_user, set_controls
from ledger import errors
from ledger.journal import parse_line
from ledger.model import Lot, Posting, TxBody
from ledger.service import (
    Instruction,
    balances,
    controls_of,
    head_size,
    journal_lines,
    new_nonce,
    replay_database,
    submit,
)
from market.foureyes import service as foureyes
from market.foureyes.allocation import allocate_or_propose
from tests.browser.world import VALID_UNTIL, ConsoleWorld, build_world

LOT = Lot(jurisdiction="330281", valid_until=VALID_UNTIL)


@pytest.fixture
def fw(engine: Engine) -> ConsoleWorld:
    w = build_world(engine)
    yuyao, chem = w.demo["yuyao"], w.demo["yuyao_chem"]
    body = TxBody(
        "allocation.initial",
        new_nonce(),
        (
            Posting(f"{yuyao.party}.reserve", "COD", LOT, -15_000),
            Posting(f"{chem.party}.holding", "COD", LOT, 15_000),
        ),
    )
    with Session(engine) as s:
        submit(s, Instruction.signed(body, (yuyao.party, yuyao.key)), registry=w.registry)
        chem_p = chem.participant
        for user, role in (("alice", "clerk"), ("bob", "approver"), ("carol", "approver")):
            _, issued = add_user(
                s,
                registry=w.registry,
                vault=w.vault,
                actor=chem_p,
                acting_user=None,
                user_id=user,
                name=user,
                role=role,
            )
            w.tokens[f"chem_{user}"] = issued.token
        set_controls(s, registry=w.registry, vault=w.vault, actor=chem_p, four_eyes_kg={"transfer": 5_000})
        s.commit()
    return w


def _held(w: ConsoleWorld, alias: str) -> int:
    with Session(w.engine) as s:
        return sum(b.total for b in balances(s, account=f"{w.party(alias)}.holding") if b.instrument == "COD")


def _propose(w: ConsoleWorld, s: Session, user: str, kg: int) -> foureyes.Proposal | object:
    return foureyes.propose_transfer(
        s,
        registry=w.registry,
        vault=w.vault,
        actor=w.demo["yuyao_chem"].participant,
        user=user,
        to=f"{w.party('yuyao_dye')}.holding",
        instrument="COD",
        lot=LOT.key(),
        quantity_kg=kg,
    )


def test_a_users_key_authenticates_as_that_user_of_the_party(fw: ConsoleWorld) -> None:
    with Session(fw.engine) as s:
        who = verify_token(s, fw.tokens["chem_alice"])
        assert (who.participant.party, who.user) == (fw.party("yuyao_chem"), "alice")
        assert verify_token(s, fw.tokens["yuyao_chem"]).user is None
        with pytest.raises(NotAdministrator):
            add_user(
                s,
                registry=fw.registry,
                vault=fw.vault,
                actor=fw.demo["yuyao_chem"].participant,
                acting_user="alice",
                user_id="dave",
                name="dave",
                role="approver",
            )


def test_a_transfer_above_the_threshold_waits_for_a_second_user_then_applies(fw: ConsoleWorld) -> None:
    chem = fw.demo["yuyao_chem"].participant
    with Session(fw.engine) as s:
        proposal = _propose(fw, s, "alice", 8_000)
        s.commit()
    assert isinstance(proposal, foureyes.Proposal)
    assert _held(fw, "yuyao_dye") == 0
    with Session(fw.engine) as s:
        assert [p.id for p in foureyes.to_do(s, actor=chem, user="bob", now=fw.clock())] == [proposal.id]
        assert foureyes.to_do(s, actor=chem, user="alice", now=fw.clock()) == []
        with pytest.raises(errors.FourEyesRequired):  # the second user cannot be the first
            foureyes.approve(
                s, registry=fw.registry, vault=fw.vault, actor=chem, user="alice", proposal_id=proposal.id
            )
        receipt = foureyes.approve(
            s, registry=fw.registry, vault=fw.vault, actor=chem, user="bob", proposal_id=proposal.id
        )
        s.commit()
    assert _held(fw, "yuyao_dye") == 8_000
    with Session(fw.engine) as s:
        record = parse_line(list(journal_lines(s))[receipt.seq])
        assert record.body["meta"]["approved_by"] == {fw.party("yuyao_chem"): ["alice", "bob"]}
        report, _diff = replay_database(s)
        assert report.ok, report.failure
        with pytest.raises(foureyes.ProposalClosed):
            foureyes.approve(
                s, registry=fw.registry, vault=fw.vault, actor=chem, user="carol", proposal_id=proposal.id
            )


def test_under_the_threshold_one_user_transfers_at_once_and_proposals_can_be_withdrawn_or_rejected(
    fw: ConsoleWorld,
) -> None:
    chem = fw.demo["yuyao_chem"].participant
    with Session(fw.engine) as s:
        assert not isinstance(_propose(fw, s, "alice", 5_000), foureyes.Proposal)
        first, second = _propose(fw, s, "alice", 6_000), _propose(fw, s, "alice", 7_000)
        assert isinstance(first, foureyes.Proposal)
        assert isinstance(second, foureyes.Proposal)
        with pytest.raises(errors.InvalidInput):
            foureyes.withdraw(s, actor=chem, user="bob", proposal_id=first.id, now=fw.clock())
        foureyes.withdraw(s, actor=chem, user="alice", proposal_id=first.id, now=fw.clock())
        foureyes.reject(s, actor=chem, user="bob", proposal_id=second.id, now=fw.clock())
        statuses = {p.id: p.status for p in foureyes.proposals_of(s, actor=chem, now=fw.clock())}
        s.commit()
    assert statuses == {first.id: "withdrawn", second.id: "rejected"}
    assert _held(fw, "yuyao_dye") == 5_000


def test_a_trusted_addition_takes_effect_after_the_delay_and_a_removal_at_once(fw: ConsoleWorld) -> None:
    chem = fw.demo["yuyao_chem"].participant
    dye = f"{fw.party('yuyao_dye')}.holding"
    with Session(fw.engine) as s:
        set_controls(
            s,
            registry=fw.registry,
            vault=fw.vault,
            actor=chem,
            trusted_list=True,
            approved_by=("alice", "bob"),
        )
        proposal = foureyes.propose_trust(s, registry=fw.registry, actor=chem, user="alice", account=dye)
        foureyes.approve(
            s, registry=fw.registry, vault=fw.vault, actor=chem, user="bob", proposal_id=proposal.id
        )
        s.commit()
    with Session(fw.engine) as s, pytest.raises(errors.AccountNotTrusted):
        _propose(fw, s, "alice", 1_000)
    fw.clock.advance(timedelta(days=7))  # past 4 working days, whatever weekday the test runs on
    with Session(fw.engine) as s:
        _propose(fw, s, "alice", 1_000)
        foureyes.remove_trusted(
            s, registry=fw.registry, vault=fw.vault, actor=chem, user="carol", account=dye
        )
        s.commit()
    with Session(fw.engine) as s, pytest.raises(errors.AccountNotTrusted):
        _propose(fw, s, "alice", 1_000)
    assert _held(fw, "yuyao_dye") == 1_000


def test_a_bureau_allocation_above_its_threshold_waits_for_a_second_user_then_applies(
    fw: ConsoleWorld,
) -> None:
    """Issue #18: an allocation above the bureau's threshold is a proposal, not a refusal."""
    bureau = fw.demo["yuyao"].participant
    with Session(fw.engine) as s:
        for user, role in (("wang", "clerk"), ("li", "approver")):
            add_user(
                s,
                registry=fw.registry,
                vault=fw.vault,
                actor=bureau,
                acting_user=None,
                user_id=user,
                name=user,
                role=role,
            )
        limits = {"allocation.major_project": 1_000}
        set_controls(s, registry=fw.registry, vault=fw.vault, actor=bureau, four_eyes_kg=limits)
        s.commit()
    before = _held(fw, "yuyao_dye")

    def allocate(s: Session, kg: int) -> object:
        return allocate_or_propose(
            s,
            registry=fw.registry,
            vault=fw.vault,
            actor=bureau,
            user="wang",
            enterprise=fw.party("yuyao_dye"),
            instrument="COD",
            quantity_kg=kg,
            valid_until=VALID_UNTIL,
            purpose="major_project",
            project="扩建项目",
        )

    with Session(fw.engine) as s:
        assert not isinstance(allocate(s, 1_000), foureyes.Proposal)  # at the threshold: at once
        waiting = allocate(s, 2_500)
        s.commit()
    assert isinstance(waiting, foureyes.Proposal)
    assert _held(fw, "yuyao_dye") == before + 1_000
    with Session(fw.engine) as s:
        assert [p.id for p in foureyes.to_do(s, actor=bureau, user="li", now=fw.clock())] == [waiting.id]
        with pytest.raises(errors.FourEyesRequired):
            foureyes.approve(
                s, registry=fw.registry, vault=fw.vault, actor=bureau, user="wang", proposal_id=waiting.id
            )
        receipt = foureyes.approve(
            s, registry=fw.registry, vault=fw.vault, actor=bureau, user="li", proposal_id=waiting.id
        )
        s.commit()
    assert _held(fw, "yuyao_dye") == before + 3_500
    with Session(fw.engine) as s:
        record = parse_line(list(journal_lines(s))[receipt.seq])
        assert record.body["action"] == "allocation.major_project"
        assert record.body["meta"]["approved_by"] == {bureau.party: ["wang", "li"]}
        report, _diff = replay_database(s)
        assert report.ok, report.failure


def test_fifty_approvals_of_one_change_of_controls_at_once_apply_it_once(fw: ConsoleWorld) -> None:
    """A clerk proposes loosening the thresholds in force; two approvers press approve 25 times each,
    all at once: one controls.set record names the clerk and one approver, every other attempt is
    refused as closed, and the journal grows by exactly that record."""
    chem = fw.demo["yuyao_chem"].participant
    with Session(fw.engine) as s:
        looser = {"transfer": 9_000}
        proposal = foureyes.change_controls(
            s, registry=fw.registry, vault=fw.vault, actor=chem, user="alice", four_eyes_kg=looser
        )
        s.commit()
        before = head_size(s)
    assert isinstance(proposal, foureyes.Proposal)
    start = threading.Barrier(50)
    outcomes: list[str] = []

    def press(user: str) -> None:
        start.wait()
        with Session(fw.engine) as s:
            try:
                receipt = foureyes.approve(
                    s, registry=fw.registry, vault=fw.vault, actor=chem, user=user, proposal_id=proposal.id
                )
                s.commit()
                outcomes.append(f"applied {receipt.seq}")
            except errors.DomainError as exc:
                s.rollback()
                outcomes.append(exc.code)

    threads = [threading.Thread(target=press, args=(("bob", "carol")[i % 2],)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    counts = Counter(o.split(" ")[0] for o in outcomes)
    assert len(outcomes) == 50
    assert counts == {"applied": 1, "proposal_closed": 49}, counts
    with Session(fw.engine) as s:
        assert head_size(s) == before + 1
        assert dict(controls_of(s, party=chem.party).four_eyes_kg) == {"transfer": 9_000}  # type: ignore[union-attr]
        last = list(journal_lines(s))[-1]
        approved = parse_line(last).body["meta"]["approved_by"][chem.party]
        assert approved[0] == "alice"
        assert approved[1] in ("bob", "carol")
        report, diff = replay_database(s)
    assert report.ok, report.failure
    assert diff == {}
