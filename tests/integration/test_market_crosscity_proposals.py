"""A cross-city request's settlement as a proposal (crosscity.settlement), on SQLite and PostgreSQL: the
seller's offer opens it, the buyer and the bureaus sign or reject it from the to-do list as from the
request's own steps, the bureaus only after the buyer, and every way a request ends releases its hold
and closes the proposal with it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from accounts.errors import PermissionDenied
from ledger.errors import InvalidInput
from ledger.model import Lot
from ledger.service import find_hold
from market.crosscity.service import (
    TransferRequest,
    TransferStatus,
    approve_transfer,
    expire_transfers,
    get_transfer,
    reject_transfer,
)
from market.crosscity.settlement import SETTLEMENT
from market.proposals import service as proposals
from market.proposals.errors import ProposalClosed, ProposalOutOfOrder
from market.proposals.model import Proposal, ProposalStatus
from tests.integration.test_market_crosscity import _accept, _need, _offer
from tests.integration.test_market_pledge import Desk

SELLER, BUYER = "zhoushan_ship", "ningbo_petro"


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk.create(engine)


def _offered(desk: Desk, kg: int = 1_000, *, hours: int = 48) -> tuple[Lot, TransferRequest]:
    lot = desk.grant("zhoushan", SELLER, kg)
    return lot, _offer(desk, _need(desk), lot, kg, hours=hours)


def _todo(desk: Desk, alias: str) -> list[Proposal]:
    with desk.session() as s:
        return proposals.proposals_of(s, actor=desk.p(alias), now=desk.clock(), awaiting=True)


def _proposal(desk: Desk, req: TransferRequest, alias: str = SELLER) -> Proposal:
    assert req.proposal_id is not None
    with desk.session() as s:
        return proposals.get_proposal(s, actor=desk.p(alias), proposal_id=req.proposal_id, now=desk.clock())


def _sign(desk: Desk, req: TransferRequest, alias: str) -> proposals.Signed:
    assert req.proposal_id is not None
    return desk.call(
        proposals.sign,
        actor=desk.p(alias),
        proposal_id=req.proposal_id,
        signed_by=desk.consent(alias),
        now=desk.clock(),
    )


def _read(desk: Desk, req: TransferRequest) -> TransferRequest:
    return desk.call(get_transfer, actor=desk.p(SELLER), request_id=req.id)


def test_the_offer_opens_the_settlement_proposal_with_the_sellers_signature_and_the_bodys_signers(
    desk: Desk,
) -> None:
    _, req = _offered(desk)
    found = _proposal(desk, req)
    assert (found.kind, found.party, found.status) == (SETTLEMENT, desk.party(SELLER), ProposalStatus.PENDING)
    assert found.expires_at == req.expires_at
    assert [(s.party, s.signed, s.after) for s in found.signers] == [
        (desk.party(SELLER), True, ()),
        (desk.party(BUYER), False, ()),
        ("bureau:330900", False, (1,)),
        ("bureau:330200", False, (1,)),
    ]
    assert found.body is not None
    assert set(found.body.signers) == {s.party for s in found.signers} == set(req.required_signers)
    assert req.signed_by == {desk.party(SELLER)}
    assert (found.terms["quantity_kg"], found.terms["amount_fen"]) == (req.delivered_kg, req.price_fen)


def test_buyer_and_bureaus_settle_it_from_the_to_do_list_the_bureaus_only_after_the_buyer(desk: Desk) -> None:
    lot, req = _offered(desk)
    assert [p.id for p in _todo(desk, BUYER)] == [req.proposal_id]
    assert _todo(desk, "ningbo") == []  # nothing for a bureau before the buyer has accepted
    before = desk.snapshot()
    with pytest.raises(ProposalOutOfOrder) as err:
        _sign(desk, req, "ningbo")
    assert err.value.details["awaiting"] == [desk.party(BUYER)]
    assert desk.snapshot() == before
    assert _read(desk, req).status is TransferStatus.OFFERED

    _sign(desk, req, BUYER)
    assert _read(desk, req).status is TransferStatus.ACCEPTED  # the kind keeps the request in step
    assert [p.id for p in _todo(desk, "ningbo")] == [req.proposal_id]
    assert [p.id for p in _todo(desk, "zhoushan")] == [req.proposal_id]
    assert _sign(desk, req, "ningbo").applied is None
    size = desk.journal_size()
    done = _sign(desk, req, "zhoushan")
    assert done.applied is not None
    assert desk.journal_size() == size + 1
    settled = _read(desk, req)
    assert (settled.status, settled.settled_seq) == (TransferStatus.SETTLED, done.applied.seq)
    assert settled.signed_by == set(req.required_signers)
    assert desk.position(f"{desk.party(SELLER)}.holding", lot) == (0, 0)
    assert desk.position(
        f"{desk.party(BUYER)}.holding", Lot(jurisdiction="330200", valid_until=lot.valid_until)
    ) == (
        1_000,
        0,
    )
    final = _proposal(desk, req, "zhoushan")
    assert (final.status, final.record_seq, final.decided_party) == (
        ProposalStatus.APPLIED,
        done.applied.seq,
        "bureau:330900",
    )


def test_a_rejection_from_the_to_do_list_releases_the_hold_and_marks_the_request(desk: Desk) -> None:
    lot, req = _offered(desk)
    held = desk.position(f"{desk.party(SELLER)}.holding", lot)
    assert held == (1_000, 1_000)
    assert req.proposal_id is not None
    with pytest.raises(PermissionDenied):  # the seller signed: it withdraws, it does not reject
        desk.call(proposals.reject, actor=desk.p(SELLER), proposal_id=req.proposal_id, now=desk.clock())
    # A bureau may turn it down before the buyer has accepted (only signing waits for the buyer).
    out = desk.call(proposals.reject, actor=desk.p("ningbo"), proposal_id=req.proposal_id, now=desk.clock())
    assert (out.status, out.decided_party) == (ProposalStatus.REJECTED, "bureau:330200")
    closed = _read(desk, req)
    assert (closed.status, closed.closed_by, closed.reason) == (
        TransferStatus.REJECTED,
        "bureau:330200",
        "rejected",
    )
    assert desk.position(f"{desk.party(SELLER)}.holding", lot) == (1_000, 0)
    with desk.session() as s:
        hold = find_hold(s, hold=f"xfer.{req.id}")
    assert hold is not None
    assert hold.status == "released"


def test_the_seller_withdraws_from_the_to_do_list_and_the_hold_is_released(desk: Desk) -> None:
    lot, req = _offered(desk)
    assert req.proposal_id is not None
    out = desk.call(proposals.withdraw, actor=desk.p(SELLER), proposal_id=req.proposal_id, now=desk.clock())
    assert out.status is ProposalStatus.WITHDRAWN
    closed = _read(desk, req)
    assert (closed.status, closed.closed_by, closed.reason) == (
        TransferStatus.REJECTED,
        desk.party(SELLER),
        "withdrawn",
    )
    assert desk.position(f"{desk.party(SELLER)}.holding", lot) == (1_000, 0)


def test_without_the_registry_a_close_is_refused_and_nothing_changes(desk: Desk) -> None:
    lot, req = _offered(desk)
    assert req.proposal_id is not None
    before = desk.snapshot()
    with Session(desk.engine) as s:
        with pytest.raises(InvalidInput):  # e.g. a four-eyes route, which has no registry to hand
            proposals.reject(s, actor=desk.p(BUYER), proposal_id=req.proposal_id, now=desk.clock())
        # the refusal came before anything was written: the session has nothing of it to commit
        s.commit()
    assert desk.snapshot() == before
    assert _read(desk, req).status is TransferStatus.OFFERED
    assert _proposal(desk, req).status is ProposalStatus.PENDING
    assert desk.position(f"{desk.party(SELLER)}.holding", lot) == (1_000, 1_000)


def test_the_requests_own_reject_closes_its_proposal_whoever_rejects(desk: Desk) -> None:
    # the buyer before signing: its slot rejects; the seller: it withdraws; the buyer after accepting
    # (no slot left to reject with): the workflow ends the proposal and releases the hold itself
    cases = (
        ("before", BUYER, ProposalStatus.REJECTED),
        ("seller", SELLER, ProposalStatus.WITHDRAWN),
        ("after", BUYER, ProposalStatus.WITHDRAWN),
    )
    for when, who, status in cases:
        lot, req = _offered(desk)
        if when == "after":
            req = _accept(desk, req)
        out = desk.call(reject_transfer, actor=desk.p(who), request_id=req.id, reason="项目调整")
        assert (out.status, out.closed_by, out.reason) == (
            TransferStatus.REJECTED,
            desk.party(who),
            "项目调整",
        )
        assert _proposal(desk, req).status is status, when
        assert desk.position(f"{desk.party(SELLER)}.holding", lot)[1] == 0, when
        with pytest.raises(ProposalClosed):
            _sign(desk, req, "ningbo")


def test_the_expiry_sweep_releases_the_hold_and_the_proposal_has_lapsed_with_the_request(desk: Desk) -> None:
    lot, req = _offered(desk, hours=24)
    _accept(desk, req)
    desk.clock.advance(hours=25)
    with pytest.raises(ProposalClosed):  # lapsed with the request: the to-do list cannot sign it either
        _sign(desk, req, "ningbo")
    assert _todo(desk, "ningbo") == []
    (expired,) = desk.call(expire_transfers)
    assert expired.status is TransferStatus.EXPIRED
    assert expired.signed_by == {desk.party(SELLER), desk.party(BUYER)}
    assert _proposal(desk, req).status is ProposalStatus.EXPIRED
    assert desk.position(f"{desk.party(SELLER)}.holding", lot) == (1_000, 0)


def test_the_requests_own_approve_and_the_to_do_list_fill_the_same_slots(desk: Desk) -> None:
    _, req = _offered(desk)
    req = _accept(desk, req)
    req = desk.call(
        approve_transfer, actor=desk.p("ningbo"), request_id=req.id, signed_by=desk.consent("ningbo")
    )
    assert [p.id for p in _todo(desk, "ningbo")] == []
    with pytest.raises(PermissionDenied):  # its slot is filled
        _sign(desk, req, "ningbo")
    assert _sign(desk, req, "zhoushan").applied is not None
    assert _read(desk, req).status is TransferStatus.SETTLED
