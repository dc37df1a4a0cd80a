"""Award payment (支付成交价款) as a proposal: each pending award is a proposal of kind ``auction.payment``
whose body is the award's settlement record (钱货两清), fixed by the result. The bureau consents when it
closes (its slot is signed then); the winner's signature, from the console's custody key or its own
client, is the last one and records the settlement. It lapses at the payment deadline, after which the
deposit is forfeit (``settlement.forfeit_award``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from accounts.model import Participant
from accounts.permissions import Action, authorize, party_target
from accounts.service import SessionDirectory, get_participant
from ledger.errors import DomainError, MissingSignature
from ledger.model import TxBody, parse_body
from ledger.service import Registry, lock_head_time
from ledger.timeutil import format_utc, parse_utc
from market.auctions.dvp import pending_award, record_award, settlement_body
from market.auctions.errors import AwardNotPending, PaymentOverdue
from market.auctions.state import Auction, Award, AwardStatus, authorize_bureau, aware, get_auction
from market.auctions.tables import AuctionAwardRow, AuctionRow
from market.consent import Consent
from market.proposals import service as proposals
from market.proposals.model import Proposal, SignerSlot
from market.proposals.service import Applied, ProposalKind, register

__all__ = ["PAYMENT", "open_payments", "payment_terms", "settle_auction", "settle_award"]

PAYMENT = "auction.payment"


def payment_terms(auction: Auction, award: Award, body: TxBody) -> dict[str, Any]:
    """Which award (auction and winner), what it is for the to-do list (the right and the price), and
    the settlement body the result fixes, kept so that reading a proposal costs one row."""
    return {
        "auction_id": auction.auction_id,
        "bidder": award.bidder,
        "instrument": auction.terms.instrument,
        "quantity_kg": award.quantity_kg,
        "amount_fen": award.amount_fen,
        "body": body.to_json(),
    }


def _draft(session: Session, terms: Mapping[str, Any]) -> TxBody | None:
    """The settlement body while the award is pending; none once it is settled or forfeited."""
    row = session.get(AuctionAwardRow, (terms["auction_id"], terms["bidder"]))
    if row is None or row.status != AwardStatus.PENDING.value:
        return None
    if "body" not in terms:  # opened by the upgrade (revision 0018): drawn up from the result now
        auction, award = pending_award(session, terms["auction_id"], terms["bidder"])
        return settlement_body(session, auction, award)
    body = parse_body(terms["body"], "terms.body")
    assert isinstance(body, TxBody)
    return body


def _apply(session: Session, registry: Registry, proposal: Proposal, given: Consent) -> Applied:
    """Both signatures in: the settlement record, the award settled; the ledger checks it all again."""
    auction_id, bidder = proposal.terms["auction_id"], proposal.terms["bidder"]
    row = session.get(AuctionAwardRow, (auction_id, bidder))
    auction = session.get(AuctionRow, auction_id)
    if row is None or auction is None or proposal.body is None or auction.payment_due is None:
        raise AwardNotPending(
            f"{bidder}'s award in auction {auction_id} is settled or forfeit", bidder=bidder
        )
    at = max(s.signed_at for s in proposal.signers if s.signed_at is not None)
    _check_due(auction_id, bidder, parse_utc(auction.payment_due), at)  # sign refuses a lapsed one first
    winner = get_participant(session, party=bidder)
    done = record_award(
        session, registry, winner, given, auction_id, bidder, proposal.body, AwardStatus.SETTLED
    )
    assert done.done_seq is not None
    return Applied(done.done_seq, done)


register(ProposalKind(PAYMENT, _draft, _apply))


def _check_due(auction_id: str, bidder: str, due: datetime, now: datetime) -> None:
    if now >= due:
        raise PaymentOverdue(
            f"payment was due before {format_utc(due)}; the deposit is forfeit",
            auction_id=auction_id,
            bidder=bidder,
        )


def _open(
    session: Session, actor: Participant, auction: Auction, award: Award, key: Consent | None, now: datetime
) -> str:
    """Store ``award``'s payment proposal, the bureau's slot signed when ``key`` holds its key."""
    assert auction.result is not None
    slots = (SignerSlot(auction.bureau), SignerSlot(award.bidder))
    made = proposals.propose(
        session,
        kind=PAYMENT,
        actor=actor,
        terms=payment_terms(auction, award, settlement_body(session, auction, award)),
        signers=slots,
        now=now,
        signed_by=key,
        expires_at=auction.result.payment_due,
    )
    row = session.get(AuctionAwardRow, (auction.auction_id, award.bidder))
    assert row is not None
    row.payment_proposal = made.id
    session.add(row)
    session.flush()
    return made.id


def open_payments(
    session: Session, *, actor: Participant, signed_by: Consent, auction_id: str, now: datetime
) -> None:
    """At the close: one payment proposal per award, the bureau (``actor``) consenting with the key it
    closed with (a bureau that signed the result with its own client signs its slots later).

    Not for a forced auction (拍卖处置): its settlement body splits the price by what the bank has
    recovered when the winner pays (``ledger.forced_sale``), so no body can be signed ahead; the bureau
    settles each winner with both signatures at once (``settle_award``)."""
    auction = get_auction(session, auction_id=auction_id)
    if auction.pledge is not None:
        return
    key = signed_by.keys.get(actor.party)
    mine = None if key is None else Consent.custody(actor.party, key)
    for award in () if auction.result is None else auction.result.awards:
        _open(session, actor, auction, award, mine, now)


def _proposal_of(session: Session, auction: Auction, award: Award, now: datetime) -> str:
    """The award's payment proposal; an award recorded before proposals existed gets one now."""
    if award.payment_proposal is not None:
        return award.payment_proposal
    bureau = get_participant(session, party=auction.bureau)
    return _open(session, bureau, auction, award, None, now)


