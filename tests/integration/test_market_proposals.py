"""The one proposal model (market.proposals) on SQLite and PostgreSQL: required signers sign in any
order and the proposal applies exactly once, at the last signature; expiry, withdrawal by the
proposer, rejection by a signer who has not signed; a user excluded from a slot cannot fill it; a
refusal when applying leaves the proposal pending and writes nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.errors import PermissionDenied
from ledger.errors import FourEyesRequired, InsufficientBalance, InvalidInput
from ledger.model import Lot, Posting, TxBody
from ledger.service import Registry, head_size
from market.consent import Consent
from market.proposals import service as proposals
from market.proposals.errors import ProposalClosed, ProposalOutOfOrder, UnknownProposal
from market.proposals.model import Proposal, ProposalStatus, SignerSlot
from market.proposals.service import Applied, ProposalKind, register
from tests.integration.test_market_auctions_world import T0, World

SIGNERS = ("yuyao", "yuyao_dye", "ningbo_petro")  # three parties whose signatures a test proposal needs
applied: list[str] = []  # the ids the test kinds applied, in order
_seq = itertools.count(1_000)


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody:
    """A body the signers sign (never submitted: the test kind records nothing in the journal)."""
    lot = Lot(jurisdiction="330281")
    return TxBody(
        "transfer",
        str(terms["nonce"]),
        (Posting("a.holding", "COD", lot, -1), Posting("b.holding", "COD", lot, 1)),
    )


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    if proposal.body is not None:  # every signer's signature, kept and verified
        assert len(given.signatures) == len(proposal.signers)
    if proposal.terms.get("refuse"):
        raise InsufficientBalance("refused when applied", account="a.holding")
    applied.append(proposal.id)
    return Applied(next(_seq), proposal.id)


KIND = register(ProposalKind("test.signed", _draft, _apply, lifetime=timedelta(hours=1)))
UNSIGNED = register(ProposalKind("test.users", lambda s, t: None, _apply))


def _propose(w: World, s: Session, nonce: str, **terms: Any) -> Proposal:
    return proposals.propose(
        s,
        kind=KIND.name,
        actor=w.p("yuyao_chem"),
        terms={"nonce": nonce, **terms},
        signers=[SignerSlot(w.party(a)) for a in SIGNERS],
        now=T0,
    )


def _sign(w: World, s: Session, alias: str, proposal_id: str, minutes: int = 1) -> proposals.Signed:
    return proposals.sign(
        s,
        registry=w.registry,
        actor=w.p(alias),
        proposal_id=proposal_id,
        signed_by=Consent(w.keys_of(alias)),
        now=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def sess(engine: Engine, registry: Registry) -> Iterator[tuple[World, Session]]:
    world = World.create(engine, registry)
    with Session(engine) as s:
        yield world, s


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(SIGNERS))
def test_signers_sign_in_any_order_and_it_applies_exactly_once_at_the_last(
    sess: tuple[World, Session], order: list[str]
) -> None:
    w, s = sess
    made = _propose(w, s, f"n-{next(_seq)}")
    assert made.status is ProposalStatus.PENDING
    for i, alias in enumerate(order):
        done = _sign(w, s, alias, made.id, minutes=i + 1)
        last = i == len(order) - 1
        assert (done.applied is not None) is last
        assert applied.count(made.id) == (1 if last else 0)
    final = proposals.get_proposal(s, actor=w.p("yuyao"), proposal_id=made.id, now=T0)
    assert final.status is ProposalStatus.APPLIED
    assert final.record_seq is not None
    assert [x.party for x in final.signatures] == [w.party(a) for a in SIGNERS]
    for alias in order:  # nobody can sign, reject or withdraw it again
        with pytest.raises(ProposalClosed):
            _sign(w, s, alias, made.id)
    assert applied.count(made.id) == 1


def test_a_signer_signs_once_and_only_parties_of_the_proposal_see_it(sess: tuple[World, Session]) -> None:
    w, s = sess
    made = _propose(w, s, "n-once")
    _sign(w, s, "yuyao", made.id)
    with pytest.raises(PermissionDenied):  # its slot is filled: a second signature is not another's
        _sign(w, s, "yuyao", made.id)
    with pytest.raises(UnknownProposal):
        proposals.get_proposal(s, actor=w.p("ningbo"), proposal_id=made.id, now=T0)
    awaiting = proposals.proposals_of(s, actor=w.p("yuyao_dye"), now=T0, awaiting=True)
    assert [p.id for p in awaiting] == [made.id]
    assert proposals.proposals_of(s, actor=w.p("yuyao"), now=T0, awaiting=True) == []


def test_a_proposal_lapses_at_its_expiry(sess: tuple[World, Session]) -> None:
    w, s = sess
    made = _propose(w, s, "n-lapse")
    assert made.expires_at == T0 + timedelta(hours=1)
    _sign(w, s, "yuyao", made.id, minutes=59)
    with pytest.raises(ProposalClosed):
        _sign(w, s, "yuyao_dye", made.id, minutes=60)
    later = T0 + timedelta(hours=2)
    seen = proposals.get_proposal(s, actor=w.p("yuyao_chem"), proposal_id=made.id, now=later)
    assert seen.status is ProposalStatus.EXPIRED
    assert proposals.proposals_of(s, actor=w.p("yuyao_dye"), now=later, awaiting=True) == []
    expired = proposals.proposals_of(s, actor=w.p("yuyao_chem"), now=later, status=ProposalStatus.EXPIRED)
    assert [p.id for p in expired] == [made.id]
    assert proposals.proposals_of(s, actor=w.p("yuyao_chem"), now=later, status=ProposalStatus.PENDING) == []
    assert made.id not in applied


def test_only_the_proposer_withdraws_and_a_withdrawn_proposal_takes_no_signature(
    sess: tuple[World, Session],
) -> None:
    w, s = sess
    made = _propose(w, s, "n-withdraw")
    with pytest.raises(InvalidInput):
        proposals.withdraw(s, actor=w.p("yuyao"), proposal_id=made.id, now=T0)
    out = proposals.withdraw(s, actor=w.p("yuyao_chem"), proposal_id=made.id, now=T0)
    assert (out.status, out.decided_party) == (ProposalStatus.WITHDRAWN, w.party("yuyao_chem"))
    with pytest.raises(ProposalClosed):
        _sign(w, s, "yuyao", made.id)


def test_a_signer_who_has_not_signed_rejects_one_who_signed_cannot(sess: tuple[World, Session]) -> None:
    w, s = sess
    made = _propose(w, s, "n-reject")
    _sign(w, s, "yuyao", made.id)
    with pytest.raises(PermissionDenied):
        proposals.reject(s, actor=w.p("yuyao"), proposal_id=made.id, now=T0)
    with pytest.raises(PermissionDenied):  # the proposer is no signer here: it withdraws instead
        proposals.reject(s, actor=w.p("yuyao_chem"), proposal_id=made.id, now=T0)
    out = proposals.reject(s, actor=w.p("yuyao_dye"), proposal_id=made.id, now=T0)
    assert (out.status, out.decided_party) == (ProposalStatus.REJECTED, w.party("yuyao_dye"))
    with pytest.raises(ProposalClosed):
        _sign(w, s, "ningbo_petro", made.id)
    assert made.id not in applied


def test_the_excluded_user_cannot_fill_the_slot_another_user_can(sess: tuple[World, Session]) -> None:
    w, s = sess
    chem = w.p("yuyao_chem")
    made = proposals.propose(
        s,
        kind=UNSIGNED.name,
        actor=chem,
        terms={"nonce": "n-users"},
        signers=[SignerSlot(chem.party, excluded_user="alice")],
        now=T0,
        user="alice",
    )
    assert [
        p.id for p in proposals.proposals_of(s, actor=chem, now=T0, awaiting=True, awaiting_user="bob")
    ] == [made.id]
    assert proposals.proposals_of(s, actor=chem, now=T0, awaiting=True, awaiting_user="alice") == []
    with pytest.raises(FourEyesRequired):
        proposals.sign(
            s, registry=w.registry, actor=chem, proposal_id=made.id, signed_by=Consent(), now=T0, user="alice"
        )
    with pytest.raises(FourEyesRequired):
        proposals.reject(s, actor=chem, proposal_id=made.id, now=T0, user="alice")
    done = proposals.sign(
        s, registry=w.registry, actor=chem, proposal_id=made.id, signed_by=Consent(), now=T0, user="bob"
    )
    assert done.applied is not None
    assert (done.proposal.approvers, done.proposal.decided_by) == (("bob",), "bob")


def test_a_refusal_when_the_last_signature_applies_leaves_the_proposal_pending(
    sess: tuple[World, Session],
) -> None:
    w, s = sess
    made = _propose(w, s, "n-refused", refuse=True)
    _sign(w, s, "yuyao", made.id)
    _sign(w, s, "yuyao_dye", made.id)
    records = head_size(s)
    with pytest.raises(InsufficientBalance):
        _sign(w, s, "ningbo_petro", made.id)
    after = proposals.get_proposal(s, actor=w.p("ningbo_petro"), proposal_id=made.id, now=T0)
    assert after.status is ProposalStatus.PENDING
    assert [x.signed for x in after.signers] == [True, True, False]
    assert head_size(s) == records
    assert made.id not in applied


signed_steps: list[tuple[str, str]] = []  # (proposal, party) of each signature that did not apply it
ORDERED = register(
    ProposalKind(
        "test.ordered", _draft, _apply, on_sign=lambda s, p, actor: signed_steps.append((p.id, actor.party))
    )
)


def _ordered(w: World, s: Session, nonce: str) -> Proposal:
    """yuyao and yuyao_dye in any order; ningbo_petro only after yuyao_dye (as a bureau after a buyer)."""
    slots = [
        SignerSlot(w.party("yuyao")),
        SignerSlot(w.party("yuyao_dye")),
        SignerSlot(w.party("ningbo_petro"), after=(1,)),
    ]
    return proposals.propose(
        s, kind=ORDERED.name, actor=w.p("yuyao_chem"), terms={"nonce": nonce}, signers=slots, now=T0
    )


def test_a_slot_after_another_waits_for_its_signature_to_sign_but_not_to_reject(
    sess: tuple[World, Session],
) -> None:
    w, s = sess
    made = _ordered(w, s, "n-ordered")
    assert [x.after for x in made.signers] == [(), (), (1,)]
    assert proposals.proposals_of(s, actor=w.p("ningbo_petro"), now=T0, awaiting=True) == []
    with pytest.raises(ProposalOutOfOrder) as err:
        _sign(w, s, "ningbo_petro", made.id)
    assert err.value.details["awaiting"] == [w.party("yuyao_dye")]
    unchanged = proposals.get_proposal(s, actor=w.p("yuyao_chem"), proposal_id=made.id, now=T0)
    assert [x.signed for x in unchanged.signers] == [False, False, False]
    _sign(w, s, "yuyao", made.id)  # a slot without ``after`` keeps any order
    _sign(w, s, "yuyao_dye", made.id, minutes=2)
    assert signed_steps[-2:] == [(made.id, w.party("yuyao")), (made.id, w.party("yuyao_dye"))]
    assert [p.id for p in proposals.proposals_of(s, actor=w.p("ningbo_petro"), now=T0, awaiting=True)] == [
        made.id
    ]
    done = _sign(w, s, "ningbo_petro", made.id, minutes=3)
    assert done.applied is not None
    assert (done.proposal.decided_party, signed_steps.count((made.id, w.party("ningbo_petro")))) == (
        w.party("ningbo_petro"),
        0,  # the signature that applies it is the kind's apply, not a step
    )
    other = _ordered(w, s, "n-ordered-reject")
    out = proposals.reject(s, actor=w.p("ningbo_petro"), proposal_id=other.id, now=T0)
    assert out.status is ProposalStatus.REJECTED


def test_a_slot_may_wait_only_for_earlier_slots(sess: tuple[World, Session]) -> None:
    w, s = sess
    for after in ((2,), (1,), (-1,)):  # a later slot, itself, no slot at all
        with pytest.raises(InvalidInput):
            proposals.propose(
                s,
                kind=ORDERED.name,
                actor=w.p("yuyao_chem"),
                terms={"nonce": f"n-bad-{after}"},
                signers=[
                    SignerSlot(w.party("yuyao")),
                    SignerSlot(w.party("yuyao_dye"), after=after),
                    SignerSlot(w.party("ningbo_petro")),
                ],
                now=T0,
            )
