"""Award payment as a proposal (支付成交价款, ``auction.payment``) on SQLite and PostgreSQL: the close opens
one per award with the bureau's slot signed; the winner's own signature over the drafted body (a
self-custody client through the generic proposal service) settles it; it lapses at the payment
deadline, when forfeiture takes over; an award without a bureau signature (recorded before the upgrade)
needs the bureau's before it settles."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from ledger.canonical import canonical_bytes
from ledger.errors import MissingSignature
from ledger.service import Registry, replay_database
from market.auctions import payment
from market.auctions import settlement as auction_settlement
from market.auctions.state import AwardStatus
from market.auctions.tables import AuctionAwardRow
from market.consent import Consent, sign_document
from market.proposals import service as proposals
from market.proposals.errors import ProposalClosed
from market.proposals.model import ProposalStatus
from market.proposals.tables import ProposalRow, ProposalSignerRow
from tests.integration.test_market_auctions_world import CLOSE, RESERVE_FEN_PER_T, World, minutes, terms

DUE = CLOSE + timedelta(days=5)  # the default payment window runs from the close


@pytest.fixture
def world(engine: Engine, registry: Registry) -> World:
    w = World.create(engine, registry)
    w.reserve(10_000)
    w.need("yuyao_chem", 2_000)
    w.need("yuyao_dye", 2_000)
    w.fund("yuyao_chem", 10_000_000)
    w.fund("yuyao_dye", 10_000_000)
    return w


def _closed(world: World) -> None:
    world.open(terms(quantity_kg=2_000))
    world.bid("yuyao_chem", RESERVE_FEN_PER_T, 1_000, minutes(5))
    world.bid("yuyao_dye", RESERVE_FEN_PER_T, 1_000, minutes(6))
    world.run(
        auction_settlement.close_auction,
        actor=world.p("yuyao"),
        auction_id="A1",
        now=CLOSE,
        signed_by=Consent(world.keys_of("yuyao")),
    )


def _proposal_id(world: World, alias: str) -> str:
    with Session(world.engine) as s:
        row = s.get(AuctionAwardRow, ("A1", world.party(alias)))
        assert row is not None
        assert row.payment_proposal is not None
        return row.payment_proposal


def test_the_close_opens_a_payment_proposal_per_award_the_bureau_signed_lapsing_at_the_deadline(
    world: World,
) -> None:
    _closed(world)
    chem = world.party("yuyao_chem")
    with Session(world.engine) as s:
        found = proposals.proposals_of(s, actor=world.p("yuyao_chem"), now=CLOSE, awaiting=True)
    (mine,) = found  # the other winner's is not shown to this one
    assert mine.id == _proposal_id(world, "yuyao_chem")
    assert (mine.kind, mine.party, mine.expires_at) == (payment.PAYMENT, world.party("yuyao"), DUE)
    assert [(s.party, s.signed) for s in mine.signers] == [(world.party("yuyao"), True), (chem, False)]
    assert mine.terms["amount_fen"] == RESERVE_FEN_PER_T  # 1 t at the reserve price
    assert mine.body is not None
    assert mine.body.action == "auction.settle"


def test_a_winner_pays_with_its_own_signature_through_the_generic_proposal_sign(world: World) -> None:
    _closed(world)
    pid = _proposal_id(world, "yuyao_chem")
    at = CLOSE + timedelta(hours=1)
    with Session(world.engine) as s:
        body = proposals.get_proposal(s, actor=world.p("yuyao_chem"), proposal_id=pid, now=at).body
    assert body is not None
    own = sign_document(body, world.party("yuyao_chem"), world.people["yuyao_chem"].key)
    done = world.run(
        proposals.sign, actor=world.p("yuyao_chem"), proposal_id=pid, signed_by=Consent.given([own]), now=at
    )
    assert done.applied is not None
    assert done.proposal.status is ProposalStatus.APPLIED
    result = world.auction().result
    assert result is not None
    chem, dye = result.award(world.party("yuyao_chem")), result.award(world.party("yuyao_dye"))
    assert chem is not None
    assert dye is not None
    assert (chem.status, chem.done_seq) == (AwardStatus.SETTLED, done.applied.seq)
    assert dye.status is AwardStatus.PENDING
    with Session(world.engine) as s:
        report, _ = replay_database(s)
    assert report.ok, report.failure


def test_after_the_deadline_the_proposal_has_lapsed_and_the_deposit_is_forfeit(world: World) -> None:
    _closed(world)
    pid = _proposal_id(world, "yuyao_dye")
    with pytest.raises(ProposalClosed):
        world.run(proposals.sign, actor=world.p("yuyao_dye"), proposal_id=pid, now=DUE)
    forfeited = world.run(
        auction_settlement.forfeit_award,
        actor=world.p("yuyao"),
        auction_id="A1",
        bidder=world.party("yuyao_dye"),
        now=DUE,
    )
    assert forfeited.status is AwardStatus.FORFEITED
    with Session(world.engine) as s:
        lapsed = proposals.get_proposal(s, actor=world.p("yuyao_dye"), proposal_id=pid, now=DUE)
    assert lapsed.status is ProposalStatus.EXPIRED


def test_an_award_without_the_bureaus_signature_waits_for_it(world: World) -> None:
    _closed(world)
    chem, dye = world.party("yuyao_chem"), world.party("yuyao_dye")
    with Session(world.engine) as s:
        # chem's as revision 0018 leaves one: both slots open, the terms without the body
        pid = _proposal_id(world, "yuyao_chem")
        proposal = s.get(ProposalRow, pid)
        bureau_slot = s.get(ProposalSignerRow, (pid, 0))
        assert proposal is not None
        assert bureau_slot is not None
        terms = json.loads(proposal.terms)
        del terms["body"]
        proposal.terms = canonical_bytes(terms).decode()
        bureau_slot.signature = bureau_slot.signed_at = None
        # dye's as an award that has no proposal at all: one is opened when it is first settled
        row = s.get(AuctionAwardRow, ("A1", dye))
        assert row is not None
        row.payment_proposal = None
        s.add_all([proposal, bureau_slot, row])
        s.commit()
    at = CLOSE + timedelta(hours=1)
    for alias in ("yuyao_chem", "yuyao_dye"):
        with pytest.raises(MissingSignature) as err:
            world.run(
                auction_settlement.settle_award,
                actor=world.p(alias),
                auction_id="A1",
                bidder=world.party(alias),
                signed_by=Consent(world.keys_of(alias)),
                now=at,
            )
        assert err.value.details["missing"] == [world.party("yuyao")]
    settled = world.run(
        auction_settlement.settle_auction,
        actor=world.p("yuyao"),
        auction_id="A1",
        signed_by=Consent(world.keys_of("yuyao", "yuyao_chem", "yuyao_dye")),
        now=at,
    )
    assert {b: getattr(a, "status", a) for b, a in settled.items()} == {
        chem: AwardStatus.SETTLED,
        dye: AwardStatus.SETTLED,
    }
    with Session(world.engine) as s:
        report, _ = replay_database(s)
    assert report.ok, report.failure