def _pay(
    session: Session,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction: Auction,
    award: Award,
    now: datetime,
) -> Award:
    """Fill every open slot ``signed_by`` can fill (the bureau's, the winner's), in one savepoint; the
    last signature records the settlement. Refused, writing nothing, while a slot stays open. A forced
    auction's award is recorded at once, signed by both as it is drawn up (see ``open_payments``)."""
    if auction.pledge is not None:
        body = settlement_body(session, auction, award)
        settled = AwardStatus.SETTLED
        return record_award(
            session, registry, actor, signed_by, auction.auction_id, award.bidder, body, settled
        )
    proposal_id = _proposal_of(session, auction, award, now)
    with session.begin_nested():
        applied = None
        for party in (auction.bureau, award.bidder):
            key = signed_by.keys.get(party)
            mine = Consent(
                keys={party: key} if key is not None else {},
                signatures=tuple(s for s in signed_by.signatures if s.party == party),
            )
            signer = get_participant(session, party=party)
            found = proposals.get_proposal(
                session, actor=signer, proposal_id=proposal_id, now=now, kind=PAYMENT
            )
            if not (mine.keys or mine.signatures) or not found.awaits(party):
                continue
            done = proposals.sign(
                session,
                registry=registry,
                actor=signer,
                proposal_id=proposal_id,
                signed_by=mine,
                now=now,
                kind=PAYMENT,
            )
            applied = done.applied or applied
        if applied is None:
            found = proposals.get_proposal(
                session, actor=signer, proposal_id=proposal_id, now=now, kind=PAYMENT
            )
            missing = [s.party for s in found.signers if not s.signed]
            raise MissingSignature(
                f"settling needs the signature of {', '.join(missing)}", field="signed_by", missing=missing
            )
    assert isinstance(applied.result, Award)
    return applied.result


def _settle(
    session: Session,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction: Auction,
    award: Award,
    now: datetime,
) -> Award:
    if actor.party == award.bidder:
        authorize(actor, Action.BID, party_target(award.bidder, SessionDirectory(session)))
    else:
        authorize_bureau(actor, auction)
    assert auction.result is not None
    _check_due(auction.auction_id, award.bidder, auction.result.payment_due, now)
    return _pay(session, registry, actor, signed_by, auction, award, now)


def settle_award(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    bidder: str,
    now: datetime,
) -> Award:
    """Delivery versus payment (钱货两清) for one winner, in one ledger record (``auction.settle``),
    by signing the award's payment proposal.

    The rights leave the reserve by capturing the winner's award hold (placed at the close) and enter its
    holding account; the price (成交价 x quantity) leaves its cash, first by capturing its deposit
    (保证金) and then from free cash, into the bureau's cash; any deposit beyond the price is
    released. Both the bureau (the holds' controller) and the winner sign: all of it moves, or
    nothing. Rules: a pending award, before the payment deadline (afterwards the deposit is forfeit).
    Either party may act: the winner with its key or its own signature over the body
    ``settlement_draft`` shows; the bureau with the winner's key in custody. The bureau's signature is
    normally already in, given at the close.
    """
    now = aware(now)
    lock_head_time(session)
    auction, award = pending_award(session, auction_id, bidder)
    return _settle(session, registry, actor, signed_by, auction, award, now)


def settle_auction(
    session: Session,
    *,
    registry: Registry,
    actor: Participant,
    signed_by: Consent,
    auction_id: str,
    now: datetime,
) -> dict[str, Award | DomainError]:
    """The bureau settles every pending award, each in its own record and savepoint.

    A winner whose settlement is refused (it cannot pay the balance, or its key is not in ``keys``)
    is reported with the refusal and stays pending, to pay later or to forfeit after the deadline;
    the others settle regardless.
    """
    now = aware(now)
    lock_head_time(session)
    # One read of the auction for the whole run: each award is settled once, so the snapshot's
    # pending awards stay the ones to settle (re-reading it per winner made the run quadratic).
    auction = get_auction(session, auction_id=auction_id)
    authorize_bureau(actor, auction)
    pending = [] if auction.result is None else auction.result.awards
    out: dict[str, Award | DomainError] = {}
    for award in pending:
        if award.status is not AwardStatus.PENDING:
            continue
        try:
            out[award.bidder] = _settle(session, registry, actor, signed_by, auction, award, now)
        except DomainError as exc:
            out[award.bidder] = exc
    return out
